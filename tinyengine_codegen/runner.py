"""Generate, build and run a model on a target: the host compiler, or a board's firmware in QEMU.

Used by `tinyml run`, `tinyml bench` and `tinyml simulate --run`; returns data, prints nothing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
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

    output: np.ndarray  # the first output (outputs[0])
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
    outputs: tuple[np.ndarray, ...] = ()  # every output, in the model's order


def _cast(graph: Graph, name: str, what: str, x) -> np.ndarray:
    """`x` cast to tensor `name`'s shape; TinyMLError naming both shapes/dtypes when it does not fit."""
    t = graph.tensors[name]
    want = np.dtype(_NP[t.dtype])
    x = np.asarray(x)
    if x.dtype != want:
        if x.dtype.kind == want.kind == "f" or (  # float arrays go in as float32 (the model's QUANTIZE maps them)
            x.dtype.kind in "iu"
            and want.kind in "iu"
            and x.size
            and x.min() >= np.iinfo(want).min
            and x.max() <= np.iinfo(want).max
        ):
            x = x.astype(want)
        else:
            raise TinyMLError(f"{what} has dtype {x.dtype}; model input '{t.name}' is {t.dtype}{list(t.shape)}")
    if x.size != t.size:
        raise TinyMLError(
            f"{what} has shape {list(x.shape)} ({x.size} values); model input '{t.name}' is "
            f"{t.dtype}{list(t.shape)} ({t.size} values)"
        )
    return x.reshape(t.shape)


def check_input(graph: Graph, x: np.ndarray) -> np.ndarray:
    """`x` cast to the (first) model input's shape and dtype."""
    return _cast(graph, graph.inputs[0], "input", x)


def check_inputs(graph: Graph, x) -> list[np.ndarray]:
    """One array per model input, each cast to its tensor: `x` is an array (one-input models), a sequence in
    input order, or a mapping keyed by input index ("0", "1", ... or ints) or by tensor name."""
    n = len(graph.inputs)
    if isinstance(x, Mapping):
        keys = {str(k): v for k, v in x.items()}
        arrays = []
        for i, name in enumerate(graph.inputs):
            hit = [k for k in (str(i), name) if k in keys]
            if not hit:
                raise TinyMLError(f"no array for model input {i} '{name}' (keys given: {', '.join(sorted(keys))})")
            arrays.append(keys[hit[0]])
        extra = sorted(set(keys) - {str(i) for i in range(n)} - set(graph.inputs))
        if extra:
            raise TinyMLError(f"array '{extra[0]}' matches no model input (use indices 0..{n - 1} or input names)")
    elif isinstance(x, (list, tuple)):
        arrays = list(x)
    else:
        arrays = [x]
    if len(arrays) != n:
        raise TinyMLError(f"{len(arrays)} input arrays given; the model has {n} inputs (pass an .npz keyed 0..{n - 1})")
    return [
        _cast(graph, name, f"input {i}" if n > 1 else "input", a)
        for i, (name, a) in enumerate(zip(graph.inputs, arrays))
    ]


def run_model(
    graph: Graph,
    x: np.ndarray,
    options: CompileOptions,
    *,
    count: bool = True,
    flash: bool = False,
    ignore_fit: bool = False,
) -> RunResult:
    """Generate C for `options.target`, build it, run it on `x` (see check_inputs); every output has its tensor's
    shape. flash: also measure the deployable firmware's flash (a second, marker-free compile and link).
    On a board, a model whose arena or firmware exceeds the board's SRAM or flash budget is refused unless
    `ignore_fit`."""
    x = check_inputs(graph, x)
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


def _run_host(graph: Graph, x: list[np.ndarray], options: CompileOptions) -> RunResult:
    from .build.host import build_host, run_host
    from .compile import write_project

    with tempfile.TemporaryDirectory(prefix="tinyml-host-") as tmp:
        project = write_project(graph, Path(tmp) / "model", options)
        exe = build_host(Path(tmp) / "model", Path(tmp) / "model.exe")
        ys = run_host(exe, x)
    ys = tuple(np.asarray(y).reshape(graph.tensors[n].shape) for y, n in zip(ys, graph.outputs))
    return RunResult(ys[0], "host", project.arena_bytes, kernels=project.kernels, outputs=ys)


def _run_board(
    graph: Graph, x: list[np.ndarray], options: CompileOptions, count: bool, flash: bool, ignore_fit: bool
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
    ys = split_outputs(graph, res.output_bytes)
    return RunResult(
        ys[0],
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
        ys,
    )


def split_outputs(graph: Graph, data: bytes) -> tuple[np.ndarray, ...]:
    """The firmware's output bytes (every output, output 0 first) as one array per model output."""
    ts = [graph.tensors[n] for n in graph.outputs]
    if len(data) != sum(t.nbytes for t in ts):
        raise TinyMLError(
            f"the firmware printed {len(data)} output bytes; the model's outputs have {sum(t.nbytes for t in ts)}"
        )
    ys, at = [], 0
    for t in ts:
        ys.append(np.frombuffer(data[at : at + t.nbytes], dtype=_NP[t.dtype]).reshape(t.shape))
        at += t.nbytes
    return tuple(ys)
