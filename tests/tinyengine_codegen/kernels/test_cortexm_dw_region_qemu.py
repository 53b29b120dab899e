"""The channel-planar 3x3 depthwise region kernel (dwconv3x3_s8_planar_region) in QEMU (qemu-m4) against the numpy
reference, on seeded random patch stages: map sizes from a few pixels to wider than one tile (several tiles a row,
tiles of one to three plane columns), channel counts with and without the four-channel plane copy, SAME and VALID
padding, 2 to 4 patches a side, every layer with its own random quantization (scales, zero points, biases)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tinyengine_codegen.boards import load_board
from tinyengine_codegen.build.platformio import build, prepare_project
from tinyengine_codegen.compile import write_project
from tinyengine_codegen.ir.ops import Activation, DepthwiseConv2DAttrs, OpKind, Padding
from tinyengine_codegen.options import CompileOptions
from tinyengine_codegen.reference.run import run_graph
from tinyengine_codegen.run.qemu import run_qemu

from ..planner.stacks import Stack
from .test_cortexm_region_qemu import _forced_plan

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(
        shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
        reason="Cortex-M toolchain or QEMU not installed",
    ),
]
PLANAR = "dwconv3x3_s8_planar_region"


def _random_stage(seed: int):
    """conv 1x1 -> dw 3x3 (SAME or VALID) -> dw 3x3 -> dw 3x3/2 (split) -> conv 1x1, random sizes and activations;
    (graph, split, p)."""
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(7, 34)), int(rng.integers(7, 60))
    c = int(rng.choice([4, 8, 12, 16, 5, 6]))
    s = Stack(rng, (1, h, w, int(rng.integers(1, 9))))
    x = s.conv(s.input, c, 1)
    x = _dw(s, x, 3, 1, Padding.VALID if rng.integers(2) else Padding.SAME, rng)
    x = s.dw(_dw(s, x, 3, 1, Padding.SAME, rng), 3, 2)
    split = len(s.ops) - 1
    p = int(rng.integers(2, 5))
    p = min(p, *s.shape(x)[1:3])
    return s.graph(s.conv(x, 4, 1)), split, p


@pytest.mark.parametrize("seed", range(8))
def test_planar_region_kernel_is_bit_exact_on_random_stages(tmp_path, seed):
    graph, split, p = _random_stage(seed)
    board = load_board("qemu-m4")
    mp = _forced_plan(graph, split, p, board)
    # both stride-1 depthwise layers run the planar region kernel (the random quantization fits its fast path)
    assert mp.kernel_names[1:3] == (PLANAR, PLANAR), mp.kernel_names
    x = np.random.default_rng(100 + seed).integers(-128, 128, graph.tensor(graph.inputs[0]).shape, dtype=np.int8)
    write_project(graph, tmp_path / "model", CompileOptions(target=board), plan=mp)
    fw = build(prepare_project(tmp_path / "model", board, tmp_path / "fw", x), board)
    res = run_qemu(fw.elf_path, board, count=False)
    want = run_graph(graph, [x])[0]
    np.testing.assert_array_equal(np.frombuffer(res.output_bytes, np.int8).reshape(want.shape), want)


@pytest.mark.parametrize("channels", [8, 5])
def test_planar_region_kernel_single_row_tiles(tmp_path, channels):
    """35 x 48 maps on 2 x 2 patches: regions of 18 and 19 rows, 24 and 25 columns, tiles of at most 17 rows and 24
    columns, so tiles one and two rows high and one column wide; four-channel plane copy (8) and one plane (5)."""
    s = Stack(np.random.default_rng(30 + channels), (1, 35, 48, 3))
    x = s.dw(s.dw(s.conv(s.input, channels, 1), 3), 3)
    graph, split = s.graph(s.conv(x, 4, 1)), len(s.ops) - 1
    board = load_board("qemu-m4")
    mp = _forced_plan(graph, split, 2, board)
    assert mp.kernel_names[1:3] == (PLANAR, PLANAR), mp.kernel_names
    x = np.random.default_rng(channels).integers(-128, 128, graph.tensor(graph.inputs[0]).shape, dtype=np.int8)
    write_project(graph, tmp_path / "model", CompileOptions(target=board), plan=mp)
    fw = build(prepare_project(tmp_path / "model", board, tmp_path / "fw", x), board)
    res = run_qemu(fw.elf_path, board, count=False)
    want = run_graph(graph, [x])[0]
    np.testing.assert_array_equal(np.frombuffer(res.output_bytes, np.int8).reshape(want.shape), want)


SIMD2 = "dwconv_s8_simd2_region"


def _dw(s: Stack, x: str, k: int, stride: int, padding: Padding, rng, dilation: int = 1) -> str:
    """A depthwise layer with a random fused activation (none, RELU or RELU6: clamps below and above)."""
    c = s.shape(x)[3]
    act = (Activation.NONE, Activation.RELU, Activation.RELU6)[int(rng.integers(3))]
    attrs = DepthwiseConv2DAttrs(stride, stride, dilation, dilation, padding, 1, act)
    return s._weighted(OpKind.DEPTHWISE_CONV_2D, x, (1, k, k, c), c, k * k, attrs, k, stride, dilation, padding)


def _random_simd2_stage(seed: int):
    """conv 1x1 -> dw 5x5 (or 3x3 dilation 2) -> dw 3x3/2 SAME or VALID (split) -> conv 1x1: the NHWC two-pixel
    kernel at stride 1 and 2, windows across every region edge, random activations; (graph, split, p)."""
    rng = np.random.default_rng(1000 + seed)
    h, w = int(rng.integers(9, 30)), int(rng.integers(9, 40))
    c = int(rng.choice([4, 8, 12, 16]))
    s = Stack(rng, (1, h, w, int(rng.integers(1, 6))))
    x = s.conv(s.input, c, 1)
    x = _dw(s, x, 3, 1, Padding.SAME, rng, dilation=2) if seed % 3 == 2 else _dw(s, x, 5, 1, Padding.SAME, rng)
    x = _dw(s, x, 3, 2, Padding.VALID if rng.integers(2) else Padding.SAME, rng)
    split = len(s.ops) - 1
    p = min(int(rng.integers(2, 5)), *s.shape(x)[1:3])
    return s.graph(s.conv(x, 4, 1)), split, p


@pytest.mark.parametrize("seed", range(6))
def test_simd2_region_kernel_is_bit_exact_on_random_stages(tmp_path, seed):
    graph, split, p = _random_simd2_stage(seed)
    board = load_board("qemu-m4")
    mp = _forced_plan(graph, split, p, board)
    assert mp.kernel_names[1:3] == (SIMD2, SIMD2), mp.kernel_names
    x = np.random.default_rng(200 + seed).integers(-128, 128, graph.tensor(graph.inputs[0]).shape, dtype=np.int8)
    write_project(graph, tmp_path / "model", CompileOptions(target=board), plan=mp)
    fw = build(prepare_project(tmp_path / "model", board, tmp_path / "fw", x), board)
    res = run_qemu(fw.elf_path, board, count=False)
    want = run_graph(graph, [x])[0]
    np.testing.assert_array_equal(np.frombuffer(res.output_bytes, np.int8).reshape(want.shape), want)


@pytest.mark.parametrize(("kh", "kw", "stride"), [(1, 5, 1), (5, 1, 2), (3, 3, 1)])
def test_simd2_region_kernel_rectangular_windows(tmp_path, kh, kw, stride):
    """1 x 5, 5 x 1 (stride 2) and 3 x 3 windows over 12 channels, split after them on 3 x 3 patches."""
    s = Stack(np.random.default_rng(40 + kh), (1, 17, 19, 3))
    x = s.conv(s.input, 12, 1)
    attrs = DepthwiseConv2DAttrs(stride, stride, 1, 1, Padding.SAME, 1, Activation.RELU)
    x = s._weighted(
        OpKind.DEPTHWISE_CONV_2D, x, (1, kh, kw, 12), 12, kh * kw, attrs, max(kh, kw), stride, 1, Padding.SAME
    )
    graph, split = s.graph(s.conv(x, 4, 1)), len(s.ops) - 1
    board = load_board("qemu-m4")
    mp = _forced_plan(graph, split, 3, board)
    assert mp.kernel_names[1] == (PLANAR if kh == kw else SIMD2), mp.kernel_names
    x = np.random.default_rng(kw).integers(-128, 128, graph.tensor(graph.inputs[0]).shape, dtype=np.int8)
    write_project(graph, tmp_path / "model", CompileOptions(target=board), plan=mp)
    fw = build(prepare_project(tmp_path / "model", board, tmp_path / "fw", x), board)
    res = run_qemu(fw.elf_path, board, count=False)
    want = run_graph(graph, [x])[0]
    np.testing.assert_array_equal(np.frombuffer(res.output_bytes, np.int8).reshape(want.shape), want)
