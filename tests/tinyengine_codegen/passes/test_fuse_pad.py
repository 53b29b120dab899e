"""fuse_pad: a zero-point PAD feeding a VALID conv or depthwise conv is folded into the conv's explicit padding,
the padded tensor is never planned nor emitted, and the generated C stays bit-exact with TFLM (the interpreter
runs the original graph, PAD included, exported to .tflite)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tests.fuzz.modelgen import random_input, random_model
from tests.helpers.host_c import run_graphs_in_c
from tests.helpers.interpreters import tflm_run
from tests.tinyengine_codegen.reference.cases import act, const
from tinyengine_codegen.exporters.tflite import export_tflite
from tinyengine_codegen.ir.graph import Graph, Op
from tinyengine_codegen.ir.ops import Activation, Conv2DAttrs, DepthwiseConv2DAttrs, OpKind, PadAttrs, Padding
from tinyengine_codegen.ir.verify import verify
from tinyengine_codegen.kernels import registry
from tinyengine_codegen.options import CompileOptions
from tinyengine_codegen.passes import PIPELINE, plan_model, run_pipeline
from tinyengine_codegen.passes.fuse_pad import foldable_pad
from tinyengine_codegen.reference.run import run_graph

KINDS = [OpKind.PAD, OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D]
FUSE_ONLY = [p for p in PIPELINE if p[0] == "fuse_pad"]


def _pads(graph) -> int:
    return sum(op.kind is OpKind.PAD for op in graph.ops)


def _fusable_models(count: int, seed0: int):
    """Random PAD/conv/depthwise chains in which at least one PAD is foldable."""
    out, seed = [], seed0
    while len(out) < count:
        g = random_model(np.random.default_rng(seed), ops=KINDS, num_layers=4, name=f"pad{seed}")
        g = type(g)(g.name, g.tensors, g.ops, g.inputs, g.outputs[:1])
        seed += 1
        if any(foldable_pad(g, op) is not None for op in g.ops):
            out.append(g)
    return out


def test_pad_into_valid_conv_by_hand():
    from tests.tinyengine_codegen.kernels.graphs import conv_graph

    g = conv_graph(np.random.default_rng(3), h=6, w=5, cin=3, cout=4, k=3)
    conv = g.ops[0]
    assert conv.attrs.padding is Padding.SAME  # SAME 3x3 stride 1 is PAD (1, 1) x (1, 1) + VALID
    fused = run_pipeline(g, CompileOptions(), passes=FUSE_ONLY).graph
    assert fused.ops == g.ops  # nothing to fold: no PAD


def test_fused_graph_matches_the_reference_and_drops_the_padded_tensor():
    for g in _fusable_models(25, 100):
        mp = run_pipeline(g, CompileOptions(), passes=FUSE_ONLY, check=True)
        assert _pads(mp.graph) < _pads(g), g.name
        convs = [op for op in mp.graph.ops if op.kind in (OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D)]
        assert any(op.attrs.pads is not None and op.attrs.padding is Padding.VALID for op in convs)
        x = random_input(g, np.random.default_rng(7))
        np.testing.assert_array_equal(run_graph(mp.graph, x)[0], run_graph(g, x)[0], err_msg=g.name)
        gone = {op.outputs[0] for op in g.ops if foldable_pad(g, op) is not None}
        assert not gone & set(mp.graph.tensors), g.name


def test_fused_plan_is_no_larger():
    for g in _fusable_models(10, 300):
        on, off = (
            plan_model(g, CompileOptions(patches="off")),
            plan_model(g, CompileOptions(patches="off", fuse_pad=False)),
        )
        assert _pads(on.graph) < _pads(off.graph)
        assert on.arena.arena_bytes <= off.arena.arena_bytes, g.name


def test_pads_that_change_values_are_kept():
    for g in _fusable_models(5, 500):
        for i, op in enumerate(g.ops):
            if foldable_pad(g, op) is None:
                continue
            y = g.tensor(op.outputs[0])
            other = type(y.quant)(y.quant.scale, (y.quant.zero_point[0] + 1,))  # pad value != input zero point
            bad = type(g)(
                g.name, {**g.tensors, y.name: type(y)(y.name, y.shape, y.dtype, other)}, g.ops, g.inputs, g.outputs
            )
            assert foldable_pad(bad, bad.ops[i]) is None


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="no host C compiler")
def test_generated_c_with_fused_pads_is_bit_exact_with_tflm(tmp_path):
    graphs = _fusable_models(12, 700)
    inputs = [random_input(g, np.random.default_rng(1))[0] for g in graphs]
    got = run_graphs_in_c(graphs, [x[None] for x in inputs], tmp_path, sanitize=True)
    for g, x, y in zip(graphs, inputs, got):
        want = tflm_run(export_tflite(g), [x], 1)[0]
        np.testing.assert_array_equal(np.asarray(y).reshape(want.shape), want, err_msg=g.name)


def pad_then_conv(h, w, c, cout, k, stride, pads, depthwise=False, seed=1):
    """x -> PAD(pads = top, bottom, left, right; input zero point) -> CONV_2D or DEPTHWISE_CONV_2D, VALID."""
    rng = np.random.default_rng(seed)
    t, b, lft, r = pads
    ph, pw = h + t + b, w + lft + r
    oh, ow = (ph - k) // stride + 1, (pw - k) // stride + 1
    n = c if depthwise else cout
    shape = (1, k, k, c) if depthwise else (cout, k, k, c)
    wt = const("w", rng.integers(-127, 128, shape, dtype=np.int8), rng.uniform(0.002, 0.02, n), 3 if depthwise else 0)
    bias = const("b", rng.integers(-3000, 3000, n, dtype=np.int32), scales=[1.0] * n)
    x, xp, y = act("x", (1, h, w, c), 0.05, -3), act("xp", (1, ph, pw, c), 0.05, -3), act("y", (1, oh, ow, n), 0.1, 4)
    kind = OpKind.DEPTHWISE_CONV_2D if depthwise else OpKind.CONV_2D
    attrs = (
        DepthwiseConv2DAttrs(stride, stride, 1, 1, Padding.VALID, 1, Activation.RELU)
        if depthwise
        else Conv2DAttrs(stride, stride, 1, 1, Padding.VALID, Activation.RELU)
    )
    ops = (
        Op("pad", OpKind.PAD, ("x",), ("xp",), PadAttrs(((0, 0), (t, b), (lft, r), (0, 0)))),
        Op("conv", kind, ("xp", "w", "b"), ("y",), attrs),
    )
    return verify(Graph(f"pad_{kind.value.lower()}", {v.name: v for v in (x, xp, y, wt, bias)}, ops, ("x",), ("y",)))


SIMD_CASES = {  # name: graph whose fused conv must take a Cortex-M SIMD kernel (not a portable one)
    "conv3x3_s2_symmetric": lambda: pad_then_conv(8, 8, 8, 12, 3, 2, (1, 1, 1, 1)),
    "conv3x3_cin3_rows": lambda: pad_then_conv(9, 8, 3, 8, 3, 2, (0, 1, 2, 1)),
    "dw3x3_uneven": lambda: pad_then_conv(7, 6, 8, 8, 3, 1, (2, 0, 1, 1), depthwise=True),
}


@pytest.mark.qemu
@pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
    reason="Cortex-M toolchain or QEMU not installed",
)
def test_fused_pads_on_the_cortex_m_simd_kernels_are_bit_exact_with_tflm():
    from tinyengine_codegen.runner import run_model

    portable = {spec.name for specs in registry.PORTABLE.values() for spec in specs}
    for name, make in SIMD_CASES.items():
        g = make()
        x = np.random.default_rng(2).integers(-128, 128, g.tensor("x").shape, dtype=np.int8)
        res = run_model(g, x, CompileOptions(target="qemu-m4", patches="off", inplace=False), count=False)
        assert len(res.kernels) == 1 and res.kernels[0] not in portable, (name, res.kernels)  # the PAD is gone
        want = tflm_run(export_tflite(g), [x], 1)[0]
        np.testing.assert_array_equal(res.output.reshape(want.shape), want, err_msg=name)
