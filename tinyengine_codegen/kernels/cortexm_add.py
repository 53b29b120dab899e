"""ADD kernel spec for Cortex-M cores with the DSP extension: each input's rescaling as a 256-entry table.

TFLM's int8 ADD rescales each input with its own MultiplyByQuantizedMultiplier before the sum; that value
depends only on the input byte, so it is tabulated offline (exactly, with quant.py) and only the output
requantization runs per element (the fast SMMULR epilogue when it is provably exact).
"""

from __future__ import annotations

import numpy as np

from .. import quant
from ..ir.graph import Graph, Op
from .common import in_tensor, out_tensor
from .cortexm import has_dsp, requant_fast
from .elementwise import element_params
from .spec import Binding, Context, KernelSpec, TargetLike, no_scratch


def is_add_lut(op: Op, graph: Graph, target: TargetLike) -> bool:
    a, b, y = in_tensor(graph, op, 0), in_tensor(graph, op, 1), out_tensor(graph, op)
    return (
        has_dsp(target)
        and a.shape == b.shape == y.shape
        and op.inputs[0] != op.inputs[1]
        and a.dtype == b.dtype == y.dtype == "int8"
        and not a.is_const
        and not b.is_const
    )


def input_table(offset: int, left_shift: int, mult: int, shift: int) -> np.ndarray:
    """Rescaled value of every input byte, indexed by the byte read as unsigned (0..255)."""
    raw = np.arange(256, dtype=np.int64).astype(np.uint8).astype(np.int8).astype(np.int64)
    scaled = quant.multiply_by_quantized_multiplier((raw + offset) << left_shift, mult, shift)
    return np.asarray(scaled, np.int64).astype(np.int32)


def add_lut_context(op: Op, graph: Graph, b: Binding) -> Context:
    e = element_params(op, graph)
    la = input_table(e["a_offset"], e["left_shift"], e["a_mult"], e["a_shift"])
    lb = input_table(e["b_offset"], e["left_shift"], e["b_mult"], e["b_shift"])
    bound = np.array([int(np.abs(la.astype(np.int64)).max() + np.abs(lb.astype(np.int64)).max())])
    q = dict(per_channel=False, mult=e["mult"], shift=e["shift"], zp=e["out_zp"], lo=e["lo"], hi=e["hi"])
    q = requant_fast(q, bound)
    if q["fast"] and q["ls"] is not None:  # fold the pre-shift into the tables (exact: |la + lb| << ls < 2^31)
        la, lb, q = la << q["ls"], lb << q["ls"], dict(q, ls=0, prescaled=q["ls"])
    return dict(
        size=out_tensor(graph, op).size,
        q=q,
        la=b.weights.add(f"{op.name}#cm_la", la),
        lb=b.weights.add(f"{op.name}#cm_lb", lb),
    )


ADD_SIMD = (KernelSpec("add_s8_lut", is_add_lut, no_scratch, add_lut_context),)
