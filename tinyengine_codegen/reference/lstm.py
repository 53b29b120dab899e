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

from dataclasses import dataclass

import numpy as np

from ..ir.graph import Graph, Op
from ..ir.lstm import BIASES, GATES, INPUT_WEIGHTS, RECURRENT_WEIGHTS, lstm_sizes
from ..ir.ops import LstmAttrs
from ..quant import f32, fully_connected_multiplier, multiply_by_quantized_multiplier, quantize_multiplier

GATE_SCALE = 2.0**-12  # int16 gate pre-activations are Q3.12
ACT_SCALE = 2.0**-15  # sigmoid/tanh outputs are Q0.15
INT16_MIN, INT16_MAX = -32768, 32767

# sigmoid(i / 24) in unsigned 0.16 fixed point, i = 0..255: the table TFLM's int16 LOGISTIC and TANH interpolate.
SIGMOID_TABLE = (
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794, 41432, 42064, 42688,
    43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409,
    51865, 52311, 52745, 53169, 53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110,
    61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186,
    63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900,
    64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208,
    65221, 65234, 65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433, 65438, 65442, 65445, 65449,
    65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474, 65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491,
    65493, 65495, 65497, 65498, 65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524,
    65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530,
    65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65535,
)  # fmt: skip
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
