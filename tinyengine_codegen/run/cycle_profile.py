"""The address-order variant of the cycle model m4-trm-v1, from a per-PC execution profile and the disassembly.

The counting plugin (firmware/qemu_plugin) applies m4-trm-v1 in real execution order. This module computes the
same model the way a per-PC profile allows (docs/cycle_model.md): every executed instruction costed by its
class, classified here independently from `arm-none-eabi-objdump`'s mnemonics; "the instruction before it"
taken in address order; a conditional branch counted as taken (its count - the count of the instruction that
follows it in address order, clamped to [0, count]) times. The two must agree within a few tenths of a percent
on real code, which cross-checks the plugin's instruction decoder and its execution-order bookkeeping.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import TinyMLError

P = 2  # pipeline refill after a taken branch
CONDS = frozenset(
    ["eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le", "al"]
)
_SINGLE_LS = re.compile(r"^(ldr|str)(b|h|sb|sh|ex|exb|exh|t|bt|ht|sbt|sht)?$|^pl[di]w?$")
_LINE = re.compile(r"^\s*([0-9a-f]+):\t(?:[0-9a-f]{4}(?: [0-9a-f]{4})?\s*\t)?([a-z][\w.]*)\s*(.*)$")


@dataclass(frozen=True, slots=True)
class Insn:
    """One disassembled instruction: kind is 'ls' (single load/store), 'cbr' (conditional branch) or 'other';
    base: its m4-trm-v1 cycles when not pipelined and not taken."""

    address: int
    mnemonic: str
    kind: str
    base: int


def _reg_count(operands: str) -> tuple[int, bool]:
    """(registers in a {list}, whether pc is among them); ranges such as r4-r7 and d8-d9 count each register."""
    inside = re.search(r"\{([^}]*)\}", operands)
    if not inside:
        return 0, False
    n, pc = 0, False
    for item in (s.strip() for s in inside.group(1).split(",")):
        m = re.fullmatch(r"([rsd])(\d+)-[rsd](\d+)", item)
        n += int(m.group(3)) - int(m.group(2)) + 1 if m else 1
        pc |= item == "pc"
    return n, pc


def classify(mnemonic: str, operands: str, in_it: bool) -> tuple[str, int]:
    """(kind, base cycles) of one instruction under m4-trm-v1; in_it: inside an IT block (conditional)."""
    base = mnemonic.split(".")[0]
    if in_it and base[-2:] in CONDS and len(base) > 2:
        base = base[:-2]
    first = operands.split(",")[0].strip()
    branch = None  # (cycles without refill) for instructions that write the PC
    if base in ("b", "bl", "bx", "blx"):
        branch = 1
    elif (base[:1] == "b" and base[1:] in CONDS) or base in ("cbz", "cbnz"):
        return "cbr", 1
    elif base in ("tbb", "tbh"):
        branch = 2
    elif base in ("ldrd", "strd"):
        return "other", 3
    elif base in ("push", "pop") or base[:3] in ("ldm", "stm"):
        n, pc = _reg_count(operands)
        if pc and (base == "pop" or base.startswith("ldm")):
            branch = 1 + n
        else:
            return "other", 1 + n
    elif _SINGLE_LS.match(base):
        if base == "ldr" and first == "pc":
            branch = 2
        else:
            return "ls", 2
    elif base in ("sdiv", "udiv"):
        return "other", 7
    elif base in ("vdiv", "vsqrt"):
        return "other", 14
    elif base in ("vldr", "vstr"):
        return "other", 2
    elif base in ("vpush", "vpop") or base[:4] in ("vldm", "vstm"):
        n, _ = _reg_count(operands)
        words = n * (2 if re.search(r"\{\s*d", operands) else 1)
        return "other", 1 + words
    elif first == "pc" and base in ("mov", "add"):
        branch = 1
    if branch is None:
        return "other", 1
    return ("cbr", branch) if in_it else ("other", branch + P)


def disassemble(elf: Path) -> dict[int, Insn]:
    """Every instruction of the ELF's .text, by address (Thumb), classified for m4-trm-v1; -D so that code typed as
    data (the marker slot table) is decoded too; literal pools decode as never-executed instructions."""
    proc = subprocess.run(["arm-none-eabi-objdump", "-D", "-j", ".text", str(elf)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise TinyMLError(f"arm-none-eabi-objdump failed on {elf}: {proc.stderr.strip()}")
    out: dict[int, Insn] = {}
    it_left = 0
    for line in proc.stdout.splitlines():
        m = _LINE.match(line)
        if not m or m.group(2).startswith("."):
            continue
        mnemonic, operands = m.group(2), m.group(3).split(";")[0].split("@")[0]
        kind, base = classify(mnemonic, operands, it_left > 0)
        it_left = max(it_left - 1, 0)
        if re.fullmatch(r"it[te]{0,3}", mnemonic):
            it_left = len(mnemonic) - 1
        out[int(m.group(1), 16)] = Insn(int(m.group(1), 16), mnemonic, kind, base)
    return out


def address_order_cycles(profile: tuple[tuple[int, int, int], ...], insns: dict[int, Insn]) -> int:
    """m4-trm-v1 cycles of a per-PC profile ((address, size, executions) rows), in address order."""
    counts = {addr: n for addr, _, n in profile}
    order = sorted(insns)
    index = {a: i for i, a in enumerate(order)}
    total = 0
    for addr, size, n in profile:
        insn = insns.get(addr)
        if insn is None:
            raise TinyMLError(f"executed address 0x{addr:x} is not an instruction of the disassembly")
        i = index[addr]
        before = insns[order[i - 1]] if i > 0 else None
        if insn.kind == "ls" and before is not None and before.kind == "ls":
            total += n  # pipelined
        elif insn.kind == "cbr":
            taken = min(max(n - counts.get(addr + size, 0), 0), n)
            total += n * insn.base + taken * P
        else:
            total += n * insn.base
    return total
