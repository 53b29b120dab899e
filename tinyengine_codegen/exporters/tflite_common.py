"""What every .tflite export rule shares: the enum maps and the lowered-operator records."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir.graph import QuantParams
from ..ir.ops import Activation, Padding
from ..schema import schema

ACTIVATION_CODE = {
    Activation.NONE: schema.ActivationFunctionType.NONE,
    Activation.RELU: schema.ActivationFunctionType.RELU,
    Activation.RELU6: schema.ActivationFunctionType.RELU6,
    Activation.RELU_N1_TO_1: schema.ActivationFunctionType.RELU_N1_TO_1,
}
PADDING_CODE = {Padding.SAME: schema.Padding.SAME, Padding.VALID: schema.Padding.VALID}


@dataclass(frozen=True)
class ConstInput:
    """An int32 constant operand that the exporter creates; `label` becomes the suffix of its tensor name."""

    label: str
    data: np.ndarray
    quant: QuantParams | None = None


@dataclass(frozen=True)
class VariableInput:
    """A state (variable) tensor the exporter creates, zero at the start, such as an LSTM's hidden state."""

    label: str
    shape: tuple[int, ...]
    dtype: str
    quant: QuantParams


@dataclass(frozen=True)
class Lowered:
    """One operator as the flatbuffer wants it. `inputs` holds IR tensor names ("" = absent) or new constants."""

    builtin: int
    inputs: tuple[str | ConstInput | VariableInput, ...]
    options_type: int
    options: object | None
    version: int
    # tensors that only carry quantization (an integer LSTM's gate and hidden scales), written as intermediates
    intermediates: tuple[VariableInput, ...] = ()
