"""Cycle-priced patches: a stage's extra cycles by hand, the cost table, and the search following the table."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from tests.conftest import mlperf_path
from tinyengine_codegen.planner import patch_cost
from tinyengine_codegen.planner.patch_cost import StageCost, kernel_table, op_work, stage_cost
from tinyengine_codegen.planner.patch_search import choose_patches, work_cost
from tinyengine_codegen.planner.patches import build_schedule, plan_patched

from .stacks import Stack


def _two_convs():
    """8x8x2 input → conv 3x3 (4 ch, 8x8) → conv 3x3 stride 2 (4 ch, 4x4)."""
    g = Stack(np.random.default_rng(0), (1, 8, 8, 2))
    return g.graph(g.conv(g.conv(g.input, 4, 3, 1), 4, 3, 2))


def test_extra_cycles_by_hand():
    graph = _two_convs()
    table = {"L0": (2.0, 0.0), "L1": (1.0, 10.0), "R0": (3.0, 0.0), "R1": (1.5, 20.0)}
    cost = stage_cost(graph, ("L0", "L1"), ("R0", "R1"), table)
    macs = [8 * 8 * 4 * 9 * 2, 4 * 4 * 4 * 9 * 4]
    layer1 = 1.0 * macs[1] + 10.0 * 16
    assert cost.layer == (2.0 * macs[0], layer1) and cost.total == 2.0 * macs[0] + layer1
    # per output pixel: region cost per MAC x MACs per pixel, plus the per-pixel overhead
    assert cost.region_pixel == pytest.approx((3.0 * 72, 1.5 * 144 + 20.0))
    sched = build_schedule(graph, 1, 2)
    # 2x2 patches of the 4x4 output: op 1 computes its 16 pixels once; op 0's rows for output rows 0..1 are
    # 0..4 (stride 2, SAME pads only below), for rows 2..3 they are 4..7: (5 + 4) x (5 + 4) = 81 instead of 64
    assert sched.pixels == (81, 16)
    want = 3.0 * 72 * 81 - 2.0 * macs[0] + (1.5 * 144 + 20.0) * 16 - layer1
    assert cost.extra(0, sched.pixels) == pytest.approx(want)
    assert cost.floors(graph) == pytest.approx((3.0 * 72 * 64 - 2.0 * macs[0], (1.5 * 144 + 20.0) * 16 - layer1))


def test_unknown_kernels_cost_their_counterpart_or_their_work():
    graph = _two_convs()
    cost = stage_cost(graph, ("L0", None), ("R0", None), {"L0": (2.0, 0.0)})
    assert cost.layer[1] == op_work(graph, graph.ops[1])  # nothing measured: one cycle per MAC
    assert cost.region_pixel[0] == pytest.approx(2.0 * 72)  # R0 unmeasured: as fast as L0
    cost = stage_cost(graph, ("L0", "L1"), ("R0", "R1"), {"R1": (3.0, 5.0)})
    assert cost.layer[1] == 3.0 * op_work(graph, graph.ops[1]) + 5.0 * 16  # L1 unmeasured: as R1
    assert work_cost(graph).total == sum(op_work(graph, op) for op in graph.ops)


def test_slow_region_kernels_shrink_or_cancel_the_stage():
    from tinyengine_codegen.importers.tflite import load_tflite

    graph = load_tflite(mlperf_path("vww"))
    n = len(graph.ops)
    fair = stage_cost(graph, ("L",) * n, ("R",) * n, {"L": (1.0, 0.0), "R": (1.0, 0.0)})
    slow = stage_cost(graph, ("L",) * n, ("R",) * n, {"L": (1.0, 0.0), "R": (1.5, 0.0)})
    a = choose_patches(graph, cost=fair, max_extra=0.10)
    assert a is not None and a.extra_cycle_fraction <= 0.10
    b = choose_patches(graph, cost=slow, max_extra=0.10)
    # every stage op now costs 50 % more: each schedule within this budget is within the fair one too, so the
    # slow table can only end at a higher peak (or without patches), and it stays within its own budget
    assert b is None or b.extra_cycle_fraction <= 0.10
    assert b is None or plan_patched(graph, b).arena_bytes > plan_patched(graph, a).arena_bytes
    assert b is None or slow.extra(b.start, b.pixels) > fair.extra(b.start, b.pixels)
    assert choose_patches(graph, cost=slow, max_extra=0.0) is None


def test_table_per_core(tmp_path, monkeypatch):
    path = tmp_path / "kernel_cycles.json"
    rows = {"k": {"cycles_per_unit": 1.5, "cycles_per_pixel": 4.0}}
    path.write_text(json.dumps({"models": {"m4-trm-v1": rows, "m7-dual-v1": {"k": {"cycles_per_unit": 0.9}}}}))
    monkeypatch.setattr(patch_cost, "TABLE_PATH", path)
    patch_cost._tables.cache_clear()
    try:
        assert kernel_table(SimpleNamespace(dsp=True, core="cortex-m4")) == {"k": (1.5, 4.0)}
        assert kernel_table(SimpleNamespace(dsp=True, core="cortex-m7")) == {"k": (0.9, 0.0)}
        assert kernel_table(SimpleNamespace(dsp=True, core="cortex-m33")) == {"k": (1.5, 4.0)}  # the M4 table
        assert kernel_table(SimpleNamespace(dsp=False, core="cortex-m0plus")) == {}  # portable kernels: unmeasured
    finally:
        patch_cost._tables.cache_clear()


def test_stage_cost_is_plain_data():
    c = StageCost((1.0, 2.0), (0.5,), 3.0)
    assert c.extra(0, (4,)) == pytest.approx(1.0)


@pytest.mark.parametrize("board", ["qemu-m4", "qemu-m7"])
def test_the_table_covers_the_kernels_of_the_mlperf_models(board):
    """Kernels change: when this fails, run `python bench/kernel_cycles.py` to measure the new ones."""
    from tinyengine_codegen.boards import load_board
    from tinyengine_codegen.importers.tflite import load_tflite
    from tinyengine_codegen.options import CompileOptions
    from tinyengine_codegen.passes import plan_model

    b = load_board(board)
    table = kernel_table(b)
    missing = set()
    for key in ("ic", "vww", "kws", "ad"):
        for patches in ("off", "auto"):  # the layer kernels, and the region kernels of the stage chosen
            mp = plan_model(load_tflite(mlperf_path(key)), CompileOptions(target=b, patches=patches))
            missing |= {k for k in mp.kernel_names if k and k not in table}
    assert not missing, f"kernels without measured cycles: {sorted(missing)}; run python bench/kernel_cycles.py"
