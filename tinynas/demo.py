"""The README's main job: a quick search for a board on the bundled digits data, then the winner compiled,
built for the board and run (in QEMU for a virtual board) on held-out test images, each output checked bit for
bit against TFLM's interpreter."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np


def run_demo(board: str, out: Path, images: int = 8, progress: Callable[[dict], None] | None = None) -> dict:
    from tinyengine_codegen.model_io import load_model
    from tinyengine_codegen.options import CompileOptions
    from tinyengine_codegen.runner import run_model

    from .pipeline import board_budget, run_to_folder
    from .search import quick_config

    budget = board_budget(board)
    report = run_to_folder(quick_config(), budget, out, progress)
    model_path = Path(out) / "model.tflite"
    graph = load_model(model_path)
    xs = _test_inputs(graph, images)
    exact, instructions = 0, None
    for x in xs:
        res = run_model(graph, x, CompileOptions(target=board))
        exact += int(np.array_equal(res.output.reshape(-1), _tflm(model_path, x).reshape(-1)))
        instructions = res.instructions
    return {
        **report,
        "model": str(model_path),
        "checked_images": len(xs),
        "bit_exact_images": exact,
        "bit_exact": exact == len(xs),
        "instructions": instructions,
    }


def _test_inputs(graph, n: int) -> list[np.ndarray]:
    from .data import load_dataset, resize_uint8

    shape = graph.tensors[graph.inputs[0]].shape
    data = load_dataset("digits", None)
    imgs = resize_uint8(data.x_test[:n], shape[1])
    return [(img.astype(np.int16) - 128).astype(np.int8).reshape(shape) for img in imgs]


def _tflm(model_path: Path, x: np.ndarray) -> np.ndarray:
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_file(str(model_path))
    it.set_input(x, 0)
    it.invoke()
    return it.get_output(0)
