"""The compiler pipeline: named passes, each a pure function (ModelPlan, CompileOptions) -> ModelPlan, run in
the order of PIPELINE. `plan_model` runs them all; `tinyml compile --dump-after PASS` prints the IR after one.

fold_constants  evaluate ops whose inputs are all constants
fuse_pad        fold a zero-point PAD into the VALID convolution that reads it
choose_layout   activation layout per op (NHWC throughout today)
order_ops       the topological order with the fewest live bytes
bind_kernels    per op the kernels whose preconditions hold on the target, fastest first
mark_inplace    ops that write their output over their input
plan_arena      each op's kernel (scratch under the live peak) and the arena offsets
plan_patches    the patch stage (MCUNetV2) when it lowers the arena
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable

from ..errors import InternalError, TinyMLError
from ..ir.graph import Graph
from ..ir.verify import verify
from ..options import CompileOptions
from ..planner.buffers import lifetimes
from ..planner.check import check_plan
from ..planner.model_plan import ModelPlan
from ..planner.patches import patched_buffers
from .arena import plan_arena
from .bind import bind_kernels
from .fold import fold_constants
from .fuse_pad import fuse_pad
from .inplace import mark_inplace
from .layout import choose_layout
from .order import order_ops
from .patches import plan_patches

Pass = Callable[[ModelPlan, CompileOptions], ModelPlan]

PIPELINE: tuple[tuple[str, Pass], ...] = (
    ("fold_constants", fold_constants),
    ("fuse_pad", fuse_pad),
    ("choose_layout", choose_layout),
    ("order_ops", order_ops),
    ("bind_kernels", bind_kernels),
    ("mark_inplace", mark_inplace),
    ("plan_arena", plan_arena),
    ("plan_patches", plan_patches),
)
PASS_NAMES = tuple(name for name, _ in PIPELINE)


def check_model_plan(mp: ModelPlan, after: str) -> None:
    """The IR verifier (ir/verify.py) and, once there is an arena, the independent overlap check of the plan."""
    try:
        verify(mp.graph)
    except TinyMLError as err:
        raise InternalError(f"after pass {after}: {err}") from err
    if mp.plan is None:
        return
    if mp.patches is not None:
        bufs = patched_buffers(mp.graph, mp.patches, scratch=mp.scratch, inplace=mp.inplace)
    else:
        bufs = lifetimes(mp.graph, scratch=mp.scratch, inplace=mp.inplace)
    check_plan(bufs, mp.plan)


def run_pipeline(
    graph: Graph,
    options: CompileOptions = CompileOptions(),
    *,
    check: bool = False,
    observe: Callable[[str, ModelPlan], None] | None = None,
    passes: Iterable[tuple[str, Pass]] = PIPELINE,
) -> ModelPlan:
    """Run `passes` on `graph`; with `check` verify the IR (and the arena) after every pass; `observe(name, mp)`
    sees the plan after each pass (--dump-after)."""
    # The passes allocate many small short-lived objects and create no reference cycles that must be freed
    # promptly: the cyclic garbage collector is paused while they run (its young-generation sweeps cost up to a third
    # of a plan, varying from run to run) and resumed afterwards, when it collects anything left as usual.
    paused = gc.isenabled()
    gc.disable()
    try:
        mp = ModelPlan(graph, target=options.target)
        for name, fn in passes:
            mp = fn(mp, options)
            if check:
                check_model_plan(mp, name)
            if observe is not None:
                observe(name, mp)
        return mp
    finally:
        if paused:
            gc.enable()


def plan_model(graph: Graph, options: CompileOptions = CompileOptions()) -> ModelPlan:
    """The complete memory plan of `graph` for `options.target` (every pass of PIPELINE, checked after each
    one when options.debug_canaries is on)."""
    return run_pipeline(graph, options, check=options.debug_canaries)


__all__ = ["PASS_NAMES", "PIPELINE", "ModelPlan", "check_model_plan", "plan_model", "run_pipeline"]
