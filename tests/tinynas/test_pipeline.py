"""pipeline: batched, threaded int8 accuracy of an exported model; plots skipped with a note without matplotlib."""

from __future__ import annotations

import sys

import numpy as np

from tinyengine_codegen.exporters.tflite import save_tflite
from tinyengine_codegen.importers.tflite import load_tflite
from tinyengine_codegen.reference.run import run_graph
from tinynas.baselines.resnet8 import quantize_resnet8, resnet8
from tinynas.pipeline import _plots, int8_accuracy, training_epochs
from tinynas.search import cifar_config, quick_config


def test_int8_accuracy_equals_one_image_at_a_time(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (23, 32, 32, 3)).astype(np.uint8)
    path = save_tflite(quantize_resnet8(resnet8().eval(), images[:8]), tmp_path / "m.tflite")
    graph = load_tflite(path)
    preds = np.array(
        [np.argmax(run_graph(graph, [(x[None].astype(np.int16) - 128).astype(np.int8)])[0]) for x in images]
    )
    labels = preds.copy()
    labels[::3] = (labels[::3] + 1) % 10  # 8 of 23 wrong
    expected = 15 / 23
    assert int8_accuracy(path, images, labels, batch_size=5, workers=1) == expected
    assert int8_accuracy(path, images, labels, batch_size=4, workers=3) == expected


def test_plots_are_skipped_with_a_note_without_matplotlib(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
    assert _plots(None, None, tmp_path) == ["plots skipped: matplotlib is not installed"]
    assert list(tmp_path.iterdir()) == []


def test_training_epochs_counts_every_phase():
    c = cifar_config("x")
    assert training_epochs(c) == c.full_epochs + 3 * c.phase_epochs + c.finetune_epochs == 30 + 3 * 10 + 15
    assert training_epochs(quick_config(phase_epochs=0, finetune_epochs=1)) == 4 + 1
