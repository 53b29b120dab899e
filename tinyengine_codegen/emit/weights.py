"""Constant tensors → NAME_weights.c and NAME_weights.h: aligned C arrays, valid C99 and C++.

int8/uint8 data are string literals (they compile far faster than number lists) in arrays of exactly the data in C
(C stores no terminating zero when there is no room for it), one byte longer in C++ (which rejects a literal that
fills its array exactly): NAME_LITERAL_NUL in NAME_weights.h; wider types are number lists. Every array is
declared extern in NAME_weights.h, which NAME_weights.c includes first, so the definitions keep external linkage
when the file is compiled as C++ (a namespace-scope const is internal there).
"""

from __future__ import annotations

from ..kernels.spec import WeightTable
from .env import c_float_lines, c_int_lines, c_string_lines, render

WEIGHT_ALIGNMENT = 4  # bytes: word loads (LDR, LDRD, LDM) need no more; 16 padded every array


def weight_entries(table: WeightTable) -> list[dict]:
    """One record per array: symbol, C type, element count and the initializer text."""
    out = []
    for symbol, ctype, values in table.entries:
        if ctype in ("int8_t", "uint8_t"):
            body, literal, count = c_string_lines(values.tobytes()) or '""', True, max(int(values.size), 1)
        elif ctype == "float":
            body, literal, count = c_float_lines(values), False, max(int(values.size), 1)
        else:
            body, literal, count = c_int_lines(values), False, max(int(values.size), 1)
        out.append(dict(symbol=symbol, ctype=ctype, count=count, body=body or "    0", literal=literal))
    return out


def render_weights(table: WeightTable, prefix: str, header_comment: str) -> dict[str, str]:
    """{NAME_weights.c: text, NAME_weights.h: text}."""
    entries = weight_entries(table)
    ctx = dict(p=prefix, P=prefix.upper(), entries=entries, alignment=WEIGHT_ALIGNMENT, comment=header_comment)
    return {
        f"{prefix}_weights.c": render("model/weights.c.j2", **ctx),
        f"{prefix}_weights.h": render("model/weights.h.j2", **ctx),
    }
