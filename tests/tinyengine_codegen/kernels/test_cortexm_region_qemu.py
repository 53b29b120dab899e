"""Cortex-M SIMD patch-stage kernels in QEMU (qemu-m4) against the numpy reference: two forced patch stages that
run every SIMD region kernel (first conv through im2col incl. dilation, k x k direct with stride and VALID padding,
pointwise, 3x3 (channel-planar tiles, stride 1; four channels, stride 2) and 5x5 depthwise, the ADD lookup table) on
uneven patches (1x1 layers on regions of one run and of one run per row too), and two MLPerf Tiny models with
`--patches auto`, bit-exact and within an instruction budget (the portable region kernels need 4x to 5x more)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tests.conftest import mlperf_path
from tinyengine_codegen.boards import load_board
from tinyengine_codegen.build.platformio import build, prepare_project
from tinyengine_codegen.compile import write_project
from tinyengine_codegen.ir.ops import Padding
from tinyengine_codegen.model_io import load_model
from tinyengine_codegen.options import CompileOptions
from tinyengine_codegen.passes import PIPELINE, run_pipeline
from tinyengine_codegen.passes.patches import stage_candidates
from tinyengine_codegen.planner.model_plan import ModelPlan, scratch_of
from tinyengine_codegen.planner.patches import build_schedule, plan_patched
from tinyengine_codegen.reference.run import run_graph
from tinyengine_codegen.run.measure import lcg_input
from tinyengine_codegen.run.qemu import run_qemu
from tinyengine_codegen.runner import run_model

from ..planner.stacks import Stack

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(
        shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
        reason="Cortex-M toolchain or QEMU not installed",
    ),
]
BOARD = "qemu-m4"


def _mobilenet_like():
    """conv 3x3/2 (cin 3) -> dw 3x3 -> pointwise + residual ADD -> dw 3x3/2 -> conv 3x3 (split) -> 1x1."""
    s = Stack(np.random.default_rng(21), (1, 19, 17, 3))
    x = s.dw(s.conv(s.input, 8, 3, 2), 3)
    x = s.add(x, s.conv(x, 8, 1))
    x = s.conv(s.dw(x, 3, 2), 12, 3)
    split = len(s.ops) - 1
    return (
        s.graph(s.conv(x, 4, 1)),
        split,
        (
            "conv2d_s8_pair_region",
            "dwconv3x3_s8_planar_region",
            "conv2d_s8_pair_region",
            "add_s8_lut_region",
            "dwconv_s8_simd2_region",
            "conv2d_s8_pair_region",
        ),
    )


def _odd_geometry():
    """conv 3x3 dilation 2 (cin 1) -> conv 3x3/2 VALID -> dw 5x5 -> conv 1x1/2 (split) -> conv 3x3."""
    s = Stack(np.random.default_rng(22), (1, 17, 15, 1))
    x = s.conv(s.conv(s.input, 4, 3, 1, 2), 8, 3, 2, 1, Padding.VALID)
    x = s.conv(s.dw(x, 5), 4, 1, 2)
    split = len(s.ops) - 1
    return (
        s.graph(s.conv(x, 4, 3)),
        split,
        ("conv2d_s8_pair_region", "conv2d_s8_pair_region", "dwconv_s8_simd2_region", "conv2d_s8_pair_region"),
    )


def _wide(channels: int = 6):
    """conv 3x3 -> dw 3x3 VALID -> dw 3x3 (split) on a 40 x 58 map: regions wider than one tile of the
    channel-planar region kernel (several tiles a row, and a tail of each width) and taller than one
    band, VALID and SAME; one plane at a time (6 channels) or four channels' planes per copy (8)."""
    s = Stack(np.random.default_rng(23), (1, 40, 58, 3))
    x = s.dw(s.dw(s.conv(s.input, channels, 3), 3, 1, 1, Padding.VALID), 3)
    split = len(s.ops) - 1
    return (
        s.graph(s.conv(x, 4, 1)),
        split,
        ("conv2d_s8_pair_region", "dwconv3x3_s8_planar_region", "dwconv3x3_s8_planar_region"),
    )


def _pointwise_runs():
    """conv 3x3/2 (cin 3) -> 1x1 (8 -> 12) -> dw 3x3 -> 1x1 (12 -> 8, split) -> conv 3x3 on a 21 x 19 map: the
    first 1x1 reads and writes per-patch buffers (every region one run of pixels), the split 1x1 writes rows of the
    whole output tensor (one run per row, odd widths end with a lone pixel)."""
    s = Stack(np.random.default_rng(24), (1, 21, 19, 3))
    x = s.conv(s.dw(s.conv(s.conv(s.input, 8, 3, 2), 12, 1), 3), 8, 1)
    split = len(s.ops) - 1
    return (
        s.graph(s.conv(x, 4, 3)),
        split,
        ("conv2d_s8_pair_region", "conv2d_s8_pair_region", "dwconv3x3_s8_planar_region", "conv2d_s8_pair_region"),
    )


def _forced_plan(graph, split: int, p: int, board) -> ModelPlan:
    """Ops 0..split on p x p patches, every op on its fastest ordinary (not in-place) kernel."""
    sched = build_schedule(graph, split, p)
    opts = CompileOptions(target=board)
    bound = run_pipeline(graph, opts, passes=[p for p in PIPELINE if p[0] == "bind_kernels"])
    cands = stage_candidates(graph, sched, bound.candidates, opts.target)
    picks = tuple(next(c for c in op_cands if not c.inplace) for op_cands in cands)
    plan = plan_patched(graph, sched, scratch=scratch_of(picks))
    return ModelPlan(graph, picks, frozenset(), sched, plan, plan, target=opts.target)


@pytest.mark.parametrize(
    "make,p",
    [(_mobilenet_like, 3), (_odd_geometry, 2), (_wide, 2), (lambda: _wide(8), 2), (_pointwise_runs, 3)],
    ids=["mobilenet_like_p3", "odd_p2", "wide_p2", "wide8_p2", "pointwise_runs_p3"],
)
def test_every_simd_stage_kernel_is_bit_exact_on_uneven_patches(tmp_path, make, p):
    graph, split, stage_kernels = make()
    board = load_board(BOARD)
    mp = _forced_plan(graph, split, p, board)
    assert mp.kernel_names[: split + 1] == stage_kernels
    x = np.random.default_rng(p).integers(-128, 128, graph.tensor(graph.inputs[0]).shape, dtype=np.int8)
    write_project(graph, tmp_path / "model", CompileOptions(target=board), plan=mp)
    fw = build(prepare_project(tmp_path / "model", board, tmp_path / "fw", x), board)
    res = run_qemu(fw.elf_path, board, count=False)
    want = run_graph(graph, [x])[0]
    np.testing.assert_array_equal(np.frombuffer(res.output_bytes, np.int8).reshape(want.shape), want)


@pytest.mark.parametrize(("key", "budget"), [("vww", 0.10), ("ic", 0.5)])
def test_mlperf_with_patches_is_exact_and_runs_the_simd_stage(key, budget):
    """Bit-exact with patches (IC has no stage within the default 10 % cycle budget: a wider one here); the speed
    of the patched models is measured by bench/, not here."""
    graph = load_model(mlperf_path(key))
    t = graph.tensor(graph.inputs[0])
    x = lcg_input(t.size).reshape(t.shape)
    res = run_model(graph, x, CompileOptions(target=BOARD, patches="auto", max_extra_cycles=budget))
    np.testing.assert_array_equal(res.output, run_graph(graph, [x])[0])
    assert res.kernels[0] == "conv2d_s8_pair_region"
    assert not any(k in ("conv2d_s8_region", "dwconv_s8_region") for k in res.kernels)
