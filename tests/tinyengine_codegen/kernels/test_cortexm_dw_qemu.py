"""The channel-planar 3x3 depthwise kernel (kernels/cortexm_dw.py) in QEMU (qemu-m4) against the numpy reference:
random shapes, stride 1 and 2 (odd sizes, SAME and VALID, widths that leave every tail of the four-pixel step),
independent quantization (per-channel scales from tiny to large, so right and left shifts), activation clips, a constant
channel, in place and out of place."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from hypothesis import Phase, assume, given, settings
from hypothesis import strategies as st

from tests.tinyengine_codegen.reference.cases import act, const
from tinyengine_codegen.ir.graph import Graph, Op
from tinyengine_codegen.ir.ops import Activation, Conv2DAttrs, DepthwiseConv2DAttrs, ElementwiseAttrs, OpKind, Padding
from tinyengine_codegen.ir.verify import verify
from tinyengine_codegen.options import CompileOptions
from tinyengine_codegen.passes import plan_model
from tinyengine_codegen.reference.run import run_graph
from tinyengine_codegen.runner import run_model

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(
        shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
        reason="Cortex-M toolchain or QEMU not installed",
    ),
]

ACTS = (Activation.NONE, Activation.RELU, Activation.RELU6)


def _graph(h, w, c, padding, act_fn, seed, residual=False, stride=1, bias_scale=1, saturate=False):
    """3x3 conv from 2c + 8 channels (the graph's peak, so the depthwise has room for its scratch) -> 3x3 depthwise
    [-> ADD of the conv output and the depthwise output, which keeps the depthwise input alive: out of place]."""
    rng = np.random.default_rng(seed)
    cin = 2 * c + 8
    wc = const("wc", rng.integers(-127, 128, (c, 3, 3, cin), dtype=np.int8), scales=rng.uniform(0.002, 0.02, c))
    bc = const("bc", rng.integers(-3000, 3000, c, dtype=np.int32), scales=[1.0] * c)
    x = act("x", (1, h, w, cin), 0.05, int(rng.integers(-20, 20)))
    y = act("y", (1, h, w, c), 0.08, int(rng.integers(-128, 40)))
    conv = Op("conv", OpKind.CONV_2D, ("x", "wc", "bc"), ("y",), Conv2DAttrs(1, 1, 1, 1, Padding.SAME, Activation.NONE))
    wd = rng.integers(-127, 128, (1, 3, 3, c), dtype=np.int8)
    wd[..., int(rng.integers(0, c))] = 0  # a constant output channel
    # per-channel scales over four decades: output multipliers below and above one (right and left shifts)
    scales = 10.0 ** rng.uniform(-4, -0.5, c)
    wt = const("wd", wd, scales=scales, axis=3)
    bd = rng.integers(-2000, 2000, c, dtype=np.int32) * bias_scale
    if saturate:  # biases beyond 24 bits whose channels saturate: one constant output each, either sign
        bd[0], bd[-1] = (1 << 24) + 3, -(1 << 23) - 5
    bias = const("bd", bd, scales=[1.0] * c)
    if padding is Padding.SAME:
        oh, ow = (h + stride - 1) // stride, (w + stride - 1) // stride
    else:
        oh, ow = (h - 3) // stride + 1, (w - 3) // stride + 1
    d = act("d", (1, oh, ow, c), float(rng.uniform(0.01, 0.2)), int(rng.integers(-128, 100)))
    dw = Op(
        "dw",
        OpKind.DEPTHWISE_CONV_2D,
        ("y", "wd", "bd"),
        ("d",),
        DepthwiseConv2DAttrs(stride, stride, 1, 1, padding, 1, act_fn),
    )
    ops, tensors, out = [conv, dw], {t.name: t for t in (x, y, wc, bc, wt, bias, d)}, "d"
    if residual:
        tensors["z"] = act("z", (1, oh, ow, c), 0.15, 2)
        ops.append(Op("add", OpKind.ADD, ("y", "d"), ("z",), ElementwiseAttrs()))
        out = "z"
    return verify(Graph("dw_planar", tensors, tuple(ops), ("x",), (out,)))


OPTIONS = CompileOptions(target="qemu-m4", patches="off")
# stride 1 with channels a multiple of four copies four channels' planes per pass (planar4), else one at a time
IN_PLACE = ("dwconv3x3_s8_planar_inplace", "dwconv3x3_s8_planar4_inplace")
OUT_OF_PLACE = ("dwconv3x3_s8_planar", "dwconv3x3_s8_planar4")


def _planned(graph) -> str:
    """The depthwise kernel the plan picks (placement may prefer a kernel with less scratch)."""
    return plan_model(graph, OPTIONS).kernel_names[1]


def _check(graph, seed):
    x = np.random.default_rng(seed).integers(-128, 128, size=graph.tensor("x").shape, dtype=np.int8)
    res = run_model(graph, x, OPTIONS)
    np.testing.assert_array_equal(res.output, run_graph(graph, [x])[0])
    return res.kernels


@settings(max_examples=6, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(
    st.integers(3, 11),
    st.integers(3, 13),
    st.sampled_from([1, 3, 4, 8, 12, 20]),
    st.sampled_from([Padding.SAME, Padding.VALID]),
    st.sampled_from(ACTS),
    st.integers(0, 10_000),
)
def test_planar_depthwise_random_shapes_in_place(h, w, c, padding, act_fn, seed):
    graph = _graph(h, w, c, padding, act_fn, seed)
    assume(_planned(graph) in IN_PLACE)
    assert _check(graph, seed)[1] in IN_PLACE


@settings(max_examples=5, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(
    st.integers(8, 14),
    st.integers(8, 15),
    st.sampled_from([1, 4, 7, 16]),
    st.sampled_from([Padding.SAME, Padding.VALID]),
    st.sampled_from(ACTS),
    st.integers(0, 10_000),
)
def test_planar_depthwise_stride2_random_shapes_in_place(h, w, c, padding, act_fn, seed):
    """Stride 2, even and odd sizes (SAME pads only below/right for even ones), at least 9 output pixels."""
    graph = _graph(h, w, c, padding, act_fn, seed, stride=2)
    assume(_planned(graph) == "dwconv3x3_s8_planar_inplace")
    assert _check(graph, seed)[1] == "dwconv3x3_s8_planar_inplace"


@pytest.mark.parametrize("w", [1, 2, 5, 8])
def test_planar_depthwise_out_of_place_every_tail(w):
    """Widths 1, 2, 5 and 8: a lone tail step of one or two pixels, a step plus one, two full steps (7 rows: more
    than the small-plane kernel takes)."""
    kernels = _check(_graph(7, w, 8, Padding.SAME, Activation.RELU6, seed=w, residual=True), seed=w)
    assert kernels[1] in OUT_OF_PLACE


def test_planar_depthwise_wide_rows_stride2():
    """A 256-wide map at stride 2: the plane copy loops over its columns (more than 64), and the step to the next
    plane row (258 bytes) is no ARM modified immediate."""
    graph = _graph(5, 256, 4, Padding.SAME, Activation.RELU, seed=7, stride=2)
    assert _planned(graph) == "dwconv3x3_s8_planar_inplace"
    assert _check(graph, 7)[1] == "dwconv3x3_s8_planar_inplace"


@pytest.mark.parametrize(
    "h,w,c,padding,stride",
    [
        (25, 5, 8, Padding.SAME, 1),
        (13, 4, 5, Padding.VALID, 1),
        (20, 6, 4, Padding.SAME, 2),
        (19, 3, 3, Padding.SAME, 2),
    ],
)
def test_planar_depthwise_tall_planes_walk_transposed(h, w, c, padding, stride):
    """Planes at least twice as tall as wide are walked along their columns (weights and plane transposed)."""
    graph = _graph(h, w, c, padding, Activation.RELU6, seed=h + w, stride=stride)
    assert _planned(graph) in IN_PLACE
    assert _check(graph, h)[1] in IN_PLACE


@pytest.mark.parametrize(
    "h,w,c,padding,residual,seed,bias_scale",
    [
        (7, 9, 4, Padding.SAME, False, 1, 1),  # rows of 9: two blocks of the copy, then one overlapping them
        (6, 6, 8, Padding.VALID, False, 1, 1),  # 4 x 4 outputs from unpadded rows of exactly four bytes
        (5, 7, 12, Padding.SAME, False, 2, 1),  # odd rows and columns: single-row and single-pixel blocks
        (24, 5, 8, Padding.SAME, True, 1, 1),  # walked transposed, copied down the input columns
        (9, 13, 5, Padding.SAME, True, 1, 1),  # channels no multiple of four: one plane at a time
        (8, 8, 8, Padding.SAME, False, 1, 20_000),  # biases beyond 24 bits: the wide per-channel records
    ],
)
def test_planar_depthwise_stride1_four_channel_copy(h, w, c, padding, residual, seed, bias_scale):
    """Stride 1: four channels' planes per copy pass (4 x 4 byte transposes) or, for other channel counts, one
    (seeds whose quantization the fast requantization takes)."""
    graph = _graph(h, w, c, padding, Activation.RELU, seed=seed, residual=residual, bias_scale=bias_scale)
    kernel = _check(graph, seed)[1]
    assert kernel in (OUT_OF_PLACE if residual else IN_PLACE)
    assert kernel.startswith("dwconv3x3_s8_planar4") == (c % 4 == 0)


def _shared_core_graph(seed, c=8, h=8, w=8):
    """conv -> depthwise with compact records -> depthwise of the same geometry, output zero point and clips with
    biases beyond 24 bits (wide records): both run one core, the wide records' address tagged."""
    rng = np.random.default_rng(seed)
    cin = 2 * c + 8
    wc = const("wc", rng.integers(-127, 128, (c, 3, 3, cin), dtype=np.int8), scales=rng.uniform(0.002, 0.02, c))
    bc = const("bc", rng.integers(-3000, 3000, c, dtype=np.int32), scales=[1.0] * c)
    zp = -100
    tensors = {
        "x": act("x", (1, h, w, cin), 0.05, 3),
        "y": act("y", (1, h, w, c), 0.08, zp),
        "d": act("d", (1, h, w, c), 0.08, zp),
        "e": act("e", (1, h, w, c), 0.1, zp),
        "wc": wc,
        "bc": bc,
    }
    ops = [
        Op("conv", OpKind.CONV_2D, ("x", "wc", "bc"), ("y",), Conv2DAttrs(1, 1, 1, 1, Padding.SAME, Activation.NONE))
    ]
    for i, (src, dst) in enumerate((("y", "d"), ("d", "e"))):
        wd = rng.integers(-127, 128, (1, 3, 3, c), dtype=np.int8)
        scales = 10.0 ** rng.uniform(-4, -0.5, c)
        b = rng.integers(-2000, 2000, c, dtype=np.int32)
        if i:  # biases of 2^23 and more over multipliers of 1e-5: outputs near 84 + zp that still vary
            wd = (rng.integers(100, 128, (1, 3, 3, c)) * rng.choice([-1, 1], (1, 3, 3, c))).astype(np.int8)
            scales = np.full(c, 1.25e-5)
            b = ((1 << 23) + rng.integers(0, 1 << 22, c)).astype(np.int32)
        tensors[f"w{i}"] = const(f"w{i}", wd, scales=scales, axis=3)
        tensors[f"b{i}"] = const(f"b{i}", b, scales=[1.0] * c)
        attrs = DepthwiseConv2DAttrs(1, 1, 1, 1, Padding.SAME, 1, Activation.NONE)
        ops.append(Op(f"dw{i}", OpKind.DEPTHWISE_CONV_2D, (src, f"w{i}", f"b{i}"), (dst,), attrs))
    return verify(Graph("dw_shared_core", tensors, tuple(ops), ("x",), ("e",)))


@pytest.mark.parametrize("seed", [0, 1])
def test_planar_depthwise_compact_and_wide_records_share_one_core(seed):
    from tinyengine_codegen.kernels import cortexm_dw
    from tinyengine_codegen.kernels.conv import geometry

    graph = _shared_core_graph(seed)
    target = OPTIONS.target
    dws = graph.ops[1:]
    assert all(cortexm_dw.is_dw3x3_planar(op, graph, target) for op in dws)
    cores = [cortexm_dw._core_context(op, graph, geometry(op, graph), True) for op in dws]
    assert [c["compact"] for c in cores] == [True, False]
    assert cores[0]["core"] == cores[1]["core"]
    _check(graph, seed)


def test_planar_depthwise_stride1_and_stride2_share_one_copy():
    """conv -> 8 x 8 x 8 depthwise stride 1 -> depthwise stride 2 (SAME): the same input plane rows and columns in
    planes of different sizes, one four-channel copy function for both (planes apart as an argument)."""
    from tinyengine_codegen.kernels import cortexm_dw
    from tinyengine_codegen.kernels.conv import geometry

    rng = np.random.default_rng(3)
    c, cin = 8, 24
    tensors = {
        "x": act("x", (1, 8, 8, cin), 0.05, 3),
        "y": act("y", (1, 8, 8, c), 0.08, -7),
        "d": act("d", (1, 8, 8, c), 0.09, 11),
        "e": act("e", (1, 4, 4, c), 0.1, -20),
        "wc": const("wc", rng.integers(-127, 128, (c, 3, 3, cin), dtype=np.int8), scales=rng.uniform(0.002, 0.02, c)),
        "bc": const("bc", rng.integers(-3000, 3000, c, dtype=np.int32), scales=[1.0] * c),
    }
    ops = [
        Op("conv", OpKind.CONV_2D, ("x", "wc", "bc"), ("y",), Conv2DAttrs(1, 1, 1, 1, Padding.SAME, Activation.NONE))
    ]
    for i, (src, dst, stride) in enumerate((("y", "d", 1), ("d", "e", 2))):
        wd = rng.integers(-127, 128, (1, 3, 3, c), dtype=np.int8)
        tensors[f"w{i}"] = const(f"w{i}", wd, scales=10.0 ** rng.uniform(-4, -0.5, c), axis=3)
        tensors[f"b{i}"] = const(f"b{i}", rng.integers(-2000, 2000, c, dtype=np.int32), scales=[1.0] * c)
        attrs = DepthwiseConv2DAttrs(stride, stride, 1, 1, Padding.SAME, 1, Activation.RELU)
        ops.append(Op(f"dw{i}", OpKind.DEPTHWISE_CONV_2D, (src, f"w{i}", f"b{i}"), (dst,), attrs))
    graph = verify(Graph("dw_shared_copy", tensors, tuple(ops), ("x",), ("e",)))
    lays = [cortexm_dw._core_context(op, graph, geometry(op, graph), True) for op in graph.ops[1:]]
    assert lays[0]["copy"] == lays[1]["copy"] and lays[0]["plane_bytes"] != lays[1]["plane_bytes"]
    kernels = _check(graph, 3)
    assert kernels[1:] == ("dwconv3x3_s8_planar4_inplace",) * 2


@pytest.mark.parametrize("stride", [1, 2])
def test_planar_depthwise_saturating_wide_bias_compact_records(stride):
    """Channels whose bias is beyond 24 bits but whose output is one constant take the compact records."""
    from tinyengine_codegen.kernels import cortexm_dw

    graph = _graph(8, 8, 8, Padding.SAME, Activation.NONE, 5, stride=stride, saturate=True)
    assert cortexm_dw._records(graph.ops[1], graph)[1]
    _check(graph, 5)
