"""Kernel table: every family module's specs in preference order, and `select`, which picks one per op.

This is the only module that imports the kernel families (kernels/spec.py holds the types they share). Within a
family the first matching spec wins, and the last spec of every family matches any op of its kind. On cores with
the DSP extension the Cortex-M SIMD variants come first in their families, for whole tensors and for patch stages.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import InternalError, TinyMLError
from ..ir.graph import Graph, Op
from ..ir.ops import OpKind
from . import (
    activation_more,
    binary_more,
    conv,
    depthwise,
    elementwise,
    lstm,
    misc,
    movement,
    reduce,
    region,
    resample,
    shuffle,
)
from .conv_inplace import CONV2D_INPLACE
from .cortexm_add import ADD_SIMD
from .cortexm_conv import CONV2D_SIMD, DEPTHWISE_SIMD
from .cortexm_fc import FC_SIMD
from .cortexm_pool import POOL_SIMD
from .cortexm_region import REGION_SIMD
from .cortexm_tconv import TCONV_SIMD

# Transition re-exports: the spec types now live in kernels/spec.py; import them from there.
from .spec import (  # noqa: F401
    HOST,
    Binding,
    Context,
    KernelSpec,
    Target,
    TargetLike,
    WeightTable,
    activation_inputs,
    always,
    may_run_in_place,
    no_scratch,
)

Families = Mapping[OpKind, tuple[KernelSpec, ...]]

PORTABLE: dict[OpKind, tuple[KernelSpec, ...]] = {}
_MODULES = (conv, depthwise, elementwise, misc, movement, activation_more, binary_more, reduce, resample, shuffle, lstm)
for _module in _MODULES:
    PORTABLE.update(_module.FAMILIES)
PORTABLE[OpKind.CONV_2D] = CONV2D_INPLACE + PORTABLE[OpKind.CONV_2D]  # chosen only for ops the plan runs in place

# The Cortex-M SIMD specs (their predicates require the DSP extension), placed before the portable ones.
CORTEXM: dict[OpKind, tuple[KernelSpec, ...]] = {
    OpKind.ADD: ADD_SIMD,
    OpKind.AVERAGE_POOL_2D: POOL_SIMD,
    OpKind.CONV_2D: CONV2D_SIMD,
    OpKind.DEPTHWISE_CONV_2D: DEPTHWISE_SIMD,
    OpKind.FULLY_CONNECTED: FC_SIMD,
    OpKind.TRANSPOSE_CONV: TCONV_SIMD,
}


def with_cortexm(families: Families) -> dict[OpKind, tuple[KernelSpec, ...]]:
    """`families` (OpKind → specs) with the Cortex-M SIMD specs placed first in their families."""
    out = dict(families)
    for kind, specs in CORTEXM.items():
        out[kind] = tuple(specs) + tuple(out.get(kind, ()))
    return out


FAMILIES: Families = with_cortexm(PORTABLE)

# Patch-stage families: the Cortex-M SIMD region kernels first, the portable region kernel last.
STAGE_FAMILIES: Families = {kind: REGION_SIMD.get(kind, ()) + specs for kind, specs in region.PORTABLE_STAGE.items()}


def families() -> Families:
    """Every operator kind → its kernel specs in preference order."""
    return FAMILIES


def select(op: Op, graph: Graph, target: TargetLike) -> KernelSpec:
    """The first spec of op's family whose predicate holds; the last entry of a family always matches."""
    family = FAMILIES.get(op.kind)
    if not family:
        raise TinyMLError(
            f"{op.name} ({op.kind.value}): no C kernel for this operator; supported: "
            f"{', '.join(sorted(k.value for k in FAMILIES))}"
        )
    for spec in family:
        if not spec.inplace and spec.matches(op, graph, target):
            return spec
    raise InternalError(
        f"{op.name} ({op.kind.value}): no kernel of the family matched; its last entry must always match"
    )


def stage_specs(op: Op, graph: Graph, target: TargetLike) -> tuple[KernelSpec, ...]:
    """The patch-stage specs that match `op` (empty when the op cannot run region by region in C)."""
    return tuple(s for s in STAGE_FAMILIES.get(op.kind, ()) if s.matches(op, graph, target))


def first_stage_spec(op: Op, graph: Graph, target: TargetLike) -> KernelSpec | None:
    """stage_specs(op, ...)[0] (the preferred patch-stage kernel), or None, evaluating no predicate after it."""
    return next((s for s in STAGE_FAMILIES.get(op.kind, ()) if s.matches(op, graph, target)), None)


def spec_named(op: Op, name: str, *, stage: bool = False) -> KernelSpec:
    """The spec called `name` in op's family (the patch-stage family when `stage`); InternalError if none."""
    table = STAGE_FAMILIES if stage else FAMILIES
    for spec in table.get(op.kind, ()):
        if spec.name == name:
            return spec
    raise InternalError(
        f"{op.name} ({op.kind.value}): the plan names kernel '{name}', which is not in its "
        f"{'patch-stage ' if stage else ''}family"
    )
