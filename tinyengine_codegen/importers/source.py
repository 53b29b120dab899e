"""Read a model given as a path or as its bytes: (bytes, label for messages); TinyMLError when the file is missing."""

from __future__ import annotations

from pathlib import Path

from ..errors import TinyMLError


def read_source(src: str | Path | bytes, name: str | None = None) -> tuple[bytes, str]:
    if isinstance(src, (bytes, bytearray, memoryview)):
        return bytes(src), name or "model"
    path = Path(src)
    if not path.is_file():
        raise TinyMLError(f"model file '{path}' not found")
    return path.read_bytes(), name or path.stem
