"""Instruction counts of every inference from the QEMU counting plugin's output of a firmware that runs many
inferences (the validation firmware): the marks are split into boots (each starts with the two calibration marks)
and, within a boot, into inferences (INVOKE_BEGIN .. INVOKE_END), each counted like a single run."""

from __future__ import annotations

import re

from tinyengine_codegen.run.qemu import MARK_CALIB_A, MARK_CALIB_B, MARK_INVOKE_BEGIN, MARK_INVOKE_END, parse_counts


def per_invoke(text: str) -> list[list[tuple[int, tuple[int, ...]]]]:
    """For each boot, in order: (instructions, per-layer instructions) of each inference, in order."""
    marks = [(int(m.group(1)), int(m.group(2))) for m in re.finditer(r"^mark (\d+) (\d+)", text, re.MULTILINE)]
    boots: list[list[tuple[int, tuple[int, ...]]]] = []
    cost, segment = 0, None
    for k, (mark, count) in enumerate(marks):
        nxt = marks[k + 1][0] if k + 1 < len(marks) else None
        if mark == MARK_CALIB_A and nxt == MARK_CALIB_B:
            cost = marks[k + 1][1] - count
            boots.append([])
            segment = None
        elif mark == MARK_INVOKE_BEGIN and boots:
            segment = [(mark, count)]
        elif segment is not None:
            segment.append((mark, count))
            if mark == MARK_INVOKE_END:
                lines = [f"mark {MARK_CALIB_A} 0", f"mark {MARK_CALIB_B} {cost}"]
                lines += [f"mark {i} {c}" for i, c in segment]
                boots[-1].append(parse_counts("\n".join(lines)))
                segment = None
    return boots
