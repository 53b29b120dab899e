"""Load a model file of any supported format into the IR."""

from __future__ import annotations

from pathlib import Path

from .errors import TinyMLError
from .ir.graph import Graph

FORMATS = (".tflite", ".onnx")


def load_model(path: str | Path) -> Graph:
    """A .tflite (or ONNX, when the ONNX importer is available) file → verified Graph."""
    p = Path(path)
    if not p.exists():
        raise TinyMLError(f"model file '{p}' not found")
    if p.is_dir():
        raise TinyMLError(f"'{p}' is a folder; give a model file ({', '.join(FORMATS)})")
    suffix = p.suffix.lower()
    if suffix == ".onnx":
        try:
            from .importers.onnx import load_onnx
        except ImportError:
            raise TinyMLError(
                f"'{p}': ONNX import is not available in this installation; convert the model to an int8 .tflite"
            ) from None
        return load_onnx(p)
    if suffix not in (".tflite", ".lite", ""):
        head = p.read_bytes()[:8]
        if head[4:8] != b"TFL3":
            raise TinyMLError(f"'{p}': unknown model format '{suffix}'; supported: {', '.join(FORMATS)}")
    from .importers.tflite import load_tflite

    return load_tflite(p)
