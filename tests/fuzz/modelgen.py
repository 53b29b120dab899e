"""Random small int8 IR graphs for the fuzz tests, with realistic quantization.

`random_model(rng)` builds a chain of random layers on a tiny NHWC (or 2-D) input. Every activation's scale and
zero point come from a float simulation of the graph on a few random inputs (floatsim.py), so quantized outputs
use most of the int8 range instead of saturating. Two-input operators (ADD, MUL, CONCATENATION) take a second
operand from a small side branch, the input itself or a constant. Some models start from float32 (QUANTIZE) and
some end in float32 (DEQUANTIZE). `random_input(graph, rng)` draws inputs that cover each input's range.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from tinyengine_codegen.ir.graph import Graph, Op, QuantParams, Tensor
from tinyengine_codegen.ir.ops import NoAttrs, OpKind

from .layers import LAYERS, NEEDS_4D

ALL_KINDS: tuple[OpKind, ...] = tuple(OpKind)
N_CALIB = 3  # calibration samples, stacked along the batch axis of the float values
PROB_FLOAT_IN = 0.2
PROB_FLOAT_OUT = 0.2
PROB_EXTRA_OUTPUT = 0.15
MAX_TRIES = 20  # bounded retries when a drawn layer does not fit the current tensor
LAST_ONLY = frozenset({OpKind.ARG_MAX})  # int32 outputs: only ever the graph's last layer
PICK_WEIGHT = {OpKind.CONV_2D: 4, OpKind.DEPTHWISE_CONV_2D: 3, OpKind.FULLY_CONNECTED: 2, OpKind.ADD: 2}


@dataclass
class Builder:
    """Accumulates tensors, ops and float calibration values while one random graph is built."""

    rng: np.random.Generator
    tensors: dict[str, Tensor] = field(default_factory=dict)
    ops: list[Op] = field(default_factory=list)
    values: dict[str, np.ndarray] = field(default_factory=dict)
    _count: int = 0

    # ----- small helpers used by the layer builders -----
    def pick(self, seq):
        seq = list(seq)
        return seq[int(self.rng.integers(len(seq)))]

    def randint(self, lo: int, hi: int) -> int:
        """A uniform integer in [lo, hi] (both ends included)."""
        return int(self.rng.integers(lo, hi + 1))

    def shape(self, name: str) -> tuple[int, ...]:
        return self.tensors[name].shape

    def quant(self, name: str) -> QuantParams:
        return self.tensors[name].quant

    def op_name(self, kind: OpKind) -> str:
        """The name the next op will get; constants made for it are named after it."""
        return f"op{len(self.ops)}_{kind.value.lower()}"

    # ----- tensors -----
    def calibrate(self, v: np.ndarray) -> QuantParams:
        lo, hi = min(float(np.min(v)), 0.0), max(float(np.max(v)), 0.0)
        if hi - lo < 1e-6:
            hi = lo + 1e-2
        scale = (hi - lo) / 255.0
        zp = int(np.clip(np.round(-128 - lo / scale), -128, 127))
        return QuantParams((scale,), (zp,))

    def activation(self, v: np.ndarray, quant: QuantParams | None, dtype: str = "int8") -> str:
        """Register an activation holding float values `v` (N_CALIB samples along axis 0)."""
        name = f"t{self._count}"
        self._count += 1
        if dtype == "int8":
            v = fake_quant(v, quant)
        self.tensors[name] = Tensor(name, (1,) + tuple(v.shape[1:]), dtype, quant)
        self.values[name] = v
        return name

    def const(self, opname: str, label: str, data: np.ndarray, quant: QuantParams | None) -> str:
        name = f"{opname}/{label}"
        data = np.ascontiguousarray(data)
        data.setflags(write=False)
        self.tensors[name] = Tensor(name, tuple(data.shape), str(data.dtype), quant, data)
        return name

    def weights(self, opname: str, shape: tuple[int, ...], axis: int | None, fan_in: int):
        """int8 weights (per channel along `axis`, or per tensor when None); returns (name, dequantized)."""
        wf = self.rng.normal(0.0, 1.0 / np.sqrt(fan_in), shape)
        if axis is None:
            scale = np.array([max(np.abs(wf).max(), 1e-3) / 127.0])
            bshape = (1,) * len(shape)
        else:
            gain_shape = [1] * len(shape)
            gain_shape[axis] = shape[axis]
            wf = wf * np.exp(self.rng.normal(0.0, 0.5, gain_shape))
            others = tuple(d for d in range(len(shape)) if d != axis)
            scale = np.maximum(np.abs(wf).max(axis=others), 1e-3) / 127.0
            bshape = gain_shape
        wq = np.clip(np.round(wf / scale.reshape(bshape)), -127, 127).astype(np.int8)
        quant = QuantParams(tuple(float(s) for s in scale), (0,) * len(scale), axis or 0)
        return self.const(opname, "weights", wq, quant), wq * scale.reshape(bshape)

    def bias(self, opname: str, x: str, w: str, n: int, optional: bool = True):
        """int32 bias with scale s_in * s_w per channel, or ("", None) for an absent bias (one time in ten)."""
        if optional and self.rng.random() < 0.1:
            return "", None
        s_in, s_w = self.quant(x).scale[0], np.array(self.quant(w).scale)
        s_b = s_in * (s_w if len(s_w) == n else np.full(n, s_w[0]))
        bq = np.round(self.rng.normal(0.0, 0.3, n) / s_b).astype(np.int32)
        scales = s_b if len(s_w) == n else s_b[:1]
        quant = QuantParams(tuple(float(s) for s in scales), (0,) * len(scales), 0)
        return self.const(opname, "bias", bq, quant), bq * s_b

    def emit(
        self,
        kind: OpKind,
        inputs: Iterable[str],
        v: np.ndarray,
        attrs,
        quant: QuantParams | str | None = "calibrate",
        dtype: str = "int8",
    ) -> str:
        """Append an op with one output holding float values `v`; its quant is calibrated unless given."""
        name = self.op_name(kind)
        if isinstance(quant, str):
            quant = self.calibrate(v)
        out = self.activation(v, quant, dtype)
        self.ops.append(Op(name, kind, tuple(inputs), (out,), attrs))
        return out


def fake_quant(v: np.ndarray, quant: QuantParams) -> np.ndarray:
    s, zp = quant.scale[0], quant.zero_point[0]
    return (np.clip(np.round(v / s) + zp, -128, 127) - zp) * s


def random_model(
    rng: np.random.Generator,
    *,
    ops: Iterable[OpKind] | None = None,
    require: OpKind | None = None,
    num_layers: int | None = None,
    name: str = "random_model",
) -> Graph:
    """A valid random int8 graph drawing its layers from `ops` (default: every OpKind).

    `require` is a kind that must appear (QUANTIZE/DEQUANTIZE then mean a float input/output or a requantize).
    Helper ops (side branches of ADD/MUL/CONCATENATION, a RESHAPE after a shrinking slice) may use other kinds.
    """
    kinds = set(ALL_KINDS if ops is None else ops)
    if require is not None:
        kinds.add(require)
    b = Builder(rng)
    candidates = sorted((k for k in kinds if k in LAYERS and k not in LAST_ONLY), key=lambda k: k.value)
    float_in = OpKind.QUANTIZE in kinds and (
        not candidates or rng.random() < (0.5 if require is OpKind.QUANTIZE else PROB_FLOAT_IN)
    )
    float_out = (
        OpKind.DEQUANTIZE in kinds
        and require not in LAST_ONLY
        and (not candidates or require is OpKind.DEQUANTIZE or rng.random() < PROB_FLOAT_OUT)
    )
    four_d = require in NEEDS_4D or rng.random() < 0.8
    graph_in, x = _input(b, four_d, float_in)
    plan = [None] * (int(rng.integers(1, 5)) if num_layers is None else num_layers)
    if require in LAYERS and require not in LAST_ONLY and not (require is OpKind.QUANTIZE and float_in):
        plan[int(rng.integers(len(plan)))] = require
    if not candidates:  # only boundary kinds (QUANTIZE/DEQUANTIZE) were asked for
        plan = [k for k in plan if k is not None]
    for wanted in plan:
        x = _layer(b, x, wanted, candidates)
    if require in LAST_ONLY:
        x = LAYERS[require](b, x)
    outputs = [x]
    if float_out:
        outputs[0] = b.emit(OpKind.DEQUANTIZE, (x,), b.values[x], NoAttrs(), quant=None, dtype="float32")
    extra = [
        t for t in b.tensors if not b.tensors[t].is_const and t not in (graph_in, x) and b.tensors[t].dtype == "int8"
    ]
    if extra and rng.random() < PROB_EXTRA_OUTPUT:
        outputs.append(b.pick(extra))
    return Graph(name, b.tensors, tuple(b.ops), (graph_in,), tuple(outputs))


def _input(b: Builder, four_d: bool, float_in: bool) -> tuple[str, str]:
    """The graph input (float32 or int8) and the int8 tensor the first layer reads."""
    shape = (b.randint(1, 9), b.randint(1, 9), b.randint(1, 8)) if four_d else (b.randint(1, 32),)
    scale = float(np.exp(b.rng.uniform(np.log(0.01), np.log(0.2))))
    quant = QuantParams((scale,), (b.randint(-30, 30),))
    lo, hi = (-128 - quant.zero_point[0]) * scale, (127 - quant.zero_point[0]) * scale
    v = b.rng.uniform(lo, hi, (N_CALIB,) + shape)
    if not float_in:
        x = b.activation(v, quant)
        return x, x
    f = b.activation(v, None, "float32")
    return f, b.emit(OpKind.QUANTIZE, (f,), v, NoAttrs(), quant=quant)


def _layer(b: Builder, x: str, wanted: OpKind | None, candidates: list[OpKind]) -> str:
    """Apply `wanted` (or a random applicable kind) to `x`; a 2-D tensor is reshaped first if it must be 4-D."""
    for _ in range(MAX_TRIES):
        kind = wanted if wanted is not None else _draw(b, candidates)
        if kind in NEEDS_4D and len(b.shape(x)) != 4:
            x = LAYERS[OpKind.RESHAPE](b, x, to_4d=True)
        y = LAYERS[kind](b, x)
        if y is not None:
            return y
    raise AssertionError(f"no layer fits tensor {x} {b.shape(x)} after {MAX_TRIES} tries (wanted {wanted})")


def _draw(b: Builder, candidates: list[OpKind]) -> OpKind:
    weights = np.array([PICK_WEIGHT.get(k, 1) for k in candidates], dtype=float)
    return candidates[int(b.rng.choice(len(candidates), p=weights / weights.sum()))]


def random_input(graph: Graph, rng: np.random.Generator) -> list[np.ndarray]:
    """One array per graph input: uniform int8, or float32 spanning (a little beyond) the QUANTIZE range."""
    arrays = []
    for name in graph.inputs:
        t = graph.tensors[name]
        if t.dtype == "int8":
            arrays.append(rng.integers(-128, 128, t.shape).astype(np.int8))
            continue
        lo, hi = -4.0, 4.0
        for i in graph.consumers(name):
            q = graph.tensors[graph.ops[i].outputs[0]].quant
            if graph.ops[i].kind is OpKind.QUANTIZE and q is not None:
                lo, hi = (-128 - q.zero_point[0]) * q.scale[0], (127 - q.zero_point[0]) * q.scale[0]
        margin = 0.1 * (hi - lo)
        arrays.append(rng.uniform(lo - margin, hi + margin, t.shape).astype(np.float32))
    return arrays
