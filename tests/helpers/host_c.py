"""Generate, build and run many graphs as C on the host in ONE executable (symbol prefix m<k> per graph)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tinyengine_codegen.build.host import build_host_many, run_host
from tinyengine_codegen.compile import write_project
from tinyengine_codegen.ir.graph import Graph


def run_graphs_in_c(
    graphs: Sequence[Graph], inputs: Sequence[np.ndarray], work: Path, *, opt: str = "-O1", sanitize: bool = False
) -> list[np.ndarray]:
    """Output batch of graphs[k] on inputs[k] (a batch of inputs with a leading axis) through the generated C."""
    dirs = []
    for k, g in enumerate(graphs):
        write_project(g, work / f"m{k}", prefix=f"m{k}")
        dirs.append(work / f"m{k}")
    exe = build_host_many(dirs, work / "models.exe", opt=opt, sanitize=sanitize)
    return [run_host(exe, np.asarray(x), model=k) for k, x in enumerate(inputs)]
