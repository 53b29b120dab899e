"""The memory plot: a PNG of the expected size is written, with or without a patch stage."""

import dataclasses

import pytest

from tests.tinyengine_codegen.planner.graphs import mbv2_like
from tinyengine_codegen.boards import load_board
from tinyengine_codegen.options import CompileOptions
from tinyengine_codegen.simulate import simulate
from tinyengine_codegen.viz import plot_memory


@pytest.mark.parametrize("patches,sram", [("off", 327680), ("auto", 150000)])
def test_plot_memory_writes_a_png(tmp_path, patches, sram):
    board = dataclasses.replace(load_board("qemu-m4"), sram_bytes=sram)
    res = simulate(mbv2_like(64, 0.35), board, CompileOptions(patches=patches))
    assert (res.patches is not None) == (patches == "auto")
    path = plot_memory(res, tmp_path / "sub" / "plot.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert height == 1100 and width >= 1210
