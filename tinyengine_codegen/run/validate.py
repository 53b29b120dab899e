"""Validate a model on a board: build the validation firmware, stream samples over the console UART, compare
every output with the reference executor bit for bit, and collect the cycles of every inference and layer.

Real boards: flashed (run/flash.py) and reached through a serial port. Virtual boards: QEMU with the console UART
on a socket and the instruction-counting plugin, so each inference also has exact instruction counts (the DWT is
not emulated there: `cycles` are then the instruction counts, as `cycle_source` says).
Returns data; prints nothing (progress goes to an optional callback).
"""

from __future__ import annotations

import statistics
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinyengine_codegen.boards import Board
from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.ir.graph import Graph
from tinyengine_codegen.options import CompileOptions
from tinyengine_codegen.run import invoke_counts
from tinyengine_codegen.run.session import BoardReset, Session

_NP = {"int8": np.int8, "float32": np.float32, "uint8": np.uint8, "int16": np.int16, "int32": np.int32}
MAX_RESETS = 3
BOOT_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class LayerFigure:
    index: int
    kernel: str
    cycles: int  # median over the samples
    instructions: int | None = None


@dataclass(frozen=True)
class ValidateReport:
    """cycles: median per inference (cycle_source says what counted them); instructions: exact, QEMU only."""

    board: str
    transport: str
    port: str
    samples: int
    bit_exact_samples: int
    mismatched: tuple[int, ...]
    cycles: int
    cycle_source: str
    instructions: int | None
    ms: float
    clock_hz: int
    clock_rated: bool
    resets: int
    retries: int
    layers: tuple[LayerFigure, ...]
    banner: str
    outputs: tuple[tuple[np.ndarray, ...], ...] = field(repr=False, default=())

    def to_json(self) -> dict:
        keys = ("board", "transport", "port", "samples", "bit_exact_samples", "mismatched", "cycles", "cycle_source",
                "instructions", "ms", "clock_hz", "clock_rated", "resets", "retries")  # fmt: skip
        out = {k: getattr(self, k) for k in keys}
        out["mismatched"] = list(self.mismatched)
        out["layers"] = [
            {"index": la.index, "kernel": la.kernel, "cycles": la.cycles, "instructions": la.instructions}
            for la in self.layers
        ]
        return out


def _tensor_bytes(graph: Graph, names: Sequence[str], arrays: Sequence[np.ndarray]) -> list[bytes]:
    out = []
    for name, arr in zip(names, arrays):
        t = graph.tensors[name]
        out.append(np.ascontiguousarray(np.asarray(arr).astype(_NP[t.dtype], copy=False).reshape(-1)).tobytes())
    return out


def _run_samples(session: Session, graph: Graph, samples, progress) -> tuple[list, list, int]:
    """(outputs per sample, (RESULT, boot number) per sample, resets survived)."""
    outs, results, resets, i = [], [], 0, 0
    out_ts = [graph.tensors[n] for n in graph.outputs]
    while i < len(samples):
        try:
            for k, data in enumerate(_tensor_bytes(graph, graph.inputs, samples[i])):
                session.write_input(k, data)
            res = session.invoke()
            raw = [session.read_output(k, t.size * np.dtype(_NP[t.dtype]).itemsize) for k, t in enumerate(out_ts)]
            _check_output_crcs(raw, res.output_crcs, i)
        except BoardReset:
            resets += 1
            if resets > MAX_RESETS:
                raise TinyMLError(
                    f"the board reset {resets} times during validation (last at sample {i}); check its power "
                    "supply and the firmware's stack (see the boot banner)"
                ) from None
            continue  # the board is fresh: this sample again
        outs.append(tuple(np.frombuffer(b, _NP[t.dtype]).reshape(t.shape) for b, t in zip(raw, out_ts)))
        results.append((res, resets))
        if progress:
            progress(i + 1, len(samples))
        i += 1
    return outs, results, resets


def _check_output_crcs(raw: list[bytes], crcs: tuple[int, ...], sample: int) -> None:
    """The bytes read back must be the bytes the board hashed right after the inference."""
    for k, (data, crc) in enumerate(zip(raw, crcs)):
        if zlib.crc32(data) != crc:
            raise TinyMLError(
                f"output {k} of sample {sample} read back from the board does not match the CRC-32 the board sent "
                "with its result (the link corrupted it, or the firmware overwrote the output); run validate again"
            )


def check_firmware(info, board: Board, graph: Graph, model_id: int) -> None:
    in_bytes = tuple(graph.tensors[n].size * np.dtype(_NP[graph.tensors[n].dtype]).itemsize for n in graph.inputs)
    if info.board != board.id or info.model_id != model_id or info.input_bytes != in_bytes:
        raise TinyMLError(
            f"the board runs other firmware (board '{info.board}', model id {info.model_id:08x}, inputs "
            f"{list(info.input_bytes)} B; expected '{board.id}', {model_id:08x}, {list(in_bytes)} B); flash it again"
        )


def validate_on(
    session: Session,
    graph: Graph,
    board: Board,
    samples: Sequence[Sequence[np.ndarray]],
    *,
    model_id: int,
    kernels: Sequence[str] = (),
    counts: Callable[[], str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ValidateReport:
    """Run every sample through a board whose validation firmware is up on `session`; compare with the reference.
    counts: returns the counting plugin's output once the firmware stopped (virtual boards)."""
    from tinyengine_codegen.reference.run import run_graph

    info = session.wait_boot(BOOT_TIMEOUT_S)
    check_firmware(info, board, graph, model_id)
    banner = session.reader.take_text()
    outs, tagged, resets = _run_samples(session, graph, samples, progress)
    results = [r for r, _ in tagged]
    bad = [r.invoke_index for r in results if r.status != 0]
    if bad:
        raise TinyMLError(f"tinyml_invoke returned status {results[0].status} on the board (inference {bad[0]})")
    mismatched = []
    for i, sample in enumerate(samples):
        ref = run_graph(graph, [np.asarray(x).reshape(graph.tensors[n].shape) for x, n in zip(sample, graph.inputs)])
        if not all(np.array_equal(a, np.asarray(b).reshape(a.shape)) for a, b in zip(outs[i], ref)):
            mismatched.append(i)
    session.exit()
    instr = layer_instr = None
    if counts is not None:
        boots = invoke_counts.per_invoke(counts())
        try:
            found = [boots[boot][r.invoke_index] for r, boot in tagged]
        except IndexError:
            raise TinyMLError(
                f"the counting plugin saw {sum(map(len, boots))} inferences in {len(boots)} boots, fewer than the "
                "board reported; the instruction counts are incomplete"
            ) from None
        instr = [f[0] for f in found]
        layer_instr = [f[1] for f in found]
    use_instr = info.timer == "none" and instr is not None
    cycles = [int(c) for c in instr] if use_instr else [r.cycles for r in results]
    layer_cycles = layer_instr if use_instr else [r.layer_cycles for r in results]
    layers = tuple(
        LayerFigure(
            k,
            kernels[k] if k < len(kernels) else "",
            int(statistics.median(lc[k] for lc in layer_cycles)),
            int(statistics.median(li[k] for li in layer_instr)) if layer_instr else None,
        )
        for k in range(info.num_layers)
    )
    median = int(statistics.median(cycles)) if cycles else 0
    hz = board.clock_mhz * 1e6 if board.is_virtual else info.clock_hz  # QEMU: the counts at the rated clock
    return ValidateReport(
        board=board.id,
        transport="uart",
        port=session.link.name,
        samples=len(samples),
        bit_exact_samples=len(samples) - len(mismatched),
        mismatched=tuple(mismatched),
        cycles=median,
        cycle_source="instructions (QEMU)" if use_instr else info.timer,
        instructions=int(statistics.median(instr)) if instr else None,
        ms=median / hz * 1e3,
        clock_hz=info.clock_hz,
        clock_rated=info.clock_rated,
        resets=resets,
        retries=session.retried,
        layers=layers,
        banner=banner,
        outputs=tuple(outs),
    )


def validate_model(
    graph: Graph,
    board: Board,
    samples: Sequence[Sequence[np.ndarray]],
    *,
    port: str | None = None,
    options: CompileOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ValidateReport:
    """Generate and build the validation firmware for `board`, run it (QEMU, or flashed to the board attached at
    `port`) and validate every sample."""
    from tinyengine_codegen.build.firmware_files import model_id
    from tinyengine_codegen.build.platformio import build, prepare_project
    from tinyengine_codegen.build.setup_tools import plugin_path
    from tinyengine_codegen.compile import write_project
    from tinyengine_codegen.run.qemu import marker_table
    from tinyengine_codegen.run.serial_link import QemuConsole, SerialLink

    if board.is_virtual and not plugin_path().is_file():
        # QEMU emulates no cycle counter: without the counting plugin the report would carry no cycles at all
        raise TinyMLError(
            f"validate on {board.id} needs the instruction-counting plugin ({plugin_path().name}), which is not "
            "built: run `tinyml setup`"
        )
    options = options or CompileOptions(target=board)
    with tempfile.TemporaryDirectory(prefix="tinyml-validate-") as tmp:
        project = write_project(graph, Path(tmp) / "model", options)
        fw = prepare_project(Path(tmp) / "model", board, Path(tmp) / "fw", None, app="validate")
        built = build(fw, board)
        mid = model_id(Path(tmp) / "model")
        if board.is_virtual:
            counts_file = Path(tmp) / "counts.txt"
            slots, nslots = marker_table(built.elf_path)
            plugin_args = f"{plugin_path()},slots=0x{slots:x},nslots={nslots},out={counts_file}"
            with QemuConsole(built.elf_path, board, plugin_args) as link:

                def counts() -> str:
                    link.wait_exit(30)
                    return counts_file.read_text() if counts_file.is_file() else ""

                session = Session(link)
                return validate_on(session, graph, board, samples, model_id=mid, kernels=project.kernels,
                                   counts=counts, progress=progress)  # fmt: skip
        from tinyengine_codegen.run.flash import flash, serial_port

        flash(fw, board)
        link = SerialLink(port or serial_port(board), board.console.baud if board.console else 115200)
        try:
            time.sleep(0.5)  # the board restarts after flashing
            return validate_on(Session(link), graph, board, samples, model_id=mid, kernels=project.kernels,
                               progress=progress)  # fmt: skip
        finally:
            link.close()
