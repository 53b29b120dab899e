"""DEPTHWISE_CONV_2D kernel specs and their template contexts (filters 1 x H x W x (C*M)).

dwconv_s8_inplace runs with its output over its input (MCUNet's in-place depthwise): it computes one output
channel for every pixel into a scratch buffer of out_h x out_w bytes, then scatters it into that channel's bytes
of the shared NHWC buffer. Only channel c bytes are overwritten, and every later channel reads only its own
bytes, so this is safe for any stride, padding and dilation (depth multiplier 1: output channels = input channels,
and the output never has more pixels than the input).
"""

from __future__ import annotations

from ..ir.graph import Graph, Op
from ..ir.ops import OpKind
from .common import in_tensor, out_tensor
from .conv import _bias, geometry, requant_q
from .spec import Binding, Context, KernelSpec, TargetLike, always, no_scratch


def reference_context(op: Op, graph: Graph, b: Binding) -> Context:
    g = geometry(op, graph)
    assert in_tensor(graph, op, 1).shape[3] == g["cout"]
    return dict(
        g,
        mult=op.attrs.depth_multiplier,
        weights=b.const(op.inputs[1]),
        bias=_bias(op, b),
        q=requant_q(op, graph, g["cout"]),
    )


def can_run_in_place(op: Op, graph: Graph, target: TargetLike) -> bool:
    x, y = in_tensor(graph, op, 0), out_tensor(graph, op)
    return (
        op.attrs.depth_multiplier == 1
        and len(x.shape) == 4
        and x.shape[0] == 1
        and x.dtype == y.dtype == "int8"
        and x.shape[3] == y.shape[3]
        and y.nbytes <= x.nbytes
    )


def inplace_scratch(op: Op, graph: Graph) -> int:
    """One output channel for every output pixel."""
    y = out_tensor(graph, op)
    return y.shape[1] * y.shape[2]


DEPTHWISE = (  # first match wins; the last entry always matches; in-place variants only for in-place ops
    KernelSpec("dwconv_s8_inplace", can_run_in_place, inplace_scratch, reference_context, inplace=True),
    KernelSpec("dwconv_kxk_s8_ref", always, no_scratch, reference_context),
)

FAMILIES = {OpKind.DEPTHWISE_CONV_2D: DEPTHWISE}
