"""Frozen option records for compile, simulate and run; every default lives here."""

from __future__ import annotations

from dataclasses import dataclass

TARGETS = ("host", "qemu-m4", "qemu-m7")


@dataclass(frozen=True, slots=True)
class CompileOptions:
    """How a model becomes C.

    target: "host" (portable C, built with the host compiler) or a board id (Cortex-M kernels chosen from the
    board's core: SIMD on cores with the DSP extension, portable C otherwise).
    inplace: let depthwise convolutions (and residual ADDs) overwrite their input when the lifetimes allow.
    patches: "off", "auto" (choose the split layer and patch count that lower peak SRAM), or a patch count n (n x n).
    max_extra_cycles: the patch search may add at most this fraction of the model's estimated cycles (halos
    recomputed and region kernels slower than layer kernels; planner/patch_cost.py).
    debug_canaries: surround the arena with canary words checked after every layer.
    alignment: byte alignment of every arena buffer.
    """

    target: str = "host"
    inplace: bool = True
    patches: str = "auto"
    max_extra_cycles: float = 0.10
    debug_canaries: bool = False
    alignment: int = 4
