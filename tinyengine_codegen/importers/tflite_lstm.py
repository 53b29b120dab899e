"""UNIDIRECTIONAL_SEQUENCE_LSTM options and operands → IR (see ir/lstm.py for the IR operand order).

TFLM runs the standard LSTM only: no peephole, projection or layer-norm operands, int8 input and weights, int16
cell state with a power-of-two scale, and a TANH cell gate. The hidden and cell state operands (18, 19) are
variable tensors; their quantization moves into the attributes and they start at zero in every inference.
"""

from __future__ import annotations

import math

from ..ir.ops import LstmAttrs
from .tflite_common import ModelError

# operands the IR keeps: input, 8 weights, 4 biases
KEEP = (0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 13, 14, 15)
STATE_INPUTS = (18, 19)
_VARIANTS = {"peephole": (9, 10, 11), "projection": (16, 17), "layer-norm": (20, 21, 22, 23)}
_TANH = 4


def convert_lstm(opts, tensors, outs):
    if len(tensors) != 24:
        raise ModelError(f"has {len(tensors)} inputs; TFLM's LSTM takes 24")
    for what, slots in _VARIANTS.items():
        if any(tensors[j] is not None for j in slots):
            raise ModelError(f"is an LSTM with {what} weights; TFLM runs only the standard LSTM (a Keras LSTM layer)")
    missing = [j for j in KEEP + STATE_INPUTS if tensors[j] is None]
    if missing:
        what = "the input gate (CIFG)" if missing[0] in (1, 5, 12) else f"operand {missing[0]}"
        raise ModelError(f"lacks {what}; TFLM runs only the standard LSTM with all four gates")
    if opts is None:
        raise ModelError("has no builtin options; the file is corrupt, re-export the model")
    act = int(getattr(opts, "fusedActivationFunction", 0) or 0)
    if act != _TANH:
        raise ModelError(f"cell gate activation {act} is not TANH; TFLM's integer LSTM needs TANH")
    if float(getattr(opts, "projClip", 0.0) or 0.0) != 0.0:
        raise ModelError("has a projection clip but no projection")
    hidden, cell = tensors[18], tensors[19]
    if tensors[0].dtype != "int8" or hidden.dtype != "int8" or hidden.quant is None:
        raise ModelError("needs int8 input and hidden state (float, hybrid and 16-bit LSTMs are not supported)")
    if cell.dtype != "int16" or cell.quant is None:
        raise ModelError(f"cell state '{cell.name}' is {cell.dtype}; the int8 LSTM needs a quantized int16 one")
    power = math.log2(cell.scale()) if cell.scale() > 0 else 0.5
    if power != int(power):
        raise ModelError(f"cell state scale {cell.scale():g} is not a power of two (TFLM requires one)")
    if hidden.size != cell.size:
        raise ModelError(f"hidden state {hidden.shape} and cell state {cell.shape} differ in size")
    clip = float(getattr(opts, "cellClip", 0.0) or 0.0)
    attrs = LstmAttrs(bool(opts.timeMajor), hidden.scale(), hidden.zero_point, int(power), clip)
    return "UNIDIRECTIONAL_SEQUENCE_LSTM", attrs, KEEP
