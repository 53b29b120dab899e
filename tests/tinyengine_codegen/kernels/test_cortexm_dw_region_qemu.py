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
from tinyengine_codegen.ir.ops import Padding
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
    """conv 1x1 -> dw 3x3 (SAME or VALID) -> dw 3x3 -> dw 3x3/2 (split) -> conv 1x1, random sizes; (graph, split, p)."""
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(7, 34)), int(rng.integers(7, 60))
    c = int(rng.choice([4, 8, 12, 16, 5, 6]))
    s = Stack(rng, (1, h, w, int(rng.integers(1, 9))))
    x = s.conv(s.input, c, 1)
    x = s.dw(x, 3, 1, 1, Padding.VALID if rng.integers(2) else Padding.SAME)
    x = s.dw(s.dw(x, 3), 3, 2)
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
