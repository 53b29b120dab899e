"""The .tflite exporter: file layout, hand-computed outputs in TFLM and LiteRT, shape operands, operator versions,
atomic saving, and import → export → import round trips of the MLPerf Tiny models."""

from __future__ import annotations

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.exporters.tflite import export_tflite, save_tflite
from tinyengine_codegen.importers.tflite import load_tflite
from tinyengine_codegen.ir.graph import Graph, Op, QuantParams, Tensor
from tinyengine_codegen.ir.ops import (
    Conv2DAttrs,
    ElementwiseAttrs,
    FullyConnectedAttrs,
    OpKind,
    PadAttrs,
    Padding,
    ReshapeAttrs,
    ResizeNearestAttrs,
    StridedSliceAttrs,
    TransposeAttrs,
)
from tinyengine_codegen.ir.verify import verify

from ...fuzz.modelgen import random_input
from ...helpers.graph_equal import graph_difference
from ...helpers.interpreters import litert_run, tflm_run

B = schema.BuiltinOperator


def q(*scales: float, zp: int = 0, axis: int = 0) -> QuantParams:
    return QuantParams(tuple(scales), (zp,) * len(scales), axis)


def act(name: str, shape, quant: QuantParams | None, dtype: str = "int8") -> Tensor:
    return Tensor(name, tuple(shape), dtype, quant)


def const(name: str, data: np.ndarray, quant: QuantParams | None) -> Tensor:
    data = np.asarray(data)
    data.setflags(write=False)
    return Tensor(name, data.shape, str(data.dtype), quant, data)


def graph(tensors: list[Tensor], ops: list[Op], inputs=("x",), outputs=("y",)) -> Graph:
    return verify(Graph("test", {t.name: t for t in tensors}, tuple(ops), tuple(inputs), tuple(outputs)))


def run_both(g: Graph, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    model = export_tflite(g)
    return tflm_run(model, [x], 1)[0], litert_run(model, [x])[0]


def parse(model: bytes):
    return schema.ModelT.InitFromPackedBuf(model, 0)


def conv_fc_graph(rng: np.random.Generator, bias: bool = True):
    """conv 2x2 (per-channel multipliers exactly 4 and 1) -> reshape -> fully connected (multiplier exactly 1)."""
    w = rng.integers(-1, 2, (2, 2, 2, 2)).astype(np.int8)  # OHWI
    b = rng.integers(-5, 6, 2).astype(np.int32)
    fw = rng.integers(-2, 3, (3, 8)).astype(np.int8)
    fb = rng.integers(-10, 11, 3).astype(np.int32)
    tensors = [
        act("x", (1, 3, 3, 2), q(1.0)),
        const("w", w, q(1.0, 0.25)),
        act("c", (1, 2, 2, 2), q(0.25, zp=3)),
        act("r", (1, 8), q(0.25, zp=3)),
        const("fw", fw, q(4.0)),
        const("fb", fb, q(1.0)),
        act("y", (1, 3), q(1.0, zp=-7)),
    ]
    if bias:
        tensors.append(const("b", b, q(1.0, 0.25)))
    ops = [
        Op("conv", OpKind.CONV_2D, ("x", "w", "b" if bias else ""), ("c",), Conv2DAttrs(padding=Padding.VALID)),
        Op("flat", OpKind.RESHAPE, ("c",), ("r",), ReshapeAttrs((1, 8))),
        Op("fc", OpKind.FULLY_CONNECTED, ("r", "fw", "fb"), ("y",), FullyConnectedAttrs()),
    ]
    return graph(tensors, ops), (w, b if bias else np.zeros(2, np.int32), fw, fb)


def expected_conv_fc(x: np.ndarray, w, b, fw, fb) -> np.ndarray:
    acc = np.zeros((2, 2, 2), np.int64)
    for i in range(2):
        for j in range(2):
            acc += np.einsum("hwc,oc->hwo", x[0, i : i + 2, j : j + 2].astype(np.int64), w[:, i, j, :])
    c = np.clip((acc + b) * np.array([4, 1]) + 3, -128, 127)  # multipliers 1*1/0.25 and 1*0.25/0.25
    y = np.clip(fw.astype(np.int64) @ (c.reshape(-1) - 3) + fb - 7, -128, 127)  # multiplier 0.25*4/1
    return y.reshape(1, 3).astype(np.int8)


def test_file_layout():
    g, _ = conv_fc_graph(np.random.default_rng(0))
    model = export_tflite(g)
    assert model[4:8] == b"TFL3"
    m = parse(model)
    assert m.version == 3 and len(m.subgraphs) == 1
    assert m.buffers[0].data is None or len(m.buffers[0].data) == 0
    codes = [(c.builtinCode, c.deprecatedBuiltinCode, c.version) for c in m.operatorCodes]
    assert codes == [(B.CONV_2D, B.CONV_2D, 3), (B.RESHAPE, B.RESHAPE, 1), (B.FULLY_CONNECTED, B.FULLY_CONNECTED, 4)]
    sg = m.subgraphs[0]
    names = {t.name.decode(): t for t in sg.tensors}
    assert names["w"].quantization.quantizedDimension == 0 and list(names["w"].quantization.scale) == [1.0, 0.25]
    assert names["x"].buffer == 0 and names["w"].buffer > 0
    raw = np.frombuffer(model, np.uint8)
    table = schema.Model.GetRootAs(model, 0)
    for i in range(1, table.BuffersLength()):
        data = table.Buffers(i).DataAsNumpy()
        assert (data.ctypes.data - raw.ctypes.data) % 16 == 0, f"buffer {i} is not 16-byte aligned"


@pytest.mark.parametrize("bias", [True, False])
def test_conv_reshape_fc_give_hand_computed_outputs(bias):
    rng = np.random.default_rng(1)
    g, params = conv_fc_graph(rng, bias)
    for _ in range(3):
        x = rng.integers(-2, 3, (1, 3, 3, 2)).astype(np.int8)
        want = expected_conv_fc(x, *params)
        tflm, lite = run_both(g, x)
        np.testing.assert_array_equal(tflm, want)
        np.testing.assert_array_equal(lite, want)


def test_conv_without_bias_gets_a_zero_bias_with_the_right_scales():
    g, _ = conv_fc_graph(np.random.default_rng(2), bias=False)
    sg = parse(export_tflite(g)).subgraphs[0]
    conv = sg.operators[0]
    bias = sg.tensors[conv.inputs[2]]
    assert len(conv.inputs) == 3 and bias.type == schema.TensorType.INT32
    assert list(bias.quantization.scale) == [1.0, 0.25]


def test_shape_operands_become_int32_constants_and_values_are_exact():
    paddings = ((0, 0), (1, 0), (0, 2), (1, 1))
    tensors = [
        act("x", (1, 3, 4, 2), q(0.5, zp=-4)),
        act("p", (1, 4, 6, 4), q(0.5, zp=-4)),
        act("t", (1, 4, 4, 6), q(0.5, zp=-4)),
        act("y", (1, 96), q(0.5, zp=-4)),
    ]
    ops = [
        Op("pad", OpKind.PAD, ("x",), ("p",), PadAttrs(paddings)),
        Op("tr", OpKind.TRANSPOSE, ("p",), ("t",), TransposeAttrs((0, 3, 1, 2))),
        Op("flat", OpKind.RESHAPE, ("t",), ("y",), ReshapeAttrs((1, 96))),
    ]
    g = graph(tensors, ops)
    sg = parse(export_tflite(g)).subgraphs[0]
    operands = [sg.tensors[op.inputs[1]] for op in sg.operators]
    m = parse(export_tflite(g))
    data = [np.frombuffer(bytes(m.buffers[t.buffer].data), "<i4").reshape(t.shape) for t in operands]
    np.testing.assert_array_equal(data[0], paddings)
    np.testing.assert_array_equal(data[1], (0, 3, 1, 2))
    np.testing.assert_array_equal(data[2], (1, 96))
    assert list(sg.operators[2].builtinOptions.newShape) == [1, 96]
    assert all(t.type == schema.TensorType.INT32 for t in operands)
    x = np.random.default_rng(3).integers(-128, 128, (1, 3, 4, 2)).astype(np.int8)
    want = np.pad(x, paddings, constant_values=-4).transpose(0, 3, 1, 2).reshape(1, 96)
    for got in run_both(g, x):
        np.testing.assert_array_equal(got, want)


def test_strided_slice_with_negative_strides_and_shrink():
    attrs = StridedSliceAttrs(begin=(0, 3, 4, 1), end=(1, -1, -1, 2), strides=(1, -1, -2, 1), shrink_axis=(3,))
    g = graph(
        [act("x", (1, 4, 5, 3), q(0.1)), act("y", (1, 4, 3), q(0.1))],
        [Op("ss", OpKind.STRIDED_SLICE, ("x",), ("y",), attrs)],
    )
    opts = parse(export_tflite(g)).subgraphs[0].operators[0].builtinOptions
    assert (opts.beginMask, opts.endMask, opts.shrinkAxisMask) == (0, 0b0110, 0b1000)
    x = np.random.default_rng(4).integers(-128, 128, (1, 4, 5, 3)).astype(np.int8)
    for got in run_both(g, x):
        np.testing.assert_array_equal(got, x[0:1, 3::-1, 4::-2, 1])
    assert graph_difference(g, load_tflite(export_tflite(g)), op_names=False) is None  # .tflite has no op names


def _versions(model: bytes) -> dict[int, int]:
    return {c.builtinCode: c.version for c in parse(model).operatorCodes}


@pytest.mark.parametrize("out_scale, version", [(0.01, 3), (0.5, 2)])
def test_mul_version_follows_the_rescale_factor(out_scale, version):
    g = graph(
        [
            act("x", (1, 2, 2, 3), q(0.1)),
            const("k", np.full((3,), 7, np.int8), q(0.1)),
            act("y", (1, 2, 2, 3), q(out_scale)),
        ],
        [Op("mul", OpKind.MUL, ("x", "k"), ("y",), ElementwiseAttrs())],
    )
    model = export_tflite(g)
    assert _versions(model) == {B.MUL: version}
    x = np.random.default_rng(5).integers(-128, 128, (1, 2, 2, 3)).astype(np.int8)
    tflm, lite = tflm_run(model, [x], 1)[0], litert_run(model, [x])[0]
    np.testing.assert_array_equal(tflm, lite)


def test_other_versions_and_shared_operator_codes():
    tensors = [
        act("x", (1, 2, 3, 4), q(0.1)),
        act("r", (1, 4, 6, 4), q(0.1)),
        act("h", (1, 4, 6, 2), q(0.2)),
        act("y", (1, 4, 6, 2), q(0.2)),
        const("w", np.ones((2, 4), np.int8), q(0.05)),
        const("w2", np.ones((2, 2), np.int8), q(0.05)),
    ]
    ops = [
        Op("up", OpKind.RESIZE_NEAREST_NEIGHBOR, ("x",), ("r",), ResizeNearestAttrs(half_pixel_centers=True)),
        Op("fc", OpKind.FULLY_CONNECTED, ("r", "w", ""), ("h",), FullyConnectedAttrs(keep_num_dims=True)),
        Op("fc2", OpKind.FULLY_CONNECTED, ("h", "w2", ""), ("y",), FullyConnectedAttrs(keep_num_dims=True)),
    ]
    model = export_tflite(graph(tensors, ops))
    assert _versions(model) == {B.RESIZE_NEAREST_NEIGHBOR: 3, B.FULLY_CONNECTED: 5}
    assert len(parse(model).operatorCodes) == 2
    x = np.random.default_rng(6).integers(-128, 128, (1, 2, 3, 4)).astype(np.int8)
    assert tflm_run(model, [x], 1)[0].shape == litert_run(model, [x])[0].shape == (1, 4, 6, 2)


def test_save_tflite_writes_atomically(tmp_path):
    g, _ = conv_fc_graph(np.random.default_rng(7))
    path = save_tflite(g, tmp_path / "m.tflite")
    assert path.read_bytes() == export_tflite(g)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tflite"]
    with pytest.raises(TinyMLError, match="does not exist"):
        save_tflite(g, tmp_path / "missing" / "m.tflite")


def _used_codes(model: bytes) -> set[tuple[int, int]]:
    m = parse(model)
    codes = [(max(c.builtinCode, c.deprecatedBuiltinCode), c.version) for c in m.operatorCodes]
    return {codes[op.opcodeIndex] for op in m.subgraphs[0].operators}


def test_mlperf_round_trip_preserves_graph_and_outputs(mlperf_model):
    original = mlperf_model.read_bytes()
    g = load_tflite(original)
    exported = export_tflite(g)
    back = load_tflite(exported)
    diff = graph_difference(g, back)
    assert diff is None, f"{mlperf_model.name}: {diff}"
    assert export_tflite(back) == exported
    assert _used_codes(exported) == _used_codes(original)  # the converter's operator versions
    rng = np.random.default_rng(8)
    for _ in range(2):
        x = random_input(g, rng)
        n = len(g.outputs)
        for want, got in zip(tflm_run(original, x, n), tflm_run(exported, x, n)):
            np.testing.assert_array_equal(got, want)
        for want, got in zip(litert_run(original, x), litert_run(exported, x)):
            np.testing.assert_array_equal(got, want)
