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
    graph: Graph,
    options: CompileOptions = CompileOptions(),
    *,
    plan: ModelPlan | None = None,
    prefix: str = "tinyml",
    labels: tuple[str, ...] = (),
    info: dict | None = None,
) -> GeneratedProject:
    """Generate the C sources of `graph` (verified first) for `options.target` from `plan_model(graph, options)`,
    the plan `tinyml simulate` reports: same op order, kernels, in-place ops, patch stage and arena bytes.
    `plan` passes a ModelPlan made already (from this graph). labels, info: class names (NAME_labels) and extra
    manifest facts, e.g. from `model_metadata`."""
    verify(graph)
    mp = plan if plan is not None else plan_model(graph, options)
    if not isinstance(mp, ModelPlan):
        raise InternalError(f"compile_model takes a ModelPlan as plan, got {type(mp).__name__}")
    return generate(mp, prefix=prefix, canaries=options.debug_canaries, labels=tuple(labels), info=info)


def model_metadata(model_path: str | Path, graph: Graph) -> tuple[tuple[str, ...], dict]:
    """(labels, manifest facts) of a model that `tinyml search` wrote: its report.json beside the model file gives
    the class names and the input preprocessing. ((), {}) for any other model; labels only when their count is
    the first output's element count."""
    import json

    report = Path(model_path).with_name("report.json")
    try:
        data = json.loads(report.read_text())
    except (OSError, ValueError):
        return (), {}
    labels = data.get("labels") if isinstance(data, dict) else None
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        return (), {}
    if len(labels) != graph.tensor(graph.outputs[0]).size:
        return (), {}
    info = {"preprocessing": data["preprocessing"]} if isinstance(data.get("preprocessing"), dict) else {}
    return tuple(labels), info


def write_project(
    graph: Graph, out_dir: str | Path, options: CompileOptions = CompileOptions(), *, force: bool = False, **kwargs
) -> GeneratedProject:
    """compile_model, then write its files into `out_dir` atomically (emit.project: a folder holding other
    files is refused unless `force`); returns the project."""
    project = compile_model(graph, options, **kwargs)
    write_folder(project.files, out_dir, command="compile", force=force)
    return project


__all__ = ["GeneratedProject", "Target", "compile_model", "model_metadata", "write_project"]
