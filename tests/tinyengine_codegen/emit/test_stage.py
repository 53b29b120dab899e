"""Patch-stage emission: region tables worked by hand, and a stage through every region kernel, run under
AddressSanitizer against the reference executor."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tinyengine_codegen.build.host import build_host, run_host
from tinyengine_codegen.compile import compile_model, write_project
from tinyengine_codegen.emit.stage import combine, region_grid, region_rows
from tinyengine_codegen.errors import InternalError
from tinyengine_codegen.ir.ops import OpKind, Padding
from tinyengine_codegen.kernels.registry import HOST
from tinyengine_codegen.options import CompileOptions
from tinyengine_codegen.passes import PIPELINE, run_pipeline
from tinyengine_codegen.passes.patches import stage_candidates
from tinyengine_codegen.planner import check_plan
from tinyengine_codegen.planner.model_plan import ModelPlan, choose_kernels, scratch_of
from tinyengine_codegen.planner.patches import build_schedule, patched_buffers, plan_patched
from tinyengine_codegen.reference.run import run_graph

from ..kernels.graphs import conv_graph
from ..planner.stacks import Stack


def _staged(graph, split: int, p: int) -> ModelPlan:
    """A ModelPlan that runs ops 0..split on p x p patches (whatever the peak), as plan_model would build it."""
    sched = build_schedule(graph, split, p)
    bound = run_pipeline(graph, CompileOptions(), passes=[p for p in PIPELINE if p[0] == "bind_kernels"])
    cands = stage_candidates(graph, sched, bound.candidates, HOST)
    kernels = choose_kernels(cands, frozenset(), patched_buffers(graph, sched))
    scratch = scratch_of(kernels)
    plan = plan_patched(graph, sched, scratch=scratch)
    check_plan(patched_buffers(graph, sched, scratch=scratch), plan, alignment=4)
    return ModelPlan(graph, kernels, frozenset(), sched, plan, plan)


def test_region_rows_by_hand():
    g = conv_graph(np.random.default_rng(0), h=4, w=4, cin=2, cout=3, k=3)
    rows = region_rows(g, build_schedule(g, 0, 2))[0]
    # in_off[2], in_row[2], out_off, out_row, in_h, in_w, pad t/b/l/r, out_h, out_w
    assert rows[0] == (0, 0, 8, 0, 0, 12, 3, 3, 1, 0, 1, 0, 2, 2)  # reads rows/cols 0..2, pads top/left
    assert rows[1] == (2, 0, 8, 0, 6, 12, 3, 3, 1, 0, 0, 1, 2, 2)  # cols 1..3, output at column 2
    assert rows[3] == (10, 0, 8, 0, 30, 12, 3, 3, 0, 1, 0, 1, 2, 2)  # rows/cols 1..3, output at (2, 2)
    # on the 2 x 2 grid: row parts (first rows of in0, in1, out; in_h, pad_t, pad_b, out_h) by patch row, column
    # parts (first bytes of in0, in1, out inside a row; row strides; in_w, pad_l, pad_r, out_w) by patch column
    ys, xs = region_grid(g, build_schedule(g, 0, 2))[0]
    assert ys == [(0, 0, 0, 3, 1, 0, 2), (1, 0, 2, 3, 0, 1, 2)]
    assert xs == [(0, 0, 0, 8, 0, 12, 3, 1, 0, 2), (2, 0, 6, 8, 0, 12, 3, 0, 1, 2)]
    assert [combine(y, x) for y in ys for x in xs] == rows
    code = compile_model(g, plan=_staged(g, 0, 2)).files["tinyml.c"]
    # the compact tinyml_region_y_t / tinyml_region_x_t initializers of patch row 1 and patch column 1
    assert "{{1, 0, 2}, 3, 0, 1, 2}," in code and "{{2, 0, 6}, {8, 0, 12}, 3, 0, 1, 2}," in code
    assert "tinyml_region_t l0_conv_2d_regions" not in code  # the grid replaces the per-patch table


def test_wide_region_layout_when_a_row_stride_needs_more_than_16_bits():
    from tinyengine_codegen.emit.model import _c_row, compact_regions

    row = (10, 0, 8, 0, 30, 12, 3, 3, 0, 1, 0, 1, 2, 2)
    assert compact_regions({0: [row]}) and not compact_regions({0: [row[:2] + (1 << 16,) + row[3:]]})
    assert not compact_regions({0: [row[:7] + (256,) + row[8:]]})
    assert _c_row(row, False) == "{{10, 0}, {8, 0}, 30, 12, 3, 3, 0, 1, 0, 1, 2, 2}"


def test_grid_layout_compact_limits_and_dedupe():
    from tinyengine_codegen.emit.model import _grid_tables, compact_grid

    y, x = (1, 0, 2, 3, 0, 1, 2), (2, 0, 6, 8, 0, 12, 3, 0, 1, 2)
    assert compact_grid({0: ([y], [x])})
    assert not compact_grid({0: ([(1 << 16,) + y[1:]], [x])})  # a first row beyond 16 bits
    assert not compact_grid({0: ([y], [x[:5] + (1 << 16,) + x[6:]])})  # an output row stride beyond 16 bits
    assert not compact_grid({0: ([y[:3] + (256,) + y[4:]], [x])})  # a height beyond 8 bits
    layers = [dict(index=0, fn="l0_a"), dict(index=1, fn="l1_b"), dict(index=2, fn="l2_c")]
    tables = _grid_tables({0: ([y], [x]), 1: ([y], [x[:3] + (9,) + x[4:]])}, layers)
    # layer 1 shares layer 0's row part; layer 2 is outside the stage
    assert [t["name"] for t in tables] == ["l0_a_ry", "l0_a_rx", "l1_b_rx"]
    assert (layers[1]["ry"], layers[1]["rx"]) == ("l0_a_ry", "l1_b_rx") and "ry" not in layers[2]
    assert tables[1]["rows"] == ["{{2, 0, 6}, {8, 0, 12}, 3, 0, 1, 2}"]


def test_a_region_that_spills_is_an_internal_error():
    g = conv_graph(np.random.default_rng(0), h=6, w=6, cin=2, cout=3, k=3)
    g2 = Stack(np.random.default_rng(1), (1, 6, 6, 2))
    y = g2.conv(g2.input, 3, 3)
    graph = g2.graph(g2.conv(y, 2, 3))
    sched = build_schedule(graph, 1, 2)
    small = dataclasses.replace(sched, buffer_bytes={k: v - 4 for k, v in sched.buffer_bytes.items()})
    with pytest.raises(InternalError, match="spills out of its"):
        region_rows(graph, small)
    assert region_rows(g, build_schedule(g, 0, 3))


def _every_stage_kind():
    s = Stack(np.random.default_rng(5), (1, 15, 13, 3))
    x = s.pad(s.input, 1, 0, 2, 1)
    x = s.conv(x, 4, 3, 2)
    x = s.dw(x, 3, 1, 2)
    x = s.pool(x, OpKind.MAX_POOL_2D, 3, 1, Padding.SAME)
    x = s.pool(x, OpKind.AVERAGE_POOL_2D, 2, 1, Padding.VALID)
    x = s.add(x, s.conv(s.dw(x, 5), s.shape(x)[3], 1))
    split = len(s.ops) - 1
    return s.graph(s.conv(s.conv(x, 3, 3, 2), 2, 1)), split


@pytest.mark.parametrize(("p", "grid"), [(2, True), (3, True), (3, False)])
def test_a_stage_through_every_region_kernel_is_bit_exact_under_asan(tmp_path, monkeypatch, p, grid):
    """grid False: the per-patch region tables that a schedule off a grid of patches would take."""
    if not grid:
        monkeypatch.setattr("tinyengine_codegen.emit.model.region_grid", lambda graph, sched: None)
    graph, split = _every_stage_kind()
    mp = _staged(graph, split, p)
    assert set(mp.kernel_names[: split + 1]) == {
        "pad_s8_region",
        "conv2d_s8_region",
        "dwconv_s8_region",
        "maxpool_s8_region",
        "avgpool_s8_region",
        "pointwise_s8_region",
    }
    project = write_project(graph, tmp_path / "m", plan=mp)
    assert project.arena_bytes == mp.plan.arena_bytes
    assert ("tinyml_region_at(&r" in project.files["tinyml.c"]) == grid
    xs = np.random.default_rng(p).integers(-128, 128, (3,) + graph.tensor(graph.inputs[0]).shape, dtype=np.int8)
    got = run_host(build_host(tmp_path / "m", tmp_path / "m.exe", sanitize=True, opt="-O1"), xs)
    want = np.stack([run_graph(graph, [x])[0] for x in xs])
    np.testing.assert_array_equal(got.reshape(want.shape), want)
