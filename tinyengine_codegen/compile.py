"""Top-level code generation API: Graph + CompileOptions → generated C project (in memory or on disk)."""

from __future__ import annotations

from pathlib import Path

from .emit.model import GeneratedProject, generate
from .emit.project import write_folder
from .errors import InternalError
from .ir.graph import Graph
from .ir.verify import verify
from .options import CompileOptions
from .passes import ModelPlan, plan_model
from .target import Target


def compile_model(
    graph: Graph, options: CompileOptions = CompileOptions(), *, plan: ModelPlan | None = None, prefix: str = "tinyml"
) -> GeneratedProject:
    """Generate the C sources of `graph` (verified first) for `options.target` from `plan_model(graph, options)`,
    the plan `tinyml simulate` reports: same op order, kernels, in-place ops, patch stage and arena bytes.
    `plan` passes a ModelPlan made already (from this graph)."""
    verify(graph)
    mp = plan if plan is not None else plan_model(graph, options)
    if not isinstance(mp, ModelPlan):
        raise InternalError(f"compile_model takes a ModelPlan as plan, got {type(mp).__name__}")
    return generate(mp, prefix=prefix, canaries=options.debug_canaries)


def write_project(
    graph: Graph, out_dir: str | Path, options: CompileOptions = CompileOptions(), *, force: bool = False, **kwargs
) -> GeneratedProject:
    """compile_model, then write its files into `out_dir` atomically (emit.project: a folder holding other
    files is refused unless `force`); returns the project."""
    project = compile_model(graph, options, **kwargs)
    write_folder(project.files, out_dir, command="compile", force=force)
    return project


__all__ = ["GeneratedProject", "Target", "compile_model", "write_project"]
