"""Patch-stage kernel specs: one C function per stage op that runs the op on one region of its tensors.

A region kernel takes its operands' buffers and a `const tinyml_region_t *r` (templates/runtime/tinyml_runtime.h)
that says, for one patch, where each operand's region starts and how far apart its rows are, how much padding
surrounds the first operand's region, and the size and place of the output region. Every number in `r` comes
from the code generator's tables (emit/stage.py); the kernel itself only knows the op's constant parameters
(weights, requantization, kernel size, strides, channels). Padding is applied as TFLite applies it: padded taps
of a convolution or pool are skipped, a PAD op writes its output zero point.

These specs are used only for ops inside a patch stage and live apart from the ordinary families.
Pointwise ops (elementwise and activations) reuse their ordinary portable flat kernel, row by row. The table of
kernels/registry.py puts the SIMD region kernels of kernels/cortexm_region.py before these on DSP cores.
"""

from __future__ import annotations

from ..errors import InternalError
from ..ir.graph import DTYPE_BYTES, Graph, Op
from ..ir.ops import POINTWISE_KINDS, OpKind
from . import misc
from .common import in_tensor, out_tensor
from .conv import generic_context
from .depthwise import reference_context
from .elementwise import BINARY
from .misc import pool_context
from .spec import HOST, Binding, Context, KernelSpec, TargetLike, activation_inputs, no_scratch

_POINTWISE = sorted(POINTWISE_KINDS, key=lambda k: k.value)


def _nhwc_int8_out(op: Op, graph: Graph, target: TargetLike) -> bool:
    y = out_tensor(graph, op)
    return len(y.shape) == 4 and y.shape[0] == 1 and y.dtype == "int8"


def _windowed(op: Op, graph: Graph, target: TargetLike) -> bool:
    return _nhwc_int8_out(op, graph, target) and in_tensor(graph, op).dtype == "int8"


def pad_context(op: Op, graph: Graph, b: Binding) -> Context:
    y = out_tensor(graph, op)
    return dict(c=y.shape[3], value=y.zero_point)


def _flat_spec(op: Op, graph: Graph) -> KernelSpec:
    """The ordinary whole-tensor portable kernel a pointwise region kernel runs on each row."""
    if op.kind in (OpKind.ADD, OpKind.MUL):
        return BINARY[0]  # binary_s8_flat: stage operands never broadcast
    for spec in misc.FAMILIES[op.kind]:
        if spec.matches(op, graph, HOST):
            return spec
    raise InternalError(f"{op.name} ({op.kind.value}): no portable flat kernel matched for the patch stage")


def pointwise_context(op: Op, graph: Graph, b: Binding) -> Context:
    inner = _flat_spec(op, graph)
    n_in = len(activation_inputs(graph, op))
    row_params = ", ".join([f"const int8_t *in{k}" for k in range(n_in)] + ["int8_t *out0", "int n"])
    return dict(
        inner.context(op, graph, b),
        inner=inner.name,
        n_in=n_in,
        row_params=row_params,
        c=out_tensor(graph, op).shape[3],
    )


def _pointwise_ok(op: Op, graph: Graph, target: TargetLike) -> bool:
    acts = activation_inputs(graph, op)
    return (
        _nhwc_int8_out(op, graph, target)
        and 1 <= len(acts) <= 2
        and all(graph.tensor(t).shape == out_tensor(graph, op).shape for t in acts)
        and all(DTYPE_BYTES[graph.tensor(t).dtype] in (1, 4) for t in acts)
    )


PORTABLE_STAGE: dict[OpKind, tuple[KernelSpec, ...]] = {
    OpKind.CONV_2D: (KernelSpec("conv2d_s8_region", _windowed, no_scratch, generic_context),),
    OpKind.DEPTHWISE_CONV_2D: (KernelSpec("dwconv_s8_region", _windowed, no_scratch, reference_context),),
    OpKind.MAX_POOL_2D: (KernelSpec("maxpool_s8_region", _windowed, no_scratch, pool_context),),
    OpKind.AVERAGE_POOL_2D: (KernelSpec("avgpool_s8_region", _windowed, no_scratch, pool_context),),
    OpKind.PAD: (KernelSpec("pad_s8_region", _windowed, no_scratch, pad_context),),
    **{kind: (KernelSpec("pointwise_s8_region", _pointwise_ok, no_scratch, pointwise_context),) for kind in _POINTWISE},
}
