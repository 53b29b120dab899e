"""The machine a model is compiled for, as one frozen value built once (from a board, or the host).

`Target` carries what kernel predicates, the planner and the emitter may ask about the machine: the core and its
architecture extensions (DSP SIMD32, MVE/Helium, FPU kind, dual issue), the arena alignment, the clock, the cycle
model that estimates its cycles, and its memory budget. `CORES` is the one table of what each Cortex-M core
implements; a board names its core and may only claim extensions that core has.

Nothing downstream re-reads a board file or an environment variable: the CLI (or a library caller) builds the
Target once and hands it over inside CompileOptions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Core:
    """What one Cortex-M core implements: its -mcpu name, architecture, optional DSP extension, MVE, dual issue."""

    mcpu: str
    arch: str
    dsp: bool  # the DSP (SIMD32: SMLAD, SXTB16, ...) extension is available on this core
    mve: bool = False  # M-profile vector extension (Helium)
    dual_issue: bool = False
    cycle_model: str | None = None  # the QEMU counting plugin's cycle model for this core (run/qemu.py)


CORES: dict[str, Core] = {
    "cortex-m0": Core("cortex-m0", "armv6-m", False),
    "cortex-m0plus": Core("cortex-m0plus", "armv6-m", False),
    "cortex-m3": Core("cortex-m3", "armv7-m", False),
    "cortex-m4": Core("cortex-m4", "armv7e-m", True, cycle_model="m4-trm-v1"),
    "cortex-m7": Core("cortex-m7", "armv7e-m", True, dual_issue=True, cycle_model="m7-dual-v1"),
    "cortex-m33": Core("cortex-m33", "armv8-m.main", True),
    "cortex-m55": Core("cortex-m55", "armv8.1-m.main", True, mve=True),
}


@dataclass(frozen=True, slots=True)
class Target:
    """One compilation target. `name` is "host" or a board id; `board` is the board record it was built from."""

    name: str
    core: str = "host"
    arch: str = "host"
    dsp: bool = False
    mve: bool = False
    fpu: str = "none"
    dual_issue: bool = False
    alignment: int = 4
    clock_mhz: int = 0
    cycle_model: str | None = None
    sram_bytes: int | None = None
    flash_bytes: int | None = None
    board: Any = field(default=None, compare=False, repr=False)

    @property
    def is_host(self) -> bool:
        return self.board is None

    @property
    def kernel_notes(self) -> tuple[str, ...]:
        """What kernel selection cannot give this core, said out loud (e.g. no Helium kernels yet)."""
        if self.mve:
            return (
                f"{self.core} has Helium (MVE); no MVE kernels exist yet, so its layers use the DSP-extension "
                "(SIMD32) kernels written for Cortex-M4/M7",
            )
        return ()


HOST = Target("host")


def target_of(board: Any) -> Target:
    """The Target of a boards.Board (or any record with id, core, fpu, dsp, clock_mhz, sram/flash bytes)."""
    if isinstance(board, Target):
        return board
    core = CORES.get(getattr(board, "core", ""))
    dsp = bool(getattr(board, "dsp", False))
    return Target(
        name=str(board.id),
        core=str(getattr(board, "core", "unknown")),
        arch=core.arch if core else "unknown",
        dsp=dsp,
        mve=bool(core and core.mve),
        fpu=str(getattr(board, "fpu", "none")),
        dual_issue=bool(core and core.dual_issue),
        clock_mhz=int(getattr(board, "clock_mhz", 0)),
        cycle_model=core.cycle_model if core else None,
        sram_bytes=getattr(board, "sram_bytes", None),
        flash_bytes=getattr(board, "flash_bytes", None),
        board=board,
    )
