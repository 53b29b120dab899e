"""Post-training int8 quantization of an extracted static network, straight to the project IR.

Batch norm is folded into the conv before it; conv and depthwise weights are per-channel symmetric int8, the
classifier per-tensor symmetric; biases are int32 with scale s_in * s_w. Activations are per-tensor asymmetric int8
with ranges calibrated on images (min/max or a percentile); ReLU6 outputs use the range [0, min(max, 6)] and are
clamped by the fused activation (ReLU outputs [0, max]); a residual ADD gets its own output range, as in TFLite.
Average pooling and reshape keep their input's quantization (TFLite requires it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.ir.graph import Graph, QuantParams

from .data import INPUT_SCALE, INPUT_ZERO_POINT, to_input
from .space import Step
from .supernet.static import ConvBN, StaticNet
from .to_ir import LayerConsts, build_graph


@dataclass(frozen=True, slots=True)
class QuantConfig:
    method: str = "minmax"  # or "percentile"
    percentile: float = 99.99  # of |values| per side, averaged over batches, for method="percentile"
    batch_size: int = 128
    softmax: bool = False


def fold_bn(m: ConvBN) -> tuple[np.ndarray, np.ndarray]:
    """Float conv weight (OIHW) and bias with the (eval-mode) batch norm folded in (a conv without batch norm
    gives its own weight and bias)."""
    bn = m.bn
    if bn is None:
        return m.conv.weight.detach().double().numpy(), m.conv.bias.detach().double().numpy()
    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()
    w = m.conv.weight.detach() * scale[:, None, None, None]
    b = bn.bias.detach() - bn.running_mean.detach() * scale
    return w.double().numpy(), b.double().numpy()


def act_quant(lo: float, hi: float, relu6: bool = False) -> QuantParams:
    """Asymmetric int8 parameters covering [lo, hi] (and 0); ReLU6 outputs cover [0, min(hi, 6)]."""
    if relu6:
        lo, hi = 0.0, min(hi, 6.0)
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    scale = max(hi - lo, 1e-6) / 255.0
    zp = int(np.clip(round(-128 - lo / scale), -128, 127))
    return QuantParams((scale,), (zp,))


def _quantize_weight(w: np.ndarray, per_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 (-127..127) values and their scales (per output channel = axis 0, or one)."""
    flat = w.reshape(w.shape[0], -1) if per_channel else w.reshape(1, -1)
    scales = np.maximum(np.abs(flat).max(axis=1), 1e-12) / 127.0
    q = np.clip(np.round(flat / scales[:, None]), -127, 127).astype(np.int8).reshape(w.shape)
    return q, scales


@torch.no_grad()
def calibrate_ranges(net: StaticNet, images: np.ndarray, cfg: QuantConfig) -> dict[str, tuple[float, float]]:
    """Observed (low, high) of every step output on uint8 NHWC `images` (already at the net's resolution)."""
    if len(images) == 0:
        raise TinyMLError("quantization needs at least one calibration image")
    seen: dict[str, list[tuple[float, float]]] = {}

    def record(name: str, v: torch.Tensor) -> None:
        v = v.detach().float().reshape(-1)
        if cfg.method == "percentile":
            q = torch.quantile(v[: 1 << 24], torch.tensor([1 - cfg.percentile / 100, cfg.percentile / 100]))
            lo, hi = float(q[0]), float(q[1])
        else:
            lo, hi = float(v.min()), float(v.max())
        seen.setdefault(name, []).append((lo, hi))

    net.eval()
    for i in range(0, len(images), cfg.batch_size):
        net(to_input(images[i : i + cfg.batch_size]), record)
    agg = np.mean if cfg.method == "percentile" else None
    out = {}
    for name, r in seen.items():
        lo, hi = np.array([a for a, _ in r]), np.array([b for _, b in r])
        out[name] = (float(agg(lo)), float(agg(hi))) if agg else (float(lo.min()), float(hi.max()))
    return out


def quantize(net: StaticNet, images: np.ndarray, cfg: QuantConfig = QuantConfig(), name: str = "tinynas") -> Graph:
    """The int8 IR graph of `net`, with activation ranges calibrated on uint8 NHWC `images`."""
    ranges = calibrate_ranges(net, images, cfg)
    steps = net.steps
    quant: dict[str, QuantParams] = {"input": QuantParams((INPUT_SCALE,), (INPUT_ZERO_POINT,))}
    for st in steps:
        quant[st.name] = (
            quant[st.inputs[0]] if st.kind == "pool" else act_quant(*ranges[st.name], relu6=st.act and st.relu6)
        )

    def consts(st: Step) -> LayerConsts:
        s_in = quant[st.inputs[0]].scale[0]
        if st.kind == "fc":
            lin = net.layer(st.name)
            w, b = lin.weight.detach().double().numpy(), lin.bias.detach().double().numpy()
            q, s = _quantize_weight(w, per_channel=False)
            axis = 0
        else:
            w, b = fold_bn(net.layer(st.name))
            if st.kind == "dw":  # (C,1,k,k) -> 1 x k x k x C
                q, s = _quantize_weight(w, True)
                q, axis = np.ascontiguousarray(q.transpose(1, 2, 3, 0)), 3
            else:  # OIHW -> OHWI
                q, s = _quantize_weight(w, True)
                q, axis = np.ascontiguousarray(q.transpose(0, 2, 3, 1)), 0
        bias_scale = s_in * s
        qb = np.clip(np.round(b / np.broadcast_to(bias_scale, b.shape)), -(2**31), 2**31 - 1).astype(np.int32)
        return LayerConsts(
            q,
            QuantParams(tuple(float(v) for v in s), (0,) * len(s), axis),
            qb,
            QuantParams(tuple(float(v) for v in bias_scale), (0,) * len(s), 0),
        )

    return build_graph(name, steps, consts, lambda st: quant[st.name], cfg.softmax)
