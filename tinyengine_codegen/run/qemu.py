"""Run test firmware in QEMU (virtual boards) and read its output, checksum and exact instruction counts.

The firmware (firmware/src/main.c) prints TINYML_STATUS / TINYML_OUT / TINYML_CHECKSUM lines through
semihosting and exits with its status. With count=True the counting plugin (.tools/libtcount.so, built by
setup_tools) reports the instruction count and the estimated cycles of each cycle model (CYCLE_MODELS, defined
in docs/cycle_model.md) at each marker (firmware/include/tinyml_hooks.h): two calibration marks give the cost of
one mark, which is subtracted from every measured interval, so a layer's count is what it executes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from tinyengine_codegen.boards import Board
from tinyengine_codegen.build.setup_tools import plugin_path
from tinyengine_codegen.errors import TinyMLError

MARK_CALIB_A, MARK_CALIB_B, MARK_INVOKE_BEGIN, MARK_INVOKE_END, MARK_LAYER_BASE = 0, 1, 2, 3, 4
EXIT_FAULT = 99
CYCLE_MODELS = ("m4-trm-v1", "m7-dual-v1")  # the plugin's cycle columns, in order after the instruction count
_EXIT_MEANING = {1: "tinyml_init() failed", 2: "tinyml_invoke() returned an error"}


@dataclass(frozen=True, slots=True)
class QemuResult:
    """output_bytes: the raw bytes of the output tensor; checksum: FNV-1a 32 of them (checked against the
    firmware's); exit_code: firmware exit status (0 ok, 1 init failed, 2 invoke failed); status: the value
    tinyml_invoke returned; instructions: executed by tinyml_invoke, markers excluded (None when not counted);
    layer_instructions: per layer, in execution order; cycles / layer_cycles: the same under each cycle model
    of CYCLE_MODELS, by model id (empty when not counted)."""

    output_bytes: bytes
    checksum: int
    exit_code: int
    instructions: int | None
    layer_instructions: tuple[int, ...]
    status: int = 0
    cycles: dict[str, int] = field(default_factory=dict)
    layer_cycles: dict[str, tuple[int, ...]] = field(default_factory=dict)
    profile: tuple[tuple[int, int, int], ...] = ()  # (address, size, executions) inside tinyml_invoke, if asked
    marks: tuple[tuple[int, ...], ...] = ()  # with profile: every mark as (id, instructions, cycles...)


def fnv1a32(data: bytes) -> int:
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def marker_table(elf: Path) -> tuple[int, int]:
    """(address, number of 2-byte slots) of tc_mark_slots in the ELF."""
    proc = subprocess.run(["arm-none-eabi-nm", "-S", str(elf)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise TinyMLError(f"arm-none-eabi-nm failed on {elf}: {proc.stderr.strip()}")
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] == "tc_mark_slots":
            return int(parts[0], 16) & ~1, int(parts[1], 16) // 2
    raise TinyMLError(
        f"{elf} has no tc_mark_slots marker table; build it for a virtual board (TINYML_TCMARK) or run with count=False"
    )


def qemu_command(elf: Path, board: Board, plugin_args: str | None) -> list[str]:
    cmd = [
        "qemu-system-arm",
        "-machine",
        board.qemu_machine,
        "-display",
        "none",
        "-monitor",
        "none",
        "-serial",
        "null",
        "-chardev",
        "stdio,id=sh0",
        "-semihosting-config",
        "enable=on,target=native,chardev=sh0",
        "-kernel",
        str(elf),
    ]
    if plugin_args is not None:
        cmd += ["-plugin", plugin_args]
    return cmd


def parse_output(text: str) -> tuple[int | None, bytes, int | None]:
    """(status, output bytes, firmware checksum) from the firmware's text output."""
    status = re.search(r"^TINYML_STATUS (-?\d+)$", text, flags=re.MULTILINE)
    chunks = re.findall(r"^TINYML_OUT ([0-9a-f]*)$", text, flags=re.MULTILINE)
    checksum = re.search(r"^TINYML_CHECKSUM ([0-9a-f]{8})$", text, flags=re.MULTILINE)
    return (
        int(status.group(1)) if status else None,
        bytes.fromhex("".join(chunks)),
        int(checksum.group(1), 16) if checksum else None,
    )


def count_columns(text: str) -> int:
    """How many counters the plugin's mark lines carry (1: instructions only; 1 + len(CYCLE_MODELS): cycles too)."""
    first = re.search(r"^mark \d+((?: \d+)+)$", text, re.MULTILINE)
    return len(first.group(1).split()) if first else 1


def parse_counts(text: str, column: int = 0) -> tuple[int, tuple[int, ...]]:
    """(count of tinyml_invoke, per-layer counts) from the plugin's `mark <id> <count> [<cycles>...]` lines;
    column 0 is instructions, column 1 + k the cycles of CYCLE_MODELS[k]."""
    marks = [
        (int(m.group(1)), int(m.group(2).split()[column]))
        for m in re.finditer(r"^mark (\d+)((?: \d+)+)$", text, re.MULTILINE)
    ]
    ids = [m[0] for m in marks]
    if ids[:2] != [MARK_CALIB_A, MARK_CALIB_B] or MARK_INVOKE_BEGIN not in ids or MARK_INVOKE_END not in ids:
        raise TinyMLError(
            f"instruction-count markers are incomplete (saw ids {ids[:8]}...); the firmware did not "
            "run to the end of tinyml_invoke"
        )
    cost = marks[1][1] - marks[0][1]
    begin, end = ids.index(MARK_INVOKE_BEGIN), ids.index(MARK_INVOKE_END)
    inner = marks[begin + 1 : end]
    layers: list[int] = []
    for k in range(0, len(inner) - 1, 2):
        (b_id, b_count), (e_id, e_count) = inner[k], inner[k + 1]
        layer = (b_id - MARK_LAYER_BASE) // 2
        if b_id < MARK_LAYER_BASE or (b_id - MARK_LAYER_BASE) % 2 or e_id != b_id + 1 or layer > len(layers):
            raise TinyMLError(
                f"layer markers out of order at layer {len(layers)} (ids {b_id}, {e_id}); "
                "each layer must be bracketed by TINYML_LAYER_BEGIN/END, first seen in execution order"
            )
        if layer == len(layers):
            layers.append(0)
        layers[layer] += e_count - b_count - cost  # patch-stage layers run once per patch: their counts add up
    if len(inner) % 2:
        raise TinyMLError(f"unpaired layer marker {inner[-1][0]} inside tinyml_invoke")
    total = marks[end][1] - marks[begin][1] - (len(inner) + 1) * cost
    return total, tuple(layers)


def _check_exit(proc_rc: int, text: str, stderr: str, board: Board, elf: Path) -> None:
    if proc_rc == 134 or "Lockup" in stderr:
        raise TinyMLError(
            f"QEMU {board.qemu_machine}: the CPU locked up running {elf.name} (exit 134): the image "
            "is not linked for this machine's memory map or faulted before its vector table was set"
        )
    if proc_rc == 124:
        raise TinyMLError(f"QEMU {board.qemu_machine}: {elf.name} timed out (exit 124)")
    if proc_rc == EXIT_FAULT:
        fault = re.search(r"^TINYML_FAULT .*$", text, flags=re.MULTILINE)
        detail = fault.group(0) if fault else "no fault report"
        raise TinyMLError(
            f"firmware {elf.name} faulted on {board.id}: {detail}; check for out-of-bounds accesses "
            "or an FPU/core mismatch"
        )
    if proc_rc not in (0, *_EXIT_MEANING):
        tail = " | ".join((stderr or text).strip().splitlines()[-3:])
        raise TinyMLError(f"QEMU exited with status {proc_rc} running {elf.name} on {board.id}: {tail}")


def run_qemu(
    elf: Path,
    board: Board,
    *,
    count: bool = True,
    timeout_s: float = 120,
    check: bool = True,
    plugin: Path | None = None,
    profile: bool = False,
) -> QemuResult:
    """Run the firmware once. Timeouts, lockups and faults raise TinyMLError; so do init/invoke failures
    (exit codes 1 and 2) unless check=False, which returns them in QemuResult.exit_code/status.
    plugin: the counting plugin to load (default: the one setup_tools builds in .tools/); profile: also collect
    the per-instruction execution counts of tinyml_invoke (QemuResult.profile)."""
    elf = Path(elf)
    if not board.is_virtual:
        raise TinyMLError(
            f"{board.id} is a real board; QEMU runs only virtual boards (qemu-m4, qemu-m7). Use flash() for hardware"
        )
    if not elf.is_file():
        raise TinyMLError(f"firmware {elf} does not exist; build it first")
    if shutil.which("qemu-system-arm") is None:
        raise TinyMLError("qemu-system-arm not found; run `python -m tinyengine_codegen.build.setup_tools`")
    with tempfile.TemporaryDirectory(prefix="tinyml-qemu-") as tmp:
        counts_file = Path(tmp) / "counts.txt"
        plugin_args = None
        if count:
            plugin = Path(plugin) if plugin is not None else plugin_path()
            if not plugin.is_file():
                raise TinyMLError(
                    f"QEMU counting plugin {plugin} is missing; run `python -m tinyengine_codegen.build.setup_tools`"
                )
            slots, nslots = marker_table(elf)
            plugin_args = f"{plugin},slots=0x{slots:x},nslots={nslots},out={counts_file}"
            if profile:
                plugin_args += f",profile={Path(tmp) / 'profile.txt'},pbegin={MARK_INVOKE_BEGIN},pend={MARK_INVOKE_END}"
        try:
            proc = subprocess.run(
                qemu_command(elf, board, plugin_args),
                capture_output=True,
                text=True,
                timeout=timeout_s,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as err:
            raise TinyMLError(
                f"QEMU {board.qemu_machine}: {elf.name} did not exit within {timeout_s:g} s (the "
                "firmware hangs, or the image is too large for the machine); raise timeout_s if the "
                "model is just slow"
            ) from err
        _check_exit(proc.returncode, proc.stdout, proc.stderr, board, elf)
        counts_text = counts_file.read_text() if count and counts_file.is_file() else None
        res = _result(proc.returncode, proc.stdout, counts_text, board, elf, check)
        if profile and count:
            marks = re.findall(r"^mark ((?:\d+ ?)+)$", counts_text or "", flags=re.MULTILINE)
            res = replace(
                res,
                profile=parse_profile((Path(tmp) / "profile.txt").read_text()),
                marks=tuple(tuple(int(v) for v in m.split()) for m in marks),
            )
    return res


def parse_profile(text: str) -> tuple[tuple[int, int, int], ...]:
    """(address, size, executions) rows from the plugin's `pc <hex> <size> <count>` lines."""
    rows = re.findall(r"^pc ([0-9a-f]+) (\d+) (\d+)$", text, flags=re.MULTILINE)
    return tuple((int(a, 16), int(n), int(c)) for a, n, c in rows)


def _result(rc: int, text: str, counts_text: str | None, board: Board, elf: Path, check: bool) -> QemuResult:
    status, output, checksum = parse_output(text)
    if rc != 0:
        if check:
            raise TinyMLError(
                f"firmware {elf.name} on {board.id}: {_EXIT_MEANING[rc]} (exit {rc}, status "
                f"{status}); a negative status -(k+1) from a TINYML_DEBUG_CANARIES build names layer k"
            )
        return QemuResult(b"", 0, rc, None, (), status if status is not None else 0)
    if status is None or checksum is None or "TINYML_DONE" not in text:
        raise TinyMLError(
            f"firmware {elf.name} on {board.id} exited 0 but its output is incomplete: {text.strip()[-200:]!r}"
        )
    if fnv1a32(output) != checksum:
        raise TinyMLError(
            f"output checksum mismatch on {board.id}: firmware says {checksum:08x}, the received "
            f"{len(output)} bytes give {fnv1a32(output):08x}"
        )
    if counts_text is None:
        return QemuResult(output, checksum, rc, None, (), status)
    instructions, layers = parse_counts(counts_text)
    cycles, layer_cycles = {}, {}
    for k in range(min(len(CYCLE_MODELS), count_columns(counts_text) - 1)):
        cycles[CYCLE_MODELS[k]], layer_cycles[CYCLE_MODELS[k]] = parse_counts(counts_text, 1 + k)
    return QemuResult(output, checksum, rc, instructions, layers, status, cycles, layer_cycles)
