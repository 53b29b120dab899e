"""What a model's unsupported operators are, in detail: for each one its layers (operator index and output
tensor names) and what this toolchain supports instead. The one-line error names every unsupported operator with
its count (importers/tflite.py `unsupported_message`); these lines are its details (`tinyml ... --verbose`)."""

from __future__ import annotations

from collections.abc import Sequence

MAX_LAYERS_SHOWN = 8

# unsupported TFLite builtin -> what to use instead (supported operators or a conversion setting)
INSTEAD = {
    "LSTM": "convert the Keras LSTM layer with a recent TensorFlow: it becomes UNIDIRECTIONAL_SEQUENCE_LSTM",
    "BIDIRECTIONAL_SEQUENCE_LSTM": "two UNIDIRECTIONAL_SEQUENCE_LSTM (one on the reversed sequence) and CONCATENATION",
    "UNIDIRECTIONAL_SEQUENCE_RNN": "UNIDIRECTIONAL_SEQUENCE_LSTM, or FULLY_CONNECTED + TANH per step",
    "BIDIRECTIONAL_SEQUENCE_RNN": "UNIDIRECTIONAL_SEQUENCE_LSTM on each direction and CONCATENATION",
    "SVDF": "UNIDIRECTIONAL_SEQUENCE_LSTM or CONV_2D over time",
    "BATCH_MATMUL": "FULLY_CONNECTED (constant weights)",
    "GATHER": "STRIDED_SLICE or SPLIT when the indices are constant",
    "GATHER_ND": "STRIDED_SLICE or SPLIT when the indices are constant",
    "SQUEEZE": "RESHAPE",
    "EXPAND_DIMS": "RESHAPE",
    "MIRROR_PAD": "PAD",
    "SPACE_TO_BATCH_ND": "CONV_2D / DEPTHWISE_CONV_2D with dilation (keep dilation when converting)",
    "BATCH_TO_SPACE_ND": "CONV_2D / DEPTHWISE_CONV_2D with dilation (keep dilation when converting)",
    "REDUCE_MIN": "REDUCE_MAX of the input scaled by -1 (MUL)",
    "REDUCE_PROD": "SUM or MEAN",
    "DIV": "MUL by a constant reciprocal",
    "SQRT": "RSQRT followed by MUL",
    "GELU": "HARD_SWISH, or MUL by LOGISTIC(1.702 x)",
    "ELU": "LEAKY_RELU or PRELU",
    "RELU_N1_TO_1": "MINIMUM and MAXIMUM with constants",
    "RELU_0_TO_1": "RELU6 or MINIMUM and MAXIMUM with constants",
    "EXP": "SOFTMAX or LOG_SOFTMAX where it is part of one",
    "LOG": "LOG_SOFTMAX where it is part of one",
    "CONV_3D": "CONV_2D over the folded depth axis",
    "AVERAGE_POOL_3D": "AVERAGE_POOL_2D",
    "MAX_POOL_3D": "MAX_POOL_2D",
    "CAST": "a model quantized end to end (int8), with QUANTIZE/DEQUANTIZE only at its boundaries",
    "TILE": "CONCATENATION or PACK of the tensor with itself",
    "BROADCAST_TO": "ADD or MUL, which broadcast their operands",
    "SLICE": "STRIDED_SLICE",
    "ARG_MIN": "ARG_MAX of the input scaled by -1 (MUL)",
}
DEFAULT = "no equivalent here; see `tinyml inspect --ops` for what the toolchain runs"
CUSTOM = "custom operators cannot run: replace it with builtin operators or remove it from the model"


def unsupported_details(layers: Sequence[tuple[int, str, Sequence[str]]]) -> tuple[str, ...]:
    """One line per unsupported operator kind: its count, its layers (index and output tensors), what instead.
    `layers` holds (operator index, operator name, output tensor names) in model order."""
    by_kind: dict[str, list[tuple[int, Sequence[str]]]] = {}
    for index, kind, outs in layers:
        by_kind.setdefault(kind, []).append((index, outs))
    lines = []
    for kind, where in sorted(by_kind.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        shown = ", ".join(f"#{i} -> {', '.join(repr(o) for o in outs) or '?'}" for i, outs in where[:MAX_LAYERS_SHOWN])
        more = f" and {len(where) - MAX_LAYERS_SHOWN} more" if len(where) > MAX_LAYERS_SHOWN else ""
        instead = CUSTOM if kind.startswith("CUSTOM:") else INSTEAD.get(kind, DEFAULT)
        lines.append(f"{kind} \u00d7{len(where)}: operators {shown}{more}; instead: {instead}")
    return tuple(lines)
