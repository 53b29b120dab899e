"""choose_layout: the activation layout of every op; today NHWC throughout, the one layout every kernel takes."""

from __future__ import annotations

from ..options import CompileOptions
from ..planner.model_plan import ModelPlan


def choose_layout(mp: ModelPlan, options: CompileOptions) -> ModelPlan:
    """Keep NHWC for every activation (the importers already convert ONNX's NCHW to it). A per-layer choice of
    NCHW, with the transposes it needs and their cost, belongs here; until a kernel takes another layout this
    pass changes nothing."""
    return mp
