"""The TFLite flatbuffer schema (generated Python object API), from a maintained package.

LiteRT (`ai-edge-litert`) ships it as `ai_edge_litert.schema_py_generated`; TensorFlow Lite Micro's package ships
the same generated module. Either serves the importer and the exporter; LiteRT's is preferred when installed.
"""

from __future__ import annotations

try:
    from ai_edge_litert import schema_py_generated as schema
except ImportError:  # a lean install (e.g. a training server) with only tflite-micro
    try:
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    except ImportError as exc:  # pragma: no cover - both are project dependencies
        raise ImportError("the TFLite schema needs ai-edge-litert or tflite-micro: pip install ai-edge-litert") from exc

__all__ = ["schema"]
