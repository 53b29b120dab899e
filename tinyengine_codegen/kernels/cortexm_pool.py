"""AVERAGE_POOL_2D for Cortex-M cores with the DSP extension: avgpool_s8_simd.

Four channels per word: SXTAB16 adds the even and the odd bytes of each window word to two int16x2 sums (exact
while the window has at most 256 taps: |sum| <= 256 * 128). Each channel's sum is then divided by the count of
taps inside the image with TFLM's rounding (half away from zero) and clamped, as the portable kernel does.
"""

from __future__ import annotations

from ..ir.graph import Graph, Op
from .common import in_tensor, out_tensor
from .cortexm import has_dsp
from .misc import pool_context
from .spec import KernelSpec, TargetLike, no_scratch

MAX_TAPS = 256


def is_avgpool_simd(op: Op, graph: Graph, target: TargetLike) -> bool:
    x, y, a = in_tensor(graph, op), out_tensor(graph, op), op.attrs
    return (
        has_dsp(target)
        and x.dtype == y.dtype == "int8"
        and len(x.shape) == 4
        and x.shape[3] % 4 == 0
        and a.filter_h * a.filter_w <= MAX_TAPS
    )


POOL_SIMD = (KernelSpec("avgpool_s8_simd", is_avgpool_simd, no_scratch, pool_context),)
