"""Top-level code generation API: Graph + CompileOptions → generated C project (in memory or on disk)."""
from __future__ import annotations

from pathlib import Path

from .emit.model import GeneratedProject, generate
from .emit.project import write_folder
from .errors import TinyMLError
from .ir.graph import Graph
from .ir.verify import verify
from .kernels.registry import HOST, Target, TargetLike
from .options import CompileOptions


def resolve_target(target: str | TargetLike) -> TargetLike:
    """"host" → the portable-C target; a board id → its Board (anything with `.dsp` is used as is)."""
    if not isinstance(target, str):
        return target
    if target == "host":
        return HOST
    try:
        from .boards import load_board
    except ImportError:
        raise TinyMLError(f"unknown target '{target}': board support is not installed; use --target host") from None
    return load_board(target)


def compile_model(graph: Graph, options: CompileOptions = CompileOptions(), *, plan=None,
                  prefix: str = "tinyml", target: str | TargetLike | None = None) -> GeneratedProject:
    """Generate the C sources of `graph` (verified first); `plan` overrides the memory plan."""
    verify(graph)
    return generate(graph, resolve_target(target if target is not None else options.target), plan=plan,
                    prefix=prefix, alignment=options.alignment, canaries=options.debug_canaries)


def write_project(graph: Graph, out_dir: str | Path, options: CompileOptions = CompileOptions(), **kwargs
                  ) -> GeneratedProject:
    """compile_model, then write its files into `out_dir` atomically; returns the project."""
    project = compile_model(graph, options, **kwargs)
    write_folder(project.files, out_dir)
    return project


__all__ = ["GeneratedProject", "Target", "compile_model", "resolve_target", "write_project"]
