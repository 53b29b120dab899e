"""Random UNIDIRECTIONAL_SEQUENCE_LSTM layers (merged into layers.LAYERS): a Keras-style LSTM over the tensor
read as (1, time, features), batch-major as the generator's calibration samples need, its output sometimes cut
to the last step (return_sequences=False: a STRIDED_SLICE, as TensorFlow's converter writes it).

Quantization is drawn independently per layer: per-tensor symmetric weights with their own scales, the hidden
state's (= the output's) scale and zero point calibrated or drawn around the calibrated ones, and the cell
state's power-of-two scale from 2^-15 to 2^-9 (calibrated about half the time). Time-major layouts and several
batch rows are covered by the LSTM tests, which build those models directly.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from tinyengine_codegen.ir.graph import Graph, Op, QuantParams, Tensor
from tinyengine_codegen.ir.lstm import GATES
from tinyengine_codegen.ir.ops import LstmAttrs, OpKind, ReshapeAttrs, StridedSliceAttrs

if TYPE_CHECKING:
    from .modelgen import Builder

MAX_STEPS = 12


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def lstm_float(x: np.ndarray, wx: list, wh: list, bias: list, clip: float = 0.0) -> tuple[np.ndarray, float]:
    """Float LSTM over x (N, T, I), gates in order input, forget, cell, output; (outputs, max |cell|)."""
    n, steps, _ = x.shape
    h = np.zeros((n, wh[0].shape[0]))
    c = np.zeros_like(h)
    out, cmax = [], 0.0
    for t in range(steps):
        pre = [x[:, t] @ wx[g].T + bias[g] + h @ wh[g].T for g in range(4)]
        i, f, g, o = _sigmoid(pre[0]), _sigmoid(pre[1]), np.tanh(pre[2]), _sigmoid(pre[3])
        c = f * c + i * g
        if clip > 0:
            c = np.clip(c, -clip, clip)
        cmax = max(cmax, float(np.abs(c).max()))
        h = o * np.tanh(c)
        out.append(h)
    return np.stack(out, axis=1), cmax


def _weights(b: Builder, opname: str, label: str, shape: tuple[int, int]):
    wf = b.rng.normal(0.0, 1.5 / np.sqrt(shape[1]), shape)
    scale = max(float(np.abs(wf).max()), 1e-3) / 127.0 * float(np.exp(b.rng.uniform(0.0, 0.3)))
    wq = np.clip(np.round(wf / scale), -127, 127).astype(np.int8)
    return b.const(opname, label, wq, QuantParams((scale,), (0,))), wq * scale


def lstm(b: Builder, x: str) -> str | None:
    shape = b.shape(x)
    total = math.prod(shape[1:])
    steps = (
        shape[1] * (shape[2] if len(shape) == 4 else 1)
        if len(shape) > 2
        else b.pick([d for d in (1, 2, 4, total) if total % d == 0])
    )
    steps = max(1, min(steps, total))
    if total % steps or steps > MAX_STEPS:
        steps = max(d for d in range(1, MAX_STEPS + 1) if total % d == 0)
    features = total // steps
    if features > 64:
        return None
    if shape != (1, steps, features):
        v = b.values[x].reshape((-1, steps, features))
        x = b.emit(OpKind.RESHAPE, (x,), v, ReshapeAttrs((1, steps, features)), quant=b.quant(x))
    units = b.randint(1, 12)
    opname = b.op_name(OpKind.UNIDIRECTIONAL_SEQUENCE_LSTM)
    s_in = b.quant(x).scale[0]
    wx, wh, names, fx, fh, fb = [], [], [], [], [], []
    for gate in GATES:
        name, wf = _weights(b, opname, f"input_to_{gate}", (units, features))
        wx.append(name)
        fx.append(wf)
    for gate in GATES:
        name, wf = _weights(b, opname, f"recurrent_to_{gate}", (units, units))
        wh.append(name)
        fh.append(wf)
    for g, gate in enumerate(GATES):
        s_b = s_in * b.quant(wx[g]).scale[0]
        bf = b.rng.normal(1.0 if gate == "forget" else 0.0, 0.3, units)
        bq = np.round(bf / s_b).astype(np.int32)
        names.append(b.const(opname, f"{gate}_bias", bq, QuantParams((s_b,), (0,))))
        fb.append(bq * s_b)
    clip = float(b.pick((0.0, 0.0, 0.0, 1.0, 3.0)))
    v, cmax = lstm_float(b.values[x], fx, fh, fb, clip)
    q = b.calibrate(v)
    if b.rng.random() < 0.4:  # drawn around the calibrated hidden-state quantization
        q = QuantParams(
            (q.scale[0] * float(np.exp(b.rng.uniform(-0.5, 0.5))),),
            (int(np.clip(q.zero_point[0] + b.randint(-30, 30), -128, 127)),),
        )
    calibrated = int(np.clip(math.ceil(math.log2(max(cmax, 1e-3) / 32767.0)), -15, -9))
    power = calibrated if b.rng.random() < 0.5 else b.randint(-15, -9)
    attrs = LstmAttrs(False, q.scale[0], q.zero_point[0], power, clip)
    y = b.emit(OpKind.UNIDIRECTIONAL_SEQUENCE_LSTM, (x, *wx, *wh, *names), v, attrs, quant=q)
    if b.rng.random() < 0.3:  # return_sequences=False: the last step only
        cut = StridedSliceAttrs((0, steps - 1, 0), (1, steps, units), (1, 1, 1), (1,))
        y = b.emit(OpKind.STRIDED_SLICE, (y,), b.values[y][:, -1], cut, quant=q)
        return b.emit(
            OpKind.RESHAPE, (y,), b.values[y].reshape(-1, 1, 1, units), ReshapeAttrs((1, 1, 1, units)), quant=q
        )
    return b.emit(
        OpKind.RESHAPE, (y,), b.values[y].reshape(-1, steps, 1, units), ReshapeAttrs((1, steps, 1, units)), quant=q
    )


LSTM_LAYERS = {OpKind.UNIDIRECTIONAL_SEQUENCE_LSTM: lstm}


def lstm_graph(
    rng: np.random.Generator,
    *,
    steps: int = 5,
    batches: int = 1,
    features: int = 6,
    units: int = 8,
    time_major: bool = False,
    cell_clip: float = 0.0,
    cell_scale_power: int = -12,
    weight_gain: float = 1.0,
    name: str = "lstm",
) -> Graph:
    """One LSTM op with random int8 weights and independently drawn quantization (input, weights, hidden state);
    `weight_gain` scales the float weights (large gains saturate the gates and the cell state)."""
    x_shape = (steps, batches, features) if time_major else (batches, steps, features)
    s_in = float(np.exp(rng.uniform(np.log(0.005), np.log(0.1))))
    tensors = {"x": Tensor("x", x_shape, "int8", QuantParams((s_in,), (int(rng.integers(-40, 40)),)))}
    names = ["x"]
    scales = []
    for j in range(8):
        shape = (units, features) if j < 4 else (units, units)
        scale = weight_gain * float(np.exp(rng.uniform(np.log(0.002), np.log(0.05))))
        data = rng.integers(-127, 128, shape).astype(np.int8)
        label = f"{'input' if j < 4 else 'recurrent'}_to_{GATES[j % 4]}"
        tensors[label] = Tensor(label, shape, "int8", QuantParams((scale,), (0,)), data)
        names.append(label)
        scales.append(scale)
    for g, gate in enumerate(GATES):
        s_b = s_in * scales[g]
        data = np.round(rng.normal(1.0 if gate == "forget" else 0.0, 0.5, units) / s_b).astype(np.int32)
        tensors[f"{gate}_bias"] = Tensor(f"{gate}_bias", (units,), "int32", QuantParams((s_b,), (0,)), data)
        names.append(f"{gate}_bias")
    hidden = QuantParams((float(np.exp(rng.uniform(np.log(0.003), np.log(0.02)))),), (int(rng.integers(-60, 60)),))
    tensors["y"] = Tensor("y", (x_shape[0], x_shape[1], units), "int8", hidden)
    attrs = LstmAttrs(time_major, hidden.scale[0], hidden.zero_point[0], cell_scale_power, cell_clip)
    op = Op("lstm", OpKind.UNIDIRECTIONAL_SEQUENCE_LSTM, tuple(names), ("y",), attrs)
    return Graph(name, tensors, (op,), ("x",), ("y",))
