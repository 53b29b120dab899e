"""The generated C emits plan_model's plan: arena bytes = simulate's peak, the same kernels, in-place layers and
patch schedule, for every option combination, on the MLPerf Tiny models and on random graphs (no C build here)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinyengine_codegen.boards import load_board
from tinyengine_codegen.compile import compile_model
from tinyengine_codegen.options import CompileOptions
from tinyengine_codegen.simulate import simulate

from ...conftest import MLPERF, mlperf_path
from ...fuzz.modelgen import random_model
from ..planner.stacks import random_stack

OPTIONS = [CompileOptions(inplace=i, patches=p) for i in (True, False) for p in ("off", "auto", "2", "4")]


def _check_same_as_simulate(graph, options: CompileOptions, board_id: str = "qemu-m4") -> None:
    board = load_board(board_id)
    sim = simulate(graph, board, options)
    project = compile_model(graph, options, target=board)
    mp = sim.model_plan
    assert project.arena_bytes == sim.peak_sram_bytes == mp.plan.arena_bytes
    assert project.kernels == tuple(r.kernel for r in sim.layers) == mp.kernels
    man = json.loads(project.files["manifest.json"])
    assert man["inplace_layers"] == sorted(mp.inplace)
    assert f"#define TINYML_ARENA_SIZE   {sim.peak_sram_bytes}\n" in project.files["model.h"]
    if not options.inplace:
        assert not mp.inplace
    if options.patches == "off" or mp.patches is None:
        assert man["patches"] is None and "tinyml_region_t" not in project.files["model.c"]
    else:
        assert man["patches"]["p"] == mp.patches.p and man["patches"]["split"] == mp.patches.split_op
        assert f"for (int k = 0; k < {mp.patches.p**2}; ++k)" in project.files["model.c"]
        if options.patches.isdigit():
            assert mp.patches.p == int(options.patches)


@pytest.mark.parametrize("key", sorted(MLPERF))
def test_mlperf_arena_is_simulates_peak(key):
    from tinyengine_codegen.importers.tflite import load_tflite

    graph = load_tflite(mlperf_path(key))
    for options in OPTIONS:
        _check_same_as_simulate(graph, options)


def test_vww_plan_is_patched_and_in_place():
    from tinyengine_codegen.importers.tflite import load_tflite

    graph = load_tflite(mlperf_path("vww"))
    auto = compile_model(graph, CompileOptions(patches="auto"))
    off = compile_model(graph, CompileOptions(patches="off"))
    plain = compile_model(graph, CompileOptions(patches="off", inplace=False))
    assert (auto.arena_bytes, off.arena_bytes, plain.arena_bytes) == (38040, 46080, 55296)
    assert auto.kernels[:4] == ("conv2d_s8_region", "dwconv_s8_region", "conv2d_s8_region", "dwconv_s8_region")
    # in place whenever the lifetimes allow; VWW's peak is at a pointwise conv, which runs in place over its
    # input when patches are off: 55,296 -> 46,080 B
    assert "dwconv_s8_inplace" in off.kernels and "dwconv_s8_inplace" not in plain.kernels
    assert off.kernels.count("conv2d_1x1_s8_inplace") == 1 and "conv2d_1x1_s8_inplace" not in plain.kernels


@pytest.mark.parametrize("seed", range(12))
def test_random_stacks_arena_is_simulates_peak(seed):
    graph = random_stack(np.random.default_rng(seed), depth=int(np.random.default_rng(seed).integers(2, 6)))
    for options in OPTIONS[:4] + OPTIONS[5:6]:
        _check_same_as_simulate(graph, options, "qemu-m4" if seed % 2 else "pico")


@pytest.mark.parametrize("seed", range(40))
def test_random_models_arena_is_simulates_peak(seed):
    graph = random_model(np.random.default_rng(500 + seed), name=f"r{seed}")
    graph = type(graph)(graph.name, graph.tensors, graph.ops, graph.inputs, graph.outputs[:1])
    for options in (CompileOptions(), CompileOptions(inplace=False, patches="off"), CompileOptions(patches="2")):
        _check_same_as_simulate(graph, options)
