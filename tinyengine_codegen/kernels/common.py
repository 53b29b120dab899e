"""Numbers shared by the context builders: activation ranges, requantization multipliers, flattened shapes.

Every multiplier is computed the way TFLite Micro prepares it (same float/double steps), through quant.py.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import quant
from ..ir.graph import Graph, Op, QuantParams, Tensor
from ..ir.ops import Activation

INT8_MIN, INT8_MAX = -128, 127


def act_range(activation: Activation, out: Tensor) -> tuple[int, int]:
    """The int8 clamp range of a fused activation on `out`'s quantization."""
    return quant.activation_range(activation, out.scale(), out.zero_point)


def channel_multipliers(x: Tensor, w: Tensor, y: Tensor, channels: int) -> tuple[list[int], list[int]]:
    """Per-output-channel (multiplier, shift) lists of a conv/depthwise (and per-channel fully connected).
    Every kernel predicate and context of an op asks for the same numbers: they are computed once per distinct
    (scales, channels) key (a pure function of immutable values, so the memo cannot go stale)."""
    assert w.quant is not None, f"weights '{w.name}' are not quantized"
    m, s = _channel_pairs(float(x.scale()), w.quant, float(y.scale()), channels)
    return list(m), list(s)


@functools.lru_cache(maxsize=4096)
def _channel_pairs(
    in_scale: float, w_quant: QuantParams, out_scale: float, channels: int
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    m, s = quant.conv_output_multipliers(in_scale, np.asarray(w_quant.scale, np.float64), out_scale, channels)
    return tuple(np.asarray(m, np.int64).tolist()), tuple(np.asarray(s, np.int64).tolist())


def out_tensor(graph: Graph, op: Op, j: int = 0) -> Tensor:
    return graph.tensor(op.outputs[j])


def in_tensor(graph: Graph, op: Op, j: int = 0) -> Tensor:
    return graph.tensor(op.inputs[j])


def pad6(shape: tuple[int, ...]) -> list[int]:
    """A shape left-padded with ones to rank 6 (the rank of the generic N-d loops)."""
    return [1] * (6 - len(shape)) + list(shape)


def strides_of(shape: list[int]) -> list[int]:
    out, acc = [0] * len(shape), 1
    for d in range(len(shape) - 1, -1, -1):
        out[d] = acc
        acc *= shape[d]
    return out


def c_float(value: float) -> str:
    """An exact C float literal (hexadecimal) of the float32 nearest to `value`."""
    return float(np.float32(value)).hex() + "f"


def c_double(value: float) -> str:
    """An exact C double literal (hexadecimal)."""
    return float(value).hex()
