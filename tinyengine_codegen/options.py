"""Frozen option records for compile, simulate and run; every default lives here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import TinyMLError
from .target import HOST, Target, target_of

TARGETS = ("host", "qemu-m4", "qemu-m7")


@dataclass(frozen=True, slots=True)
class PatchRequest:
    """The patch-stage request, parsed once: off, auto (the planner chooses), or a forced n x n patch count."""

    enabled: bool = True
    count: int | None = None

    @classmethod
    def parse(cls, value: str | int | PatchRequest) -> PatchRequest:
        """'off' → off; 'auto' → auto; 'N' (N >= 2) → N x N patches. TinyMLError for anything else."""
        if isinstance(value, PatchRequest):
            return value
        text = str(value).strip().lower()
        if text == "off":
            return cls(False, None)
        if text == "auto":
            return cls(True, None)
        if text.isdigit() and int(text) >= 2:
            return cls(True, int(text))
        raise TinyMLError(f"patches '{value}': use off, auto or a patch count N >= 2 (N x N patches)")

    def __str__(self) -> str:
        return "off" if not self.enabled else "auto" if self.count is None else str(self.count)


def as_target(value: str | Any) -> Target:
    """A Target from a Target, a board record, "host", or a board id / board .toml path (loaded once, here)."""
    if isinstance(value, Target):
        return value
    if not isinstance(value, str):
        return target_of(value)
    if value == "host":
        return HOST
    from .boards import load_board  # boards imports target and errors only

    return load_board(value).target


@dataclass(frozen=True, slots=True)
class CompileOptions:
    """How a model becomes C. The one options object from the CLI to the emitter.

    target: the machine (target.Target): HOST (portable C, built with the host compiler) or a board's target
    (Cortex-M kernels chosen from the core's extensions). A board record, "host" or a board id are turned into a
    Target once, at construction.
    inplace: let depthwise convolutions (and residual ADDs) overwrite their input when the lifetimes allow.
    patches: PatchRequest; "off", "auto" (choose the split layer and patch count that lower peak SRAM), or a
    patch count n (n x n), parsed once at construction.
    max_extra_cycles: the patch search may add at most this fraction of the model's estimated cycles (halos
    recomputed and region kernels slower than layer kernels; planner/patch_cost.py).
    debug_canaries: surround the arena with canary words checked after every layer.
    alignment: byte alignment of every arena buffer.
    fuse_pad: fold an explicit zero-point PAD into the convolution that reads it.
    """

    target: Target = HOST
    inplace: bool = True
    patches: PatchRequest = field(default=PatchRequest())
    max_extra_cycles: float = 0.10
    debug_canaries: bool = False
    alignment: int = 4
    fuse_pad: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", as_target(self.target))
        object.__setattr__(self, "patches", PatchRequest.parse(self.patches))

    def as_dict(self) -> dict[str, object]:
        """Plain values for reports and saved state: the target by name, patches as text."""
        return {
            "target": self.target.name,
            "inplace": self.inplace,
            "patches": str(self.patches),
            "max_extra_cycles": self.max_extra_cycles,
            "debug_canaries": self.debug_canaries,
            "alignment": self.alignment,
            "fuse_pad": self.fuse_pad,
        }
