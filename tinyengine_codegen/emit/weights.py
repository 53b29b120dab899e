"""Constant tensors → weights.c: aligned C arrays; int8 data as string literals, wider types as numbers."""

from __future__ import annotations

from ..kernels.spec import WeightTable
from .env import c_float_lines, c_int_lines, c_string_lines, render

WEIGHT_ALIGNMENT = 16


def weight_entries(table: WeightTable) -> list[dict]:
    """One record per array: symbol, C type, element count and the initializer text."""
    out = []
    for symbol, ctype, values in table.entries:
        if ctype in ("int8_t", "uint8_t"):
            body, literal = c_string_lines(values.tobytes()), True
        elif ctype == "float":
            body, literal = c_float_lines(values), False
        else:
            body, literal = c_int_lines(values), False
        out.append(dict(symbol=symbol, ctype=ctype, count=max(int(values.size), 1), body=body, literal=literal))
    return out


def declarations(table: WeightTable) -> list[str]:
    """`extern` declarations of every array, for model.c."""
    return [f"extern const {ctype} {symbol}[{max(int(values.size), 1)}];" for symbol, ctype, values in table.entries]


def render_weights(table: WeightTable, header_comment: str) -> str:
    return render(
        "model/weights.c.j2", entries=weight_entries(table), alignment=WEIGHT_ALIGNMENT, comment=header_comment
    )
