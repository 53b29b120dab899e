"""UNIDIRECTIONAL_SEQUENCE_LSTM: the NumPy reference against TFLM's interpreter on models written by the
project's exporter (batch- and time-major, several batch rows, cell clip, saturated gates and cell state, every
cell-state scale TFLM's tanh handles), and the fixed-point activations against their float counterparts."""

from __future__ import annotations

import numpy as np
import pytest

from tinyengine_codegen.exporters.tflite import export_tflite
from tinyengine_codegen.reference.lstm import SIGMOID_TABLE, sigmoid_q15, tanh_q15, tanh_scaling
from tinyengine_codegen.reference.run import run_graph

from ...fuzz.layers_lstm import lstm_graph
from ...helpers.interpreters import tflm_run

CASES = {
    "batch_major": dict(),
    "time_major": dict(time_major=True),
    "batch_major_3_rows": dict(batches=3),
    "time_major_2_rows": dict(time_major=True, batches=2),
    "one_step": dict(steps=1, batches=2),
    "cell_clip": dict(cell_clip=0.5, weight_gain=4.0),
    "saturated_gates": dict(weight_gain=20.0, steps=8),
    "fine_cell_scale": dict(cell_scale_power=-15, weight_gain=3.0),
    "coarse_cell_scale": dict(cell_scale_power=-9, time_major=True, batches=2),
    "wide_input": dict(features=33, units=5),
    "single_unit": dict(units=1, features=1, steps=7),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_reference_is_bit_exact_with_tflm(case):
    rng = np.random.default_rng(sorted(CASES).index(case))
    graph = lstm_graph(rng, **CASES[case])
    model = export_tflite(graph)
    for _ in range(2):
        x = rng.integers(-128, 128, graph.tensor("x").shape).astype(np.int8)
        want = tflm_run(model, [x], 1)[0]
        got = run_graph(graph, [x])[0]
        np.testing.assert_array_equal(got, want)
    assert len(np.unique(got)) > 1 or case == "saturated_gates"


def test_batch_major_rows_run_as_a_batch_of_items():
    graph = lstm_graph(np.random.default_rng(5), batches=1)
    xs = np.random.default_rng(6).integers(-128, 128, (3,) + graph.tensor("x").shape[1:]).astype(np.int8)
    batched = run_graph(graph, [xs])[0]
    for i in range(3):
        np.testing.assert_array_equal(batched[i : i + 1], run_graph(graph, [xs[i : i + 1]])[0])


def test_sigmoid_and_tanh_follow_the_float_functions():
    q = np.arange(-32768, 32768, dtype=np.int64)
    s = sigmoid_q15(q).astype(np.float64) / 32768
    assert np.max(np.abs(s - 1 / (1 + np.exp(-q / 4096.0)))) < 2e-4
    t = tanh_q15(q, *tanh_scaling(-12)).astype(np.float64) / 32768
    assert np.max(np.abs(t - np.tanh(q / 4096.0))) < 4e-4
    assert tanh_q15(np.array([0]), *tanh_scaling(-11))[0] == 0
    assert len(SIGMOID_TABLE) == 256 and SIGMOID_TABLE[0] == 32768 and list(SIGMOID_TABLE) == sorted(SIGMOID_TABLE)


def test_cell_scale_shift_is_a_rounding_right_shift_below_two_to_the_minus_twelve():
    assert tanh_scaling(-12) == (3, 0)
    assert tanh_scaling(-10) == (12, 0)
    assert tanh_scaling(-15) == (3, 3)
