"""UNIDIRECTIONAL_SEQUENCE_LSTM in the IR: operand order, sizes and the structure checks of verify().

IR operands (13): the int8 input sequence, the four input-to-gate weights (S x I), the four recurrent weights
(S x S) and the four int32 gate biases (S), each group in gate order input, forget, cell, output. This is the
TFLite operand order with the optional peephole, projection, state and layer-norm operands left out (TFLM runs
only the standard LSTM a Keras layer converts to). The input is [T, B, I] when time-major, else [B, T, I]; the
output is the hidden state of every step, [T, B, S] or [B, T, S].
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import TinyMLError
from .graph import Graph, Op, Tensor
from .ops import LstmAttrs

GATES = ("input", "forget", "cell", "output")
N_OPERANDS = 13
INPUT_WEIGHTS = slice(1, 5)
RECURRENT_WEIGHTS = slice(5, 9)
BIASES = slice(9, 13)


@dataclass(frozen=True, slots=True)
class LstmSizes:
    time_steps: int
    batches: int
    input_size: int
    state_size: int
    time_major: bool


def lstm_sizes(graph: Graph, op: Op) -> LstmSizes:
    x = graph.tensor(op.inputs[0])
    w = graph.tensor(op.inputs[1])
    a = op.attrs
    assert isinstance(a, LstmAttrs)
    t, b = (x.shape[0], x.shape[1]) if a.time_major else (x.shape[1], x.shape[0])
    return LstmSizes(t, b, x.shape[2], w.shape[0], a.time_major)


def _fail(op: Op, msg: str) -> TinyMLError:
    return TinyMLError(f"{op.name} ({op.kind.value}): {msg}")


def lstm_shape(graph: Graph, op: Op, ins: tuple[Tensor | None, ...]) -> tuple[int, ...]:
    """Check every operand of an LSTM; return the output shape its input and weights give."""
    a = op.attrs
    assert isinstance(a, LstmAttrs)
    if len(ins) != N_OPERANDS or any(t is None for t in ins):
        raise _fail(
            op, f"needs {N_OPERANDS} operands (input, 8 weights, 4 biases), has {sum(t is not None for t in ins)}"
        )
    x = ins[0]
    assert x is not None
    if len(x.shape) != 3 or x.dtype != "int8" or x.quant is None:
        raise _fail(
            op, f"input '{x.name}' must be a quantized int8 [time, batch, features] tensor, is {x.dtype}{x.shape}"
        )
    features = x.shape[2]
    state = ins[1].shape[0] if ins[1] is not None and ins[1].shape else 0
    for j, t in enumerate(ins[1:9], start=1):
        assert t is not None
        want = (state, features) if j < 5 else (state, state)
        if not t.is_const or t.dtype != "int8" or t.shape != want:
            raise _fail(op, f"weights '{t.name}' must be constant int8 of shape {want}, are {t.dtype}{t.shape}")
        if t.quant is None or t.quant.per_channel or t.zero_point != 0:
            raise _fail(op, f"weights '{t.name}' need one scale and zero point 0 (TFLM's LSTM is per-tensor symmetric)")
    for t in ins[9:]:
        assert t is not None
        if not t.is_const or t.dtype != "int32" or t.shape != (state,):
            raise _fail(op, f"bias '{t.name}' must be constant int32 of shape ({state},), is {t.dtype}{t.shape}")
    if not -31 < a.cell_scale_power < 0:
        raise _fail(op, f"cell state scale 2^{a.cell_scale_power} is outside TFLM's range (2^-30 .. 2^-1)")
    if a.hidden_scale <= 0 or not -128 <= a.hidden_zero_point <= 127:
        raise _fail(
            op, f"hidden state quantization ({a.hidden_scale:g}, {a.hidden_zero_point}) is not a valid int8 one"
        )
    if a.cell_clip < 0:
        raise _fail(op, f"cell clip {a.cell_clip:g} is negative; 0 means no clipping")
    return (x.shape[0], x.shape[1], state)


def check_lstm_output(op: Op, y: Tensor) -> None:
    """The output holds copies of the hidden state, so it must carry the hidden state's quantization."""
    a = op.attrs
    assert isinstance(a, LstmAttrs)
    if y.dtype != "int8" or y.quant is None:
        raise _fail(op, f"output '{y.name}' must be quantized int8, is {y.dtype}")
    if abs(y.scale() - a.hidden_scale) > 1e-6 * a.hidden_scale or y.zero_point != a.hidden_zero_point:
        raise _fail(
            op,
            f"output '{y.name}' quantization ({y.scale():g}, {y.zero_point}) differs from the hidden state's "
            f"({a.hidden_scale:g}, {a.hidden_zero_point}); TFLM copies the hidden state into the output",
        )
