"""UNIDIRECTIONAL_SEQUENCE_LSTM reference: TFLM's integer LSTM for int8 models (int8 activations and weights,
int16 gates and cell state), bit for bit.

Per step and batch row, for each gate g: two int8 x int8 products, x.W_g + b_g and h.R_g, each requantized to
int16 with the gate scale 2^-12 (Q3.12) and clamped, summed with int16 saturation, then sigmoid (the cell gate:
tanh) through TFLM's 256-entry interpolated table, giving Q0.15. The cell state
(int16, scale 2^p) becomes sat16(f*c * 2^-15) + sat16(i*g * 2^-30 / 2^p), clamped again (and clipped when the
op has a cell clip); the new hidden state is o * tanh(c) requantized to the hidden state's int8 scale. Gates are
computed in the order forget, input, cell (cell update), output (hidden update), all from the previous hidden
state. Both states start at zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..ir.graph import Graph, Op
from ..ir.lstm import BIASES, GATES, INPUT_WEIGHTS, RECURRENT_WEIGHTS, lstm_sizes
from ..ir.ops import LstmAttrs
from ..quant import f32, fully_connected_multiplier, multiply_by_quantized_multiplier, quantize_multiplier

GATE_SCALE = 2.0**-12  # int16 gate pre-activations are Q3.12
ACT_SCALE = 2.0**-15  # sigmoid/tanh outputs are Q0.15
INT16_MIN, INT16_MAX = -32768, 32767


def _sigmoid_table() -> tuple[int, ...]:
    """sigmoid on the grid i / 24 (i = 0..255) in unsigned 0.16 fixed point, each point lowered by half the error that
    linear interpolation makes at the middle of its interval (so the interpolated curve straddles sigmoid), the last
    point saturated: the table TFLM's int16 LOGISTIC and TANH interpolate, regenerated rather than stored."""

    def sig(x: float) -> float:
        return 65536.0 / (1.0 + math.exp(-x))

    step = 1.0 / 24.0
    table = []
    for i in range(255):
        x = i * step
        midpoint_error = (sig(x) + sig(x + step)) / 2.0 - sig(x + step / 2.0)
        table.append(min(65535, math.floor(sig(x) - midpoint_error / 2.0 + 0.5)))
    table.append(65535)
    return tuple(table)


SIGMOID_TABLE = _sigmoid_table()
_TABLE = np.asarray(SIGMOID_TABLE, dtype=np.int64)


@dataclass(frozen=True)
class LstmParams:
    """Every number of one LSTM op, as TFLM prepares it (quant.py steps). Gate tuples are in GATES order."""

    input_offset: int  # -zero point of the input
    hidden_offset: int  # -zero point of the hidden state
    hidden_zero_point: int
    input_mult: tuple[tuple[int, int], ...]  # (multiplier, shift) of x.W_g -> Q3.12
    recurrent_mult: tuple[tuple[int, int], ...]  # (multiplier, shift) of h.R_g -> Q3.12
    forget_mult: tuple[int, int]  # f * c -> cell scale
    input_gate_mult: tuple[int, int]  # i * g -> cell scale
    hidden_mult: tuple[int, int]  # o * tanh(c) -> hidden scale
    cell_clip: int  # quantized clip of the cell state, 0 = none
    cell_scale_power: int
    tanh_multiplier: int  # tanh(c): input * multiplier (+ rounding) >> shift indexes the table
    tanh_shift: int


def lstm_params(op: Op, graph: Graph) -> LstmParams:
    a = op.attrs
    assert isinstance(a, LstmAttrs)
    x = graph.tensor(op.inputs[0])
    w_in = [graph.tensor(n) for n in op.inputs[INPUT_WEIGHTS]]
    w_rec = [graph.tensor(n) for n in op.inputs[RECURRENT_WEIGHTS]]
    cell_scale = 2.0**a.cell_scale_power
    clip = 0
    if a.cell_clip > 0:
        clip = int(min(max(f32(a.cell_clip) / cell_scale, -32768.0), 32767.0))  # a C cast truncates
    tanh_mult, tanh_shift = tanh_scaling(a.cell_scale_power)
    return LstmParams(
        input_offset=-x.zero_point,
        hidden_offset=-a.hidden_zero_point,
        hidden_zero_point=a.hidden_zero_point,
        input_mult=tuple(fully_connected_multiplier(x.scale(), w.scale(), GATE_SCALE) for w in w_in),
        recurrent_mult=tuple(fully_connected_multiplier(a.hidden_scale, w.scale(), GATE_SCALE) for w in w_rec),
        forget_mult=quantize_multiplier(ACT_SCALE * cell_scale / cell_scale),
        input_gate_mult=quantize_multiplier(ACT_SCALE * ACT_SCALE / cell_scale),
        hidden_mult=quantize_multiplier(ACT_SCALE * ACT_SCALE / f32(a.hidden_scale)),
        cell_clip=clip,
        cell_scale_power=a.cell_scale_power,
        tanh_multiplier=tanh_mult,
        tanh_shift=tanh_shift,
    )


def tanh_scaling(scale_power: int) -> tuple[int, int]:
    """(multiplier, right shift) that map an int16 of scale 2^scale_power to the tanh table's input grid."""
    left = 15 + scale_power - 3
    if left < 0:
        return 3, -left
    return 3 << left, 0


def sigmoid_q15(x: np.ndarray) -> np.ndarray:
    """TFLM's int16 LOGISTIC on Q3.12 input: Q0.15 output through the interpolated table."""
    v = x.astype(np.int64) * 3
    a = np.abs(v)
    idx = np.minimum(a >> 9, 254)
    frac = a & 0x1FF
    interp = (_TABLE[idx] << 9) + frac * (_TABLE[idx + 1] - _TABLE[idx])
    r = np.where((a >> 9) >= 255, 0x7FFF << 10, interp)
    r = np.where(v >= 0, r + (1 << 9), (1 << 25) - r + (1 << 9) - 1)
    return (r >> 10).astype(np.int16)


def tanh_q15(x: np.ndarray, multiplier: int, shift: int) -> np.ndarray:
    """TFLM's int16 TANH with a power-of-two input scale: Q0.15 output through the sigmoid table."""
    rnd = (1 << (shift - 1)) if shift > 0 else 0
    v = (x.astype(np.int64) * multiplier + rnd) >> shift
    a = np.abs(v)
    idx = np.minimum(a >> 8, 254)
    frac = a & 0xFF
    interp = (_TABLE[idx] << 8) + frac * (_TABLE[idx + 1] - _TABLE[idx])
    r = np.where((a >> 8) >= 255, 0xFFFF << 8, interp)
    r = np.where(v >= 0, r - (1 << 23) + (1 << 7), -r + (1 << 23) + (1 << 7) - 1)
    return (r >> 8).astype(np.int16)


def _sat16(v: np.ndarray) -> np.ndarray:
    return np.clip(v, INT16_MIN, INT16_MAX)


def _mul_requant(a: np.ndarray, b: np.ndarray, mult: tuple[int, int]) -> np.ndarray:
    return multiply_by_quantized_multiplier(a.astype(np.int64) * b.astype(np.int64), *mult)


def unidirectional_sequence_lstm(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    p = lstm_params(op, graph)
    n = lstm_sizes(graph, op)
    w_in = [np.asarray(graph.tensor(t).data, np.int64) for t in op.inputs[INPUT_WEIGHTS]]
    w_rec = [np.asarray(graph.tensor(t).data, np.int64) for t in op.inputs[RECURRENT_WEIGHTS]]
    bias = [np.asarray(graph.tensor(t).data, np.int64) for t in op.inputs[BIASES]]
    seq = x.astype(np.int64) if n.time_major else np.swapaxes(x.astype(np.int64), 0, 1)  # [T, B, I]
    batches = seq.shape[1]
    h = np.full((batches, n.state_size), p.hidden_zero_point, np.int64)
    c = np.zeros((batches, n.state_size), np.int64)
    out = np.empty((seq.shape[0], batches, n.state_size), np.int8)

    def gate(g: int, xt: np.ndarray) -> np.ndarray:
        acc_x = (xt + p.input_offset) @ w_in[g].T + bias[g]
        acc_h = (h + p.hidden_offset) @ w_rec[g].T
        pre = _sat16(
            _sat16(multiply_by_quantized_multiplier(acc_x, *p.input_mult[g]))
            + _sat16(multiply_by_quantized_multiplier(acc_h, *p.recurrent_mult[g]))
        )
        if GATES[g] == "cell":
            return tanh_q15(pre, *tanh_scaling(-12)).astype(np.int64)
        return sigmoid_q15(pre).astype(np.int64)

    for t in range(seq.shape[0]):
        xt = seq[t]
        f, i, g = gate(1, xt), gate(0, xt), gate(2, xt)
        c = _sat16(_sat16(_mul_requant(f, c, p.forget_mult)) + _sat16(_mul_requant(i, g, p.input_gate_mult)))
        if p.cell_clip > 0:
            c = np.clip(c, -p.cell_clip, p.cell_clip)
        o = gate(3, xt)
        th = tanh_q15(c, p.tanh_multiplier, p.tanh_shift).astype(np.int64)
        h = np.clip(_mul_requant(th, o, p.hidden_mult) + p.hidden_zero_point, -128, 127)
        out[t] = h
    return out if n.time_major else np.swapaxes(out, 0, 1).copy()
