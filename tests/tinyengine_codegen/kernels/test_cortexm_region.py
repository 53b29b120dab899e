"""Cortex-M SIMD patch-stage specs: their place in the stage families, their predicates per target, and the
numbers their context builders hand the templates (QEMU runs are in test_cortexm_region_qemu.py)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tests.conftest import mlperf_path
from tinyengine_codegen.boards import load_board
from tinyengine_codegen.compile import compile_model
from tinyengine_codegen.ir.graph import Graph
from tinyengine_codegen.ir.ops import Padding
from tinyengine_codegen.kernels.cortexm_region import (
    REGION_SIMD,
    dw_region_context,
    dw_simd2_context,
    im2col_region_context,
    pair_region_context,
)
from tinyengine_codegen.kernels.registry import HOST, STAGE_FAMILIES, Binding, WeightTable, stage_specs
from tinyengine_codegen.model_io import load_model
from tinyengine_codegen.options import CompileOptions
from tinyengine_codegen.passes import plan_model

from ..planner.stacks import Stack

M4 = load_board("qemu-m4")


def _names(op, graph, target):
    return [s.name for s in stage_specs(op, graph, target)]


def _binding(graph, i):
    return Binding(i, f"l{i}", graph, WeightTable("t"), {})


def test_simd_specs_lead_their_families_and_the_portable_kernel_stays_last():
    for kind, simd in REGION_SIMD.items():
        family = STAGE_FAMILIES[kind]
        assert family[: len(simd)] == simd
        assert family[-1].name.endswith("_region") and "simd" not in family[-1].name and "lut" not in family[-1].name


def test_predicates_follow_channels_depth_multiplier_and_target():
    s = Stack(np.random.default_rng(3), (1, 9, 9, 3))
    first = s.conv(s.input, 8, 3, 2)  # cin 3: im2col
    dw = s.dw(first, 3)  # 8 channels, multiplier 1
    dw2 = s.dw(dw, 3, 1, 2)  # multiplier 2: portable only
    odd = s.conv(dw2, 6, 1)  # cout 6 (not a multiple of 4): portable only
    g = s.graph(s.add(odd, s.conv(odd, 6, 1)))
    ops = g.ops
    assert _names(ops[0], g, M4) == ["conv2d_s8_pair_region", "conv2d_s8_im2col_simd_region", "conv2d_s8_region"]
    assert _names(ops[1], g, M4) == [
        "dwconv3x3_s8_planar_region",
        "dwconv_s8_simd2_region",
        "dwconv_s8_simd_region",
        "dwconv_s8_region",
    ]
    assert _names(ops[2], g, M4) == ["dwconv_s8_region"]
    assert _names(ops[3], g, M4) == ["conv2d_s8_pair_region", "conv2d_s8_region"]  # a last pair after the quads
    assert _names(ops[5], g, M4) == ["add_s8_lut_region", "pointwise_s8_region"]
    assert [_names(op, g, HOST) for op in (ops[0], ops[1], ops[5])] == [
        ["conv2d_s8_region"],
        ["dwconv_s8_region"],
        ["pointwise_s8_region"],
    ]


def test_pair_region_falls_back_when_weights_leave_the_row_pair_format():
    """A -128 weight in row B beside a negative row-A weight has no int16 pair: the im2col kernel takes the op."""
    s = Stack(np.random.default_rng(3), (1, 9, 9, 3))
    g = s.graph(s.conv(s.input, 8, 3, 2))
    assert _names(g.ops[0], g, M4)[0] == "conv2d_s8_pair_region"
    t = g.tensor(g.ops[0].inputs[1])
    w = t.data.copy()
    w[0, 0, 0, 0], w[1, 0, 0, 0] = -5, -128
    bad = Graph(g.name, {**g.tensors, t.name: replace(t, data=w)}, g.ops, g.inputs, g.outputs)
    assert _names(bad.ops[0], bad, M4) == ["conv2d_s8_im2col_simd_region", "conv2d_s8_region"]


def test_pair_region_columns_put_each_k_quad_in_smlad_order():
    s = Stack(np.random.default_rng(4), (1, 11, 11, 3))
    g = s.graph(s.conv(s.input, 4, 3, 1, 2))  # 27 values, padded to 28
    ctx = pair_region_context(g.ops[0], g, _binding(g, 0))
    assert ctx["kp"] == 28 and ctx["pad_slots"] == [51]
    # value k of quad q sits at 8q + (0, 2, 1, 3)[k % 4]: words (x0, x2), (x1, x3), then the other column's quad
    assert [t[0] for t in ctx["col_taps"][:8]] == [0, 2, 1, 3, 8, 10, 9, 11]
    assert ctx["col_taps"][26] == (49, 2, 14)


def test_im2col_columns_follow_kernel_rows_with_dilation():
    s = Stack(np.random.default_rng(4), (1, 11, 11, 3))
    g = s.graph(s.conv(s.input, 4, 3, 1, 2))  # 3x3, dilation 2, cin 3: 27 values, padded to 28
    ctx = im2col_region_context(g.ops[0], g, _binding(g, 0))
    assert ctx["kpad"] == 28 and len(ctx["col_taps"]) == 27
    # column index k = (ky * 3 + kx) * 3 + ci reads kernel row ky at kx * dilation * cin + ci bytes
    assert ctx["col_taps"][4] == (4, 0, 7) and ctx["col_taps"][26] == (26, 2, 14)


def test_depthwise_interior_taps_count_from_their_kernel_row():
    s = Stack(np.random.default_rng(5), (1, 7, 7, 8))
    g = s.graph(s.dw(s.input, 3, 2, 1, Padding.VALID))
    ctx = dw_region_context(g.ops[0], g, _binding(g, 0))
    assert ctx["row_bases"] == ["x0"] * 3 + ["x1"] * 3 + ["x2"] * 3
    assert ctx["row_offsets"] == [0, 8, 16] * 3


def test_vww_patch_stage_on_a_dsp_board_takes_the_simd_region_kernels():
    graph = load_model(mlperf_path("vww"))
    options = CompileOptions(target=M4, patches="auto")
    mp = plan_model(graph, options)
    assert mp.patches is not None and mp.plan.arena_bytes < mp.plain.arena_bytes
    stage = mp.kernel_names[: mp.patches.split_op + 1]
    assert stage[:2] == ("conv2d_s8_pair_region", "dwconv3x3_s8_planar_region")
    assert all(
        k.endswith(("_simd_region", "_simd2_region", "_planar_region")) or k == "conv2d_s8_pair_region" for k in stage
    ), stage
    code = compile_model(graph, options, plan=mp).files["tinyml.c"]
    assert "l0_conv_2d_col(" in code and "l1_depthwise_conv_2d_core(" in code


def test_two_pixel_depthwise_region_kernel_keeps_its_stack_buffers_small():
    """3x3/2 over 16 channels: a 3 x 48 B window and an 80 B zero-point row; over 256 channels 3,328 B > 2 KB: the
    one-pixel kernel (pointers into the region, a zero-point row in flash) takes it."""
    for c, first in ((16, "dwconv_s8_simd2_region"), (256, "dwconv_s8_simd_region")):
        s = Stack(np.random.default_rng(7), (1, 9, 9, c))
        g = s.graph(s.dw(s.input, 3, 2))
        assert _names(g.ops[0], g, M4)[0] == first


def test_two_pixel_depthwise_region_context_lists_the_columns_each_pixel_reads():
    s = Stack(np.random.default_rng(8), (1, 9, 9, 8))
    g = s.graph(s.dw(s.input, 3, 2))
    ctx = dw_simd2_context(g.ops[0], g, _binding(g, 0))
    # stride 2: the column two on is the first pixel's last tap and the second pixel's first
    assert ctx["cols2"] == [(0, [(0, 0)]), (1, [(0, 1)]), (2, [(0, 2), (1, 0)]), (3, [(1, 1)]), (4, [(1, 2)])]
    assert ctx["cols1"] == [(0, [(0, 0)]), (1, [(0, 1)]), (2, [(0, 2)])]
    # per four channels: four biases, then (multiplier, rounding, shift) of each
    q = ctx["q"]
    assert ctx["rec"][:7] == [*ctx["bias"][:4], q["mult"][0], q["rnd"][0], q["rs"][0]]
    assert len(ctx["rec"]) == 16 * 2
