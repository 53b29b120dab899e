"""Run .tflite bytes in the two interpreters the tests compare against: TFLM (the golden reference) and LiteRT."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def tflm_run(model: bytes, inputs: Sequence[np.ndarray], n_outputs: int) -> tuple[np.ndarray, ...]:
    """Outputs of one TFLM inference (the tflite-micro Python interpreter)."""
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_bytes(model)
    for i, x in enumerate(inputs):
        it.set_input(x, i)
    it.invoke()
    return tuple(it.get_output(i) for i in range(n_outputs))


def tflm_batch(path, xs: np.ndarray) -> np.ndarray:
    """TFLM's first output for each input of a batch, with one interpreter for the whole batch."""
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_file(str(path))
    out = []
    for x in xs:
        it.set_input(x, 0)
        it.invoke()
        out.append(it.get_output(0).copy())
    return np.stack(out)


def litert_run(model: bytes, inputs: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Outputs of one LiteRT inference with the reference (BUILTIN_REF) kernels."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    ip = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    ip.allocate_tensors()
    for d, x in zip(ip.get_input_details(), inputs):
        ip.set_tensor(d["index"], x)
    ip.invoke()
    return tuple(ip.get_tensor(d["index"]) for d in ip.get_output_details())
