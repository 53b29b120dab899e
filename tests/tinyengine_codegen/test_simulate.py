"""simulate: the peak is the planned arena, flash adds up, fit and margins, rows and the patch summary."""

import dataclasses
import json
import shutil

import numpy as np
import pytest

from tests.conftest import SHARED_DATA, mlperf_path
from tests.tinyengine_codegen.planner.graphs import GraphBuilder
from tinyengine_codegen.boards import load_board
from tinyengine_codegen.ir.cost import graph_macs, weight_bytes
from tinyengine_codegen.options import CompileOptions
from tinyengine_codegen.simulate import CODE_BYTES_PER_LAYER, RUNTIME_CODE_BYTES, simulate

REF = {"ic": "IC", "vww": "VWW", "kws": "KWS", "ad": "AD"}


def _load(key):
    from tinyengine_codegen.importers.tflite import load_tflite

    return load_tflite(mlperf_path(key))


@pytest.mark.parametrize("key", sorted(REF))
def test_mlperf_without_patches_at_or_below_the_bound(key):
    ref = json.loads((SHARED_DATA / "reference" / "mlperf_tiny.json").read_text())[REF[key]]
    res = simulate(_load(key), load_board("qemu-m4"), CompileOptions(patches="off"))
    assert res.peak_sram_bytes == res.arena_bytes == res.model_plan.plan.arena_bytes
    assert res.peak_sram_bytes <= ref["per_op_activation_lower_bound_bytes"]
    assert res.patches is None and res.fits
    assert max(r.high_water for r in res.layers) == res.peak_sram_bytes
    assert res.flash.weight_bytes == ref["weight_bytes_conv_dw_fc_params"]  # RESHAPE shapes are attributes here


def test_vww_with_patches():
    graph = _load("vww")
    res = simulate(graph, load_board("qemu-m7"))
    assert res.peak_sram_bytes <= 51840  # 2x below TFLM's arena, within 10 % extra estimated cycles
    p = res.patches
    # below 51,840 B only a stage through op 3 (input 27,648 B + its 9,216 B output + per-patch buffers) fits
    assert (p.split_op, p.stage_ops, p.peak_without_patches) == (3, 4, 46080)
    assert 0 < p.extra_cycle_fraction <= 0.10 and p.extra_mac_fraction == pytest.approx(p.extra_macs / 7489664)
    assert res.macs == graph_macs(graph) + p.extra_macs
    assert [r.in_patch_stage for r in res.layers[:5]] == [True] * 4 + [False]
    assert res.layers[0].output_shape == (1, 48, 48, 8) and res.layers[0].kernel == "conv2d_s8_pair_region"


def _tiny_graph():
    g = GraphBuilder("tiny", (1, 8, 8, 4))
    return g.graph(g.conv(g.conv(g.input, 8, 3), 2))


def test_flash_adds_up_and_margins():
    graph = _tiny_graph()
    res = simulate(graph, load_board("qemu-m4"), CompileOptions(patches="off"), flash="estimate")
    code = RUNTIME_CODE_BYTES + 2 * CODE_BYTES_PER_LAYER[graph.ops[0].kind]
    assert res.flash.code_bytes_estimate == code
    assert res.flash.table_bytes == 8 * (8 + 2)
    assert res.flash_bytes == weight_bytes(graph) + 80 + code
    assert res.sram_margin_bytes == 327680 - res.peak_sram_bytes
    assert res.flash_margin_bytes == 1048576 - res.flash_bytes
    # by hand: input 256 + 3x3 conv output 512 at op 0
    assert res.peak_sram_bytes == 768 and res.peak_layer == "op0_conv_2d"
    assert any("estimate" in n for n in res.notes)


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs the Arm toolchain")
def test_exact_flash_is_the_built_firmware_without_its_harness(tmp_path):
    from tinyengine_codegen.build.platformio import build, prepare_project
    from tinyengine_codegen.compile import write_project

    board = load_board("qemu-m4")
    res = simulate(_tiny_graph(), board, CompileOptions(target="qemu-m4", patches="off"))
    assert res.flash_exact is not None and res.flash_bytes == res.flash_exact.total and res.plan_seconds > 0
    write_project(_tiny_graph(), tmp_path / "model", CompileOptions(target="qemu-m4", patches="off"))
    built = build(prepare_project(tmp_path / "model", board, tmp_path / "fw", None), board)
    # the PlatformIO test firmware = deployable + input (256 B) + marker table (2 KiB) + tc_mark + marker calls
    harness = 256 + 2048 + 12
    measured = built.text_bytes + built.data_bytes
    assert measured - harness - 12 * (2 * 2 + 4) <= res.flash_bytes <= measured - harness


def test_does_not_fit_a_small_board():
    board = dataclasses.replace(load_board("qemu-m4"), sram_bytes=700)
    res = simulate(_tiny_graph(), board, CompileOptions(patches="off"))
    assert not res.fits and res.sram_margin_bytes == 700 - 768
    board = dataclasses.replace(load_board("qemu-m4"), flash_bytes=1000)
    assert not simulate(_tiny_graph(), board, CompileOptions(patches="off")).fits


def test_to_dict_is_json():
    res = simulate(_tiny_graph(), load_board("qemu-m4"))
    d = json.loads(json.dumps(res.to_dict()))
    for key in (
        "peak_sram_bytes",
        "arena_bytes",
        "flash_bytes",
        "fits",
        "layers",
        "patches",
        "sram_margin_bytes",
        "flash_margin_bytes",
        "flash_is_estimate",
    ):
        assert key in d
    assert len(d["layers"]) == 2 and d["layers"][0]["output_shape"] == [1, 8, 8, 8]


def test_run_check_on_the_host():
    import shutil

    if not (shutil.which("gcc") or shutil.which("cc") or shutil.which("clang")):
        pytest.skip("no host C compiler")
    from tinyengine_codegen.simulate import check_run

    g = GraphBuilder("runnable", (1, 6, 6, 3))
    graph = g.graph(g.conv(g.input, 4, 3))
    rng = np.random.default_rng(0)
    tensors = {
        n: (dataclasses.replace(t, data=rng.integers(-50, 50, t.shape).astype(t.dtype)) if t.is_const else t)
        for n, t in graph.tensors.items()
    }
    graph = dataclasses.replace(graph, tensors=tensors)
    check = check_run(simulate(graph, load_board("pico"), CompileOptions(patches="off")))
    assert check.ok and check.c_mismatches == 0 and check.c_plan == "model plan"  # no DSP: portable kernels only
    simd = check_run(simulate(graph, load_board("qemu-m4"), CompileOptions(patches="off")))
    assert simd.ok and simd.c_mismatches == 0 and simd.c_plan == "plan with portable kernels"  # SIMD: not on host
    assert check.c_arena_bytes == 108 + 144
