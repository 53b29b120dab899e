"""Generate, build and run a model on a target: the host compiler, or a board's firmware in QEMU.

Used by `tinyml run`, `tinyml bench` and `tinyml simulate --run`; returns data, prints nothing.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import TinyMLError
from .ir.graph import Graph
from .options import CompileOptions

_NP = {"int8": np.int8, "float32": np.float32, "uint8": np.uint8, "int16": np.int16, "int32": np.int32}


@dataclass(frozen=True)
class RunResult:
    """Outputs of one run; instruction counts, estimated cycles (by cycle-model id, docs/cycle_model.md) and
    section sizes only for QEMU targets; flash_bytes (the deployable firmware's text + data, without the test
    harness's input and markers) only when asked for."""

    output: np.ndarray
    target: str
    arena_bytes: int
    instructions: int | None = None
    layer_instructions: tuple[int, ...] = ()
    text_bytes: int | None = None
    data_bytes: int | None = None
    bss_bytes: int | None = None
    kernels: tuple[str, ...] = ()
    cycles: dict[str, int] = field(default_factory=dict)
    layer_cycles: dict[str, tuple[int, ...]] = field(default_factory=dict)
    flash_bytes: int | None = None


def check_input(graph: Graph, x: np.ndarray) -> np.ndarray:
    """`x` cast to the model input's shape; TinyMLError naming both shapes/dtypes when it does not fit."""
    t = graph.tensors[graph.inputs[0]]
    want = np.dtype(_NP[t.dtype])
    x = np.asarray(x)
    if x.dtype != want:
        if x.dtype.kind == want.kind == "f" or (  # float arrays go in as float32 (the model's QUANTIZE maps them)
            x.dtype.kind == want.kind == "i"
            and x.size
            and x.min() >= np.iinfo(want).min
            and x.max() <= np.iinfo(want).max
        ):
            x = x.astype(want)
        else:
            raise TinyMLError(f"input has dtype {x.dtype}; model input '{t.name}' is {t.dtype}{list(t.shape)}")
    if x.size != t.size:
        raise TinyMLError(
            f"input has shape {list(x.shape)} ({x.size} values); model input '{t.name}' is "
            f"{t.dtype}{list(t.shape)} ({t.size} values)"
        )
    return x.reshape(t.shape)


def run_model(
    graph: Graph,
    x: np.ndarray,
    options: CompileOptions,
    *,
    count: bool = True,
    flash: bool = False,
    ignore_fit: bool = False,
) -> RunResult:
    """Generate C for `options.target`, build it, run it on `x`; the output has the model output's shape.
    flash: also measure the deployable firmware's flash (a second, marker-free compile and link).
    On a board, a model whose arena or firmware exceeds the board's SRAM or flash budget is refused unless
    `ignore_fit`."""
    x = check_input(graph, x)
    if options.target.is_host:
        return _run_host(graph, x, options)
    return _run_board(graph, x, options, count, flash, ignore_fit)


def check_fit(graph: Graph, board, what: str, needed: int, available: int) -> None:
    """TinyMLError when `needed` bytes of `what` exceed the board's `available` budget."""
    if needed > available:
        raise TinyMLError(
            f"model '{graph.name}' needs {needed:,} B of {what} on board '{board.id}', which has {available:,} B "
            f"for the model ({needed - available:,} B over); try --patches auto, or --ignore-fit to run it in "
            "QEMU anyway"
        )


def _run_host(graph: Graph, x: np.ndarray, options: CompileOptions) -> RunResult:
    from .build.host import build_host, run_host
    from .compile import write_project

    with tempfile.TemporaryDirectory(prefix="tinyml-host-") as tmp:
        project = write_project(graph, Path(tmp) / "model", options)
        exe = build_host(Path(tmp) / "model", Path(tmp) / "model.exe")
        y = run_host(exe, x)
    out_t = graph.tensors[graph.outputs[0]]
    return RunResult(np.asarray(y).reshape(out_t.shape), "host", project.arena_bytes, kernels=project.kernels)


def _run_board(
    graph: Graph, x: np.ndarray, options: CompileOptions, count: bool, flash: bool, ignore_fit: bool
) -> RunResult:
    from .build.flash_size import deployable_size
    from .build.platformio import build, prepare_project
    from .compile import write_project
    from .run.qemu import run_qemu

    board = options.target.board
    if not board.is_virtual:
        raise TinyMLError(
            f"board '{board.id}' is a real board: `tinyml run` executes in QEMU only "
            f"(--target qemu-m4 or qemu-m7); use `tinyml flash MODEL --board {board.id}`"
        )
    with tempfile.TemporaryDirectory(prefix="tinyml-fw-") as tmp:
        project = write_project(graph, Path(tmp) / "model", options)
        if not ignore_fit:
            check_fit(graph, board, "SRAM", project.arena_bytes, board.sram_bytes)
        fw = prepare_project(Path(tmp) / "model", board, Path(tmp) / "fw", x)
        built = build(fw, board)
        if not ignore_fit:
            check_fit(graph, board, "flash", built.text_bytes + built.data_bytes, board.flash_bytes)
        res = run_qemu(built.elf_path, board, count=count)
        flash_bytes = deployable_size(Path(tmp) / "model", board).total if flash else None
    out_t = graph.tensors[graph.outputs[0]]
    y = np.frombuffer(res.output_bytes, dtype=_NP[out_t.dtype])
    if y.size != out_t.size:
        raise TinyMLError(f"the firmware printed {y.size} output values; model output '{out_t.name}' has {out_t.size}")
    return RunResult(
        y.reshape(out_t.shape),
        board.id,
        project.arena_bytes,
        res.instructions,
        tuple(res.layer_instructions),
        built.text_bytes,
        built.data_bytes,
        built.bss_bytes,
        project.kernels,
        res.cycles,
        res.layer_cycles,
        flash_bytes,
    )
