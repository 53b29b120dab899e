"""Fuzzing the C generator: random small int8 models, compiled together into ONE host executable (symbol
prefix per model), must give TFLM's exact outputs. Model i is built from seed SEED + i and must contain the
operator KINDS[i % len(KINDS)], so every operator is covered about N_MODELS / 21 times."""

from __future__ import annotations

import dataclasses

import numpy as np

from tinyengine_codegen.exporters.tflite import export_tflite

from ..helpers.host_c import run_graphs_in_c
from ..helpers.interpreters import tflm_run
from .modelgen import ALL_KINDS, random_input, random_model

SEED = 31_337
N_MODELS = 210
N_INPUTS = 2
KINDS = tuple(sorted(ALL_KINDS, key=lambda k: k.value))


def _case(i: int):
    graph = random_model(np.random.default_rng(SEED + i), require=KINDS[i % len(KINDS)], name=f"fuzz{i}")
    graph = dataclasses.replace(graph, outputs=graph.outputs[:1])  # the C API has one output
    model = export_tflite(graph)
    rng = np.random.default_rng(SEED + 100_000 + i)
    xs = np.stack([random_input(graph, rng)[0] for _ in range(N_INPUTS)])
    want = np.stack([tflm_run(model, [x], 1)[0] for x in xs])
    return graph, xs, want


def test_random_models_bit_exact_with_tflm(tmp_path):
    cases = [_case(i) for i in range(N_MODELS)]
    outs = run_graphs_in_c([c[0] for c in cases], [c[1] for c in cases], tmp_path)
    failures = []
    for i, ((graph, _, want), got) in enumerate(zip(cases, outs)):
        if not np.array_equal(got.reshape(want.shape), want):
            failures.append(f"seed {SEED + i} ({KINDS[i % len(KINDS)].value}): {[op.kind.value for op in graph.ops]}")
    assert not failures, f"{len(failures)} of {N_MODELS} models differ from TFLM:\n" + "\n".join(failures)


def test_random_models_under_sanitizers(tmp_path):
    """A smaller batch under AddressSanitizer and UBSan: no out-of-bounds access or undefined behaviour."""
    cases = [_case(i) for i in range(0, N_MODELS, 5)]
    outs = run_graphs_in_c([c[0] for c in cases], [c[1] for c in cases], tmp_path, sanitize=True)
    for (graph, _, want), got in zip(cases, outs):
        np.testing.assert_array_equal(got.reshape(want.shape), want, err_msg=graph.name)
