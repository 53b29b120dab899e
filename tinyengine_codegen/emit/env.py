"""The one jinja2 Environment of the code generator, and its C filters."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import jinja2
import numpy as np

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
_HEX = tuple(f"\\x{b:02x}" for b in range(256))
_BYTES_PER_LINE = 32
_INTS_PER_LINE = 16


def c_ident(text: str, max_len: int = 48) -> str:
    """A valid C identifier made from `text`: other characters become '_', never a leading digit."""
    out = re.sub(r"[^A-Za-z0-9_]", "_", text)[:max_len] or "_"
    return "_" + out if out[0].isdigit() else out


def c_string_lines(data: bytes, indent: str = "    ") -> str:
    """Bytes as adjacent C string literals of hex escapes, 32 bytes a line (compiles far faster than numbers)."""
    if not data:
        return indent + '""'
    lines = []
    for i in range(0, len(data), _BYTES_PER_LINE):
        lines.append(indent + '"' + "".join(map(_HEX.__getitem__, data[i : i + _BYTES_PER_LINE])) + '"')
    return "\n".join(lines)


def c_int_lines(values: np.ndarray, indent: str = "    ") -> str:
    """Integers as a comma-separated initializer body, 16 a line."""
    flat = [str(int(v)) for v in np.asarray(values).reshape(-1)]
    return ",\n".join(indent + ", ".join(flat[i : i + _INTS_PER_LINE]) for i in range(0, len(flat), _INTS_PER_LINE))


def c_float_lines(values: np.ndarray, indent: str = "    ") -> str:
    """float32 values as exact hexadecimal float literals, 8 a line."""
    flat = [float(v).hex() + "f" for v in np.asarray(values, np.float32).reshape(-1)]
    return ",\n".join(indent + ", ".join(flat[i : i + 8]) for i in range(0, len(flat), 8))


@functools.cache
def environment() -> jinja2.Environment:
    """The shared Environment: StrictUndefined, trim_blocks, lstrip_blocks, keep_trailing_newline, no escaping."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(
        c_ident=c_ident, c_string_lines=c_string_lines, c_int_lines=c_int_lines, c_float_lines=c_float_lines
    )
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
