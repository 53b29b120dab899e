"""DEPTHWISE_CONV_2D kernel specs and their template contexts (filters 1 x H x W x (C*M))."""
from __future__ import annotations

from ..ir.graph import Graph, Op
from ..ir.ops import OpKind
from .common import in_tensor
from .conv import _bias, geometry, requant_q
from .registry import Binding, Context, KernelSpec, always, no_scratch


def reference_context(op: Op, graph: Graph, b: Binding) -> Context:
    g = geometry(op, graph)
    assert in_tensor(graph, op, 1).shape[3] == g["cout"]
    return dict(g, mult=op.attrs.depth_multiplier, weights=b.const(op.inputs[1]), bias=_bias(op, b),
                q=requant_q(op, graph, g["cout"]))


DEPTHWISE = (  # first match wins; the last entry always matches
    KernelSpec("dwconv_kxk_s8_ref", always, no_scratch, reference_context),
)

FAMILIES = {OpKind.DEPTHWISE_CONV_2D: DEPTHWISE}
