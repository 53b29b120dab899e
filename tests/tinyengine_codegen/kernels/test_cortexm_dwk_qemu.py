"""The channel-planar k x k depthwise kernel (kernels/cortexm_dwk.py) in QEMU (qemu-m4), bit-exact against the numpy
reference and TFLM: random shapes (odd sizes, planes smaller than the kernel), k 5 and 7, stride 1 and 2, SAME and
VALID, independent quantization per layer (per-channel scales from tiny to large), activation clips, a constant
channel, four-channel and single-channel plane copies, in place and out of place."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from hypothesis import Phase, assume, given, settings
from hypothesis import strategies as st

from tests.tinyengine_codegen.reference.cases import act, const
from tests.tinyengine_codegen.reference.tflite_writer import run_tflm, to_tflite
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
OPTIONS = CompileOptions(target="qemu-m4", patches="off")
IN_PLACE = ("dwconvkxk_s8_planar_inplace", "dwconvkxk_s8_planar4_inplace")
OUT_OF_PLACE = ("dwconvkxk_s8_planar", "dwconvkxk_s8_planar4")


def _out_size(n: int, k: int, stride: int, padding: Padding) -> int:
    return (n + stride - 1) // stride if padding is Padding.SAME else (n - k) // stride + 1


def _graph(h, w, c, k, stride, padding, act_fn, seed, residual=False, out_zp=None):
    """1x1 conv from cin channels (the graph's peak, with room for four framed planes beside the depthwise) -> k x k
    depthwise [-> a 3x3 depthwise of the same input and an ADD: the k x k depthwise runs out of place]."""
    rng = np.random.default_rng(seed)
    cin = 2 * c + 8 + -(-4 * (h + k + 1) * (w + k + 4) // (h * w))
    wc = const("wc", rng.integers(-127, 128, (c, 1, 1, cin), dtype=np.int8), scales=rng.uniform(0.002, 0.02, c))
    bc = const("bc", rng.integers(-3000, 3000, c, dtype=np.int32), scales=[1.0] * c)
    x = act("x", (1, h, w, cin), 0.05, int(rng.integers(-20, 20)))
    y = act("y", (1, h, w, c), float(rng.uniform(0.02, 0.2)), int(rng.integers(-128, 40)))
    conv = Op("conv", OpKind.CONV_2D, ("x", "wc", "bc"), ("y",), Conv2DAttrs(1, 1, 1, 1, Padding.SAME, Activation.NONE))
    wd = rng.integers(-127, 128, (1, k, k, c), dtype=np.int8)
    wd[..., int(rng.integers(0, c))] = 0  # a constant output channel
    # per-channel scales over four decades: output multipliers below and above one (right and left shifts)
    scales = 10.0 ** rng.uniform(-4.5, -1, c)
    d_scale = float(rng.uniform(0.01, 0.2))
    wt = const("wd", wd, scales=scales, axis=3)
    bias = const("bd", rng.integers(-4000, 4000, c, dtype=np.int32), scales=[1.0] * c)
    oh, ow = _out_size(h, k, stride, padding), _out_size(w, k, stride, padding)
    d = act("d", (1, oh, ow, c), d_scale, int(rng.integers(-128, 100)) if out_zp is None else out_zp)
    attrs = DepthwiseConv2DAttrs(stride, stride, 1, 1, padding, 1, act_fn)
    dw = Op("dw", OpKind.DEPTHWISE_CONV_2D, ("y", "wd", "bd"), ("d",), attrs)
    ops, tensors, out = [conv, dw], {t.name: t for t in (x, y, wc, bc, wt, bias, d)}, "d"
    if residual:  # a second (3x3) depthwise reads y after the k x k one: y stays alive, the k x k one out of place
        w3 = const("w3", rng.integers(-127, 128, (1, 3, 3, c), dtype=np.int8), scales=[0.01] * c, axis=3)
        tensors.update(w3=w3, e=act("e", (1, oh, ow, c), 0.1, -3), z=act("z", (1, oh, ow, c), 0.15, 2))
        ops.append(
            Op(
                "dw3",
                OpKind.DEPTHWISE_CONV_2D,
                ("y", "w3"),
                ("e",),
                DepthwiseConv2DAttrs(stride, stride, 1, 1, Padding.SAME, 1, Activation.NONE),
            )
        )
        ops.append(Op("add", OpKind.ADD, ("d", "e"), ("z",), ElementwiseAttrs()))
        out = "z"
    return verify(Graph("dwk_planar", tensors, tuple(ops), ("x",), (out,)))


def _planned(graph) -> str:
    return plan_model(graph, OPTIONS).kernel_names[1]


def _check(graph, seed, tflm=False):
    x = np.random.default_rng(seed).integers(-128, 128, size=graph.tensor("x").shape, dtype=np.int8)
    res = run_model(graph, x, OPTIONS)
    want = run_graph(graph, [x])[0]
    np.testing.assert_array_equal(res.output, want)
    if tflm:
        np.testing.assert_array_equal(res.output, run_tflm(to_tflite(graph), [x])[0])
    return res.kernels


@settings(max_examples=8, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(
    st.integers(1, 13),
    st.integers(1, 14),
    st.sampled_from([1, 3, 4, 8, 12]),
    st.sampled_from([5, 7]),
    st.sampled_from([1, 2]),
    st.sampled_from([Padding.SAME, Padding.VALID]),
    st.sampled_from(ACTS),
    st.integers(0, 10_000),
)
def test_kxk_planar_random_shapes_in_place(h, w, c, k, stride, padding, act_fn, seed):
    assume(padding is Padding.SAME or (h >= k and w >= k))
    graph = _graph(h, w, c, k, stride, padding, act_fn, seed)
    assume(_planned(graph) in IN_PLACE)
    assert _check(graph, seed)[1] in IN_PLACE


@pytest.mark.parametrize(
    "h,w,c,k,stride,padding",
    [
        (2, 3, 4, 7, 1, Padding.SAME),  # a plane smaller than the kernel: mostly frame
        (3, 3, 8, 5, 2, Padding.SAME),  # 2 x 2 outputs at stride 2
        (17, 23, 4, 5, 1, Padding.SAME),  # rows of 23: blocks of 8, 8 and an overlapping last one
        (24, 24, 8, 7, 2, Padding.SAME),  # 12 wide: two blocks of 6
        (11, 16, 5, 5, 2, Padding.VALID),  # channels no multiple of four: one plane at a time
        (9, 9, 12, 7, 1, Padding.VALID),  # 3 x 3 outputs of a 7 x 7 window
        (6, 6, 16, 7, 1, Padding.SAME),
        (7, 7, 8, 7, 1, Padding.SAME),  # rows of 7: one block of 7 with four weight pairs per kernel row
        (5, 28, 4, 7, 2, Padding.SAME),  # rows of 14: two such blocks
    ],
)
def test_kxk_planar_named_shapes_match_tflm(h, w, c, k, stride, padding):
    act_fn = ACTS[(h + w) % 3]  # NONE: a core without clipping code; RELU, RELU6: the clips as run-time pairs
    graph = _graph(h, w, c, k, stride, padding, act_fn, seed=h * w + k)
    assert _check(graph, h + w, tflm=True)[1] in IN_PLACE


@pytest.mark.parametrize("k,stride,w", [(5, 1, 9), (7, 2, 5), (5, 2, 16)])
def test_kxk_planar_out_of_place(k, stride, w):
    """The depthwise input stays alive (an ADD reads it): the ordinary variant."""
    graph = _graph(7, w, 8, k, stride, Padding.SAME, Activation.RELU, seed=w, residual=True)
    kernels = _check(graph, seed=w)
    assert kernels[1] in OUT_OF_PLACE


@pytest.mark.parametrize(
    "act_fn,out_zp,clips",
    [
        (Activation.RELU, 10, (True, False)),
        (Activation.RELU6, -128, (False, True)),
        (Activation.RELU6, -20, (True, True)),
    ],
)
def test_kxk_planar_clip_variants(act_fn, out_zp, clips):
    """The low clip alone (RELU), the high one alone (RELU6 from -128), both: one core variant each."""
    from tinyengine_codegen.kernels import cortexm_dw

    graph = _graph(9, 10, 8, 5, 1, Padding.SAME, act_fn, seed=out_zp + 200, out_zp=out_zp)
    q = cortexm_dw.dw_epilogue(graph.ops[1], graph)[0]
    assert (q["lo_clip"], q["hi_clip"]) == clips
    assert _check(graph, 3)[1] in IN_PLACE


def _mcu_kk(hw: int, c: int, seed: int) -> Graph:
    """An MCUNet-like chain with calibrated quantization: depthwise 5x5 s1, 7x7 s2, 5x5 s2, 7x7 s1 (RELU6), each
    followed by 1x1 convolutions."""
    from tests.fuzz import floatsim as fs
    from tests.fuzz.modelgen import Builder

    b = Builder(np.random.default_rng(seed))
    v = b.rng.normal(0, 1, (8, hw, hw, c))
    x = gin = b.activation(v, b.calibrate(v))

    def layer(x, kind, attrs, wshape, axis, fan_in, n, sim):
        name = b.op_name(kind)
        wn, wf = b.weights(name, wshape, axis, fan_in)
        bn, bf = b.bias(name, x, wn, n, optional=False)
        return b.emit(kind, (x, wn, bn), sim(b.values[x], wf, bf, attrs), attrs)

    for k, s, mid, out in ((5, 1, 24, 48), (7, 2, 32, 64), (5, 2, 40, 96), (7, 1, 48, None)):
        ch = b.shape(x)[3]
        attrs = DepthwiseConv2DAttrs(s, s, 1, 1, Padding.SAME, 1, Activation.RELU6)
        x = layer(x, OpKind.DEPTHWISE_CONV_2D, attrs, (1, k, k, ch), 3, k * k, ch, fs.depthwise)
        for cout in (mid, out) if out else (mid,):
            attrs = Conv2DAttrs(1, 1, 1, 1, Padding.SAME, Activation.NONE)
            ch = b.shape(x)[3]
            x = layer(x, OpKind.CONV_2D, attrs, (cout, 1, 1, ch), 0, ch, cout, fs.conv2d)
    return verify(Graph("mcu_kk", b.tensors, tuple(b.ops), (gin,), (x,)))


@pytest.mark.parametrize("patches", ["off", "auto"])
def test_kxk_planar_mcunet_like_model(patches):
    graph = _mcu_kk(24, 8, seed=0)
    x = np.random.default_rng(1).integers(-128, 128, size=graph.tensor(graph.inputs[0]).shape, dtype=np.int8)
    res = run_model(graph, x, CompileOptions(target="qemu-m4", patches=patches))
    np.testing.assert_array_equal(res.output, run_graph(graph, [x])[0])
    dw = [k for k, op in zip(res.kernels, graph.ops, strict=True) if op.kind is OpKind.DEPTHWISE_CONV_2D]
    assert sum(k.startswith("dwconvkxk_s8_planar") for k in dw) >= (3 if patches == "off" else 2), dw


def test_kxk_planar_shares_the_plane_copy_with_the_3x3_kernel():
    """A 3x3 stride-2 and a 5x5 stride-1 depthwise of one 8 x 8 x 8 input frame planes of the same rows and columns:
    both layers call one four-channel copy function, defined once in the generated C."""
    from tinyengine_codegen.kernels import cortexm_dw, cortexm_dwk
    from tinyengine_codegen.kernels.conv import geometry

    rng = np.random.default_rng(5)
    c, cin = 8, 40
    tensors = {
        "x": act("x", (1, 8, 8, cin), 0.05, 3),
        "y": act("y", (1, 8, 8, c), 0.08, -7),
        "d3": act("d3", (1, 4, 4, c), 0.09, 11),
        "d5": act("d5", (1, 8, 8, c), 0.1, -20),
        "wc": const("wc", rng.integers(-127, 128, (c, 1, 1, cin), dtype=np.int8), scales=rng.uniform(0.002, 0.02, c)),
        "bc": const("bc", rng.integers(-3000, 3000, c, dtype=np.int32), scales=[1.0] * c),
    }
    ops = [
        Op("conv", OpKind.CONV_2D, ("x", "wc", "bc"), ("y",), Conv2DAttrs(1, 1, 1, 1, Padding.SAME, Activation.NONE))
    ]
    for k, s, dst in ((3, 2, "d3"), (5, 1, "d5")):
        tensors[f"w{k}"] = const(f"w{k}", rng.integers(-127, 128, (1, k, k, c), dtype=np.int8), [0.01] * c, axis=3)
        tensors[f"b{k}"] = const(f"b{k}", rng.integers(-2000, 2000, c, dtype=np.int32), scales=[1.0] * c)
        attrs = DepthwiseConv2DAttrs(s, s, 1, 1, Padding.SAME, 1, Activation.NONE)
        ops.append(Op(f"dw{k}", OpKind.DEPTHWISE_CONV_2D, ("y", f"w{k}", f"b{k}"), (dst,), attrs))
    graph = verify(Graph("dw_shared_copy_kxk", tensors, tuple(ops), ("x",), ("d3", "d5")))
    op3, op5 = graph.ops[1:]
    copy3 = cortexm_dw._core_context(op3, graph, geometry(op3, graph), True)["copy"]
    lay5 = cortexm_dwk.plane_layout(geometry(op5, graph))
    assert copy3 == "dw3_copy4_" + "_".join(str(lay5[f]) for f in ("cols", "prow", "sa", "sx", "s"))
    x = np.random.default_rng(6).integers(-128, 128, size=(1, 8, 8, cin), dtype=np.int8)
    res = run_model(graph, x, OPTIONS)
    want = run_graph(graph, [x])
    assert res.kernels[1:] == ("dwconv3x3_s8_planar4", "dwconvkxk_s8_planar4_inplace")
    for got, ref in zip(res.outputs, want, strict=True):
        np.testing.assert_array_equal(got, ref)
