"""ONNX importer: small torch models, quantized by onnxruntime (QDQ and QOperator), imported and run through the
reference executor, compared with onnxruntime's own int8 inference.

Tolerance: onnxruntime requantizes with a float multiplier and round-half-to-even, the IR's reference follows
TFLite's fixed-point multiplier with its own rounding, so single outputs may differ by 1 LSB (rarely 2 after a
few layers). SOFTMAX and LOGISTIC round twice (TFLite's fixed 1/256 output scale, then a requantization to the
model's scale), so up to ~25% of their outputs are 1 LSB off. We assert every element within 2 LSB, 98% within
1 LSB, 70% identical (a systematic offset fails), and the same arg-max per row wherever onnxruntime's winner
leads by more than the tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.exporters.tflite import export_tflite
from tinyengine_codegen.importers.onnx import from_ir_array, load_onnx, to_ir_array
from tinyengine_codegen.ir.ops import Activation, OpKind, Padding
from tinyengine_codegen.reference.run import run_graph

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static  # noqa: E402

nn, F = torch.nn, torch.nn.functional
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch's legacy (TorchScript) exporter


def _session(model):
    """onnxruntime on the model as written. Its extended graph optimizations rewrite QDQ graphs in ways that change
    results (onnxruntime 1.32 folds a Mul by a constant into the preceding Gemm across that Gemm's QuantizeLinear,
    so the int8 clamp of the Gemm output disappears): the oracle is the QDQ graph's ONNX semantics, which the
    unoptimized session computes."""
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


class _Reader(CalibrationDataReader):
    def __init__(self, name: str, shape: tuple[int, ...], seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.batches = iter([{name: rng.standard_normal(shape).astype(np.float32)} for _ in range(8)])

    def get_next(self):
        return next(self.batches, None)


def _quantized(module: nn.Module, shape, tmp_path, fmt=QuantFormat.QDQ, act=QuantType.QInt8, per_channel=True):
    torch.manual_seed(0)
    for p in module.parameters():  # non-trivial biases and weights, deterministic
        nn.init.uniform_(p, -0.5, 0.5)
    fp, qp = tmp_path / "float.onnx", tmp_path / "int8.onnx"
    torch.onnx.export(
        module.eval(),
        torch.zeros(shape),
        str(fp),
        input_names=["x"],
        output_names=["y"],
        opset_version=17,
        dynamo=False,
    )
    quantize_static(
        str(fp),
        str(qp),
        _Reader("x", shape),
        quant_format=fmt,
        activation_type=act,
        weight_type=QuantType.QInt8,
        per_channel=per_channel,
    )
    return qp


def _compare(path, seed: int = 1, batches: int = 3):
    """Run onnxruntime and the imported graph on the same int8 inputs; return (graph, ours, theirs) as int."""
    graph = load_onnx(path)
    sess = _session(str(path))
    inp = sess.get_inputs()[0]
    qi, qo = graph.tensors["x"].quant, graph.tensors["y"].quant
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for _ in range(batches):
        x = rng.standard_normal(inp.shape)  # the calibration distribution, quantized exactly
        xq = np.clip(np.round(x / qi.scale[0]) + qi.zero_point[0], -128, 127).astype(np.int8)
        x = ((xq.astype(np.float32) - qi.zero_point[0]) * qi.scale[0]).astype(np.float32)
        y = sess.run(None, {"x": x})[0]
        theirs.append(np.round(y / qo.scale[0]).astype(int) + qo.zero_point[0])
        ours.append(from_ir_array(run_graph(graph, [to_ir_array(xq)])[0]).astype(int))
    return graph, np.stack(ours), np.stack(theirs)


def _assert_close(ours, theirs, classes: bool = False):
    """`classes`: the output is a softmax over logits, which turns a 1 LSB logit difference into several output
    LSB (d softmax / d logit is up to 1/4 and one logit LSB is many 1/256 steps): 8 LSB max, same arg-max."""
    diff = np.abs(ours - theirs)
    assert ours.shape == theirs.shape
    assert diff.max() <= (8 if classes else 2), f"max difference {diff.max()} LSB"
    assert (diff <= 1).mean() >= (0.9 if classes else 0.98), f"only {(diff <= 1).mean():.1%} within 1 LSB"
    assert (diff == 0).mean() >= 0.7, f"only {(diff == 0).mean():.1%} identical"  # catches systematic offsets
    if classes:
        rows_o, rows_t = ours.reshape(-1, ours.shape[-1]), theirs.reshape(-1, theirs.shape[-1])
        top2 = np.sort(rows_t, axis=1)[:, -2:]
        clear = top2[:, 1] - top2[:, 0] > 8
        assert clear.any()
        assert (rows_o.argmax(1) == rows_t.argmax(1))[clear].all()


class _Conv(nn.Module):
    def __init__(self, k: int, stride: int, depthwise: bool = False, act=F.relu) -> None:
        super().__init__()
        c = 8
        self.pre = nn.Conv2d(3, c, 1)
        self.conv = nn.Conv2d(c, c if depthwise else 6, k, stride, k // 2, groups=c if depthwise else 1)
        self.act = act

    def forward(self, x):
        return self.act(self.conv(F.relu(self.pre(x))))


@pytest.mark.parametrize(
    "k,stride,depthwise,act",
    [
        (1, 1, False, F.relu),
        (3, 1, False, F.relu6),
        (3, 2, False, F.relu),
        (5, 1, False, F.relu),
        (5, 2, False, torch.sigmoid),
        (3, 1, True, F.relu6),
        (3, 2, True, F.relu),
        (5, 1, True, torch.sigmoid),
    ],
)
def test_conv_variants_match_onnxruntime(tmp_path, k, stride, depthwise, act):
    graph, ours, theirs = _compare(_quantized(_Conv(k, stride, depthwise, act), (1, 3, 12, 12), tmp_path))
    conv = [op for op in graph.ops if op.kind in (OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D)][-1]
    assert conv.kind is (OpKind.DEPTHWISE_CONV_2D if depthwise else OpKind.CONV_2D)
    # PyTorch pads k//2 on both sides: TFLite SAME for stride 1, an explicit PAD for stride 2 (SAME pads 0/1)
    assert conv.attrs.padding is (Padding.SAME if stride == 1 and k > 1 else Padding.VALID)
    assert any(op.kind is OpKind.PAD for op in graph.ops) == (stride == 2)
    assert graph.tensors["x"].shape == (1, 12, 12, 3)
    _assert_close(ours, theirs)


class _Classifier(nn.Module):
    """conv → residual block (depthwise, pointwise, add) → global average pool → gemm → scale → softmax."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, 2, 1)
        self.dw = nn.Conv2d(8, 8, 3, 1, 1, groups=8)
        self.pw = nn.Conv2d(8, 8, 1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        y = F.relu(self.stem(x))
        y = self.pw(F.relu6(self.dw(y))) + y
        return torch.softmax(self.fc(F.adaptive_avg_pool2d(y, 1).flatten(1)) * 8.0, -1)


def test_classifier_matches_onnxruntime(tmp_path):
    graph, ours, theirs = _compare(_quantized(_Classifier(), (1, 3, 16, 16), tmp_path), batches=8)
    kinds = [op.kind for op in graph.ops]
    for kind in (OpKind.ADD, OpKind.MEAN, OpKind.FULLY_CONNECTED, OpKind.SOFTMAX, OpKind.DEPTHWISE_CONV_2D):
        assert kind in kinds
    assert OpKind.TRANSPOSE not in kinds  # flattening a 1x1 map needs no reordering
    assert graph.tensors["y"].shape == (1, 10)
    _assert_close(ours, theirs, classes=True)


def test_weights_are_transposed_and_biases_rescaled(tmp_path):
    graph = load_onnx(_quantized(_Classifier(), (1, 3, 16, 16), tmp_path))
    model = onnx.load(str(tmp_path / "int8.onnx"))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    stem, dw = graph.ops[1], graph.ops[2]  # op 0 is the PAD of the stride-2 stem
    w = graph.tensors[stem.inputs[1]]
    assert np.array_equal(w.data, inits["stem.weight_quantized"].transpose(0, 2, 3, 1))
    assert w.quant.axis == 0 and len(w.quant.scale) == 8
    wd = graph.tensors[dw.inputs[1]]
    assert wd.shape == (1, 3, 3, 8) and wd.quant.axis == 3
    assert np.array_equal(wd.data[0, :, :, 5], inits["dw.weight_quantized"][5, 0])
    bias = graph.tensors[stem.inputs[2]]
    s_in = graph.tensors[stem.inputs[0]].scale()
    assert bias.dtype == "int32"
    assert np.allclose(bias.quant.scale, s_in * np.asarray(w.quant.scale), rtol=1e-6)
    fc = next(op for op in graph.ops if op.kind is OpKind.FULLY_CONNECTED)
    assert graph.tensors[fc.inputs[1]].shape == (10, 8)


class _FlattenHead(nn.Module):
    """A flatten of a 4x4x4 NCHW map: its element order differs from NHWC."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, 2, 1)
        self.fc = nn.Linear(64, 6)

    def forward(self, x):
        return self.fc(F.relu(self.conv(x)).flatten(1))


def test_flatten_of_nchw_map_inserts_transpose(tmp_path):
    graph, ours, theirs = _compare(_quantized(_FlattenHead(), (1, 3, 8, 8), tmp_path), batches=4)
    kinds = [op.kind for op in graph.ops]
    i = kinds.index(OpKind.RESHAPE)
    assert kinds[i - 1] is OpKind.TRANSPOSE and graph.ops[i - 1].attrs.perm == (0, 3, 1, 2)
    _assert_close(ours, theirs)


class _Unflatten(nn.Module):
    """A linear layer reshaped into a 4x2x2 NCHW map: the RESHAPE writes NCHW order, a TRANSPOSE makes NHWC."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(12, 16)
        self.conv = nn.Conv2d(4, 3, 1)

    def forward(self, x):
        return self.conv(F.relu(self.fc(x)).reshape(1, 4, 2, 2))


def test_reshape_into_nchw_map_transposes_after(tmp_path):
    graph, ours, theirs = _compare(_quantized(_Unflatten(), (1, 12), tmp_path), batches=4)
    kinds = [op.kind for op in graph.ops]
    i = kinds.index(OpKind.RESHAPE)
    assert kinds[i + 1] is OpKind.TRANSPOSE and graph.ops[i + 1].attrs.perm == (0, 2, 3, 1)
    assert graph.tensors["y"].shape == (1, 2, 2, 3)
    _assert_close(ours, theirs)


class _Movement(nn.Module):
    """max/avg pools, a transpose, a slice, a pad, a concat and a nearest upsample on NCHW tensors."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 6, 3, 1, 1)
        self.b = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        y = F.relu(self.a(x))
        p = F.max_pool2d(y, 2)
        q = F.avg_pool2d(y, 2)
        z = torch.cat([p, q.transpose(2, 3)], 1)[:, 1:9]
        z = F.pad(self.b(z), (1, 0, 0, 1))
        return F.interpolate(z, scale_factor=2.0, mode="nearest")


@pytest.mark.parametrize("fmt", [QuantFormat.QDQ, QuantFormat.QOperator])
def test_data_movement_ops_match_onnxruntime(tmp_path, fmt):
    graph, ours, theirs = _compare(_quantized(_Movement(), (1, 3, 8, 8), tmp_path, fmt=fmt))
    kinds = {op.kind for op in graph.ops}
    assert {
        OpKind.MAX_POOL_2D,
        OpKind.AVERAGE_POOL_2D,
        OpKind.TRANSPOSE,
        OpKind.CONCATENATION,
        OpKind.STRIDED_SLICE,
        OpKind.PAD,
        OpKind.RESIZE_NEAREST_NEIGHBOR,
    } <= kinds
    assert graph.tensors["y"].shape == (1, 10, 10, 4)
    _assert_close(ours, theirs)


class _Tokens(nn.Module):
    """A linear layer on a (batch, tokens, features) tensor: MatMul by a constant, then Add of the bias."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        return F.relu(self.fc(x))


def test_matmul_on_rank3_input_matches_onnxruntime(tmp_path):
    graph, ours, theirs = _compare(_quantized(_Tokens(), (1, 4, 8), tmp_path))
    fc = next(op for op in graph.ops if op.kind is OpKind.FULLY_CONNECTED)
    assert fc.attrs.keep_num_dims and graph.tensors[fc.inputs[1]].shape == (5, 8)
    assert graph.tensors["y"].shape == (1, 4, 5)
    _assert_close(ours, theirs)


@pytest.mark.parametrize(
    "op_type,kind,out_q", [("HardSwish", OpKind.HARD_SWISH, (0.01, 0)), ("Sigmoid", OpKind.LOGISTIC, (1 / 256, -128))]
)
def test_unary_activations_match_onnxruntime(op_type, kind, out_q):
    model = _qdq_model(
        [helper.make_node(op_type, ["xd"], ["m"], name="act")], out_shape=(1, 3, 4, 4), opset=14, out_q=out_q
    )
    graph = load_onnx(model)
    assert kind in [op.kind for op in graph.ops]
    sess = _session(model)
    xq = np.arange(-128, 128, 5, dtype=np.int8)[:48].reshape(1, 3, 4, 4)
    y = sess.run(None, {"x": xq.astype(np.float32) * 0.02})[0]
    ours = from_ir_array(run_graph(graph, [to_ir_array(xq)])[0]).astype(int)
    assert [op.kind for op in graph.ops] == [kind]  # no requantization when the model uses TFLite's scale
    _assert_close(ours, np.clip(np.round(y / out_q[0]) + out_q[1], -128, 127).astype(int))


def test_qoperator_format_matches_onnxruntime(tmp_path):
    path = _quantized(_Classifier(), (1, 3, 16, 16), tmp_path, fmt=QuantFormat.QOperator)
    assert "QLinearConv" in {n.op_type for n in onnx.load(str(path)).graph.node}
    graph, ours, theirs = _compare(path, batches=8)
    assert OpKind.DEPTHWISE_CONV_2D in {op.kind for op in graph.ops}
    _assert_close(ours, theirs, classes=True)


def test_uint8_activations_become_int8(tmp_path):
    path = _quantized(_Conv(3, 1), (1, 3, 8, 8), tmp_path, act=QuantType.QUInt8, per_channel=False)
    graph = load_onnx(path)
    zp = onnx.numpy_helper.to_array(next(i for i in onnx.load(str(path)).graph.initializer if i.name == "x_zero_point"))
    assert zp.dtype == np.uint8 and graph.tensors["x"].zero_point == int(zp) - 128
    assert all(t.dtype in ("int8", "int32") for t in graph.tensors.values())
    sess = _session(str(path))
    qi, qo = graph.tensors["x"].quant, graph.tensors["y"].quant
    xq = np.random.default_rng(3).integers(-128, 128, (1, 3, 8, 8)).astype(np.int8)
    y = sess.run(None, {"x": ((xq.astype(np.float32) - qi.zero_point[0]) * qi.scale[0])})[0]
    ours = from_ir_array(run_graph(graph, [to_ir_array(xq)])[0]).astype(int)
    _assert_close(ours, np.round(y / qo.scale[0]).astype(int) + qo.zero_point[0])


def _qdq_model(middle: list, extra_inits=(), out_shape=(1, 4, 4, 4), opset: int = 13, out_q=(0.01, 0)):
    """x → Q → DQ → [middle nodes reading 'xd', writing 'm'] → Q → DQ → y, with a 4x3x1x1 weight 'w'."""
    s = lambda n, v: numpy_helper.from_array(np.array(v, np.float32), n)  # noqa: E731
    z = lambda n, v=0: numpy_helper.from_array(np.array(v, np.int8), n)  # noqa: E731
    inits = [
        s("sx", 0.02),
        z("zx"),
        s("sm", out_q[0]),
        z("zm", out_q[1]),
        s("sw", [0.01] * 4),
        numpy_helper.from_array(np.zeros(4, np.int8), "zw"),
        numpy_helper.from_array(np.arange(-6, 6, dtype=np.int8).reshape(4, 3, 1, 1), "wq"),
        *extra_inits,
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "sx", "zx"], ["xq"], name="qx"),
        helper.make_node("DequantizeLinear", ["xq", "sx", "zx"], ["xd"], name="dqx"),
        helper.make_node("DequantizeLinear", ["wq", "sw", "zw"], ["w"], name="dqw", axis=0),
        *middle,
        helper.make_node("QuantizeLinear", ["m", "sm", "zm"], ["mq"], name="qm"),
        helper.make_node("DequantizeLinear", ["mq", "sm", "zm"], ["y"], name="dqm"),
    ]
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 3, 4, 4))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        inits,
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def test_relu_and_clip_after_conv_are_fused():
    six = numpy_helper.from_array(np.array(6, np.float32), "six")
    zero = numpy_helper.from_array(np.array(0, np.float32), "zero")
    for act, middle in [
        (Activation.RELU, [helper.make_node("Relu", ["c"], ["m"], name="relu")]),
        (Activation.RELU6, [helper.make_node("Clip", ["c", "zero", "six"], ["m"], name="clip")]),
    ]:
        model = _qdq_model([helper.make_node("Conv", ["xd", "w"], ["c"], name="conv"), *middle], [six, zero])
        graph = load_onnx(model, name="fused")
        assert [op.kind for op in graph.ops] == [OpKind.CONV_2D]
        assert graph.ops[0].attrs.activation is act and graph.ops[0].name == "op3_conv_2d"
        sess = _session(model)
        xq = np.random.default_rng(5).integers(-128, 128, (1, 3, 4, 4)).astype(np.int8)
        y = sess.run(None, {"x": xq.astype(np.float32) * 0.02})[0]
        ours = from_ir_array(run_graph(graph, [to_ir_array(xq)])[0]).astype(int)
        assert ours.min() >= 0  # the fused clamp at real 0 (zero point 0)
        _assert_close(ours, np.round(y / 0.01).astype(int))


def test_unsupported_op_names_type_node_and_alternatives():
    with pytest.raises(TinyMLError) as exc:
        load_onnx(
            _qdq_model([helper.make_node("Sin", ["xd"], ["m"], name="my_sin")], out_shape=(1, 3, 4, 4)), name="net"
        )
    msg = str(exc.value)
    assert "'net': node #3 'my_sin' (Sin) is not supported" in msg and "QLinearConv" in msg and "\n" not in msg


def test_grouped_conv_is_rejected_with_its_node():
    model = _qdq_model([helper.make_node("Conv", ["xd", "w"], ["m"], name="gconv", group=3)])
    with pytest.raises(TinyMLError, match=r"node #3 'gconv' \(Conv\): grouped convolution \(group=3"):
        load_onnx(model)


def test_float_model_is_rejected(tmp_path):
    fp = tmp_path / "float.onnx"
    torch.onnx.export(nn.Conv2d(3, 4, 3).eval(), torch.zeros(1, 3, 8, 8), str(fp), dynamo=False)
    with pytest.raises(TinyMLError, match="model is float.*quantize_static") as exc:
        load_onnx(fp)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize(
    "middle, words",
    [
        ([helper.make_node("Identity", ["xd"], ["xd"], name="loop")], "writes its own input 'xd'"),
        ([helper.make_node("Identity", ["xd"], ["wq"], name="over")], "already an initializer"),
        ([helper.make_node("Conv", ["xd", "w"], ["m"], name="c", strides=[0, 1])], "strides (0, 1)"),
        ([helper.make_node("Constant", [], ["m"], name="k")], "exactly one value attribute"),
    ],
)
def test_malformed_graphs_are_refused_in_one_line(middle, words):
    with pytest.raises(TinyMLError) as exc:
        load_onnx(_qdq_model(middle), name="bad")
    assert words in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize("scale", [0.0, float("inf"), float("nan")])
def test_activation_scale_must_be_finite_and_positive(scale):
    model = _qdq_model([helper.make_node("Conv", ["xd", "w"], ["m"], name="c")], out_q=(scale, 0))
    with pytest.raises(TinyMLError, match="not finite and positive"):
        load_onnx(model)


def test_external_data_is_read_from_the_model_folder_only(tmp_path, monkeypatch):
    import onnx

    raw = _qdq_model([helper.make_node("Conv", ["xd", "w"], ["m"], name="c")])
    want = load_onnx(raw)
    model = onnx.load_model_from_string(raw)
    (tmp_path / "m").mkdir()
    onnx.save_model(
        model, str(tmp_path / "m" / "a.onnx"), save_as_external_data=True, location="w.bin", size_threshold=0
    )
    monkeypatch.chdir(tmp_path)
    (tmp_path / "w.bin").write_bytes(b"\x00" * (tmp_path / "m" / "w.bin").stat().st_size)  # a decoy
    got = load_onnx(tmp_path / "m" / "a.onnx")
    w = next(n for n, t in want.tensors.items() if t.is_const and t.dtype == "int8")
    assert np.array_equal(got.tensors[w].data, want.tensors[w].data)
    outside = onnx.load(str(tmp_path / "m" / "a.onnx"), load_external_data=False)
    for t in outside.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = "../w.bin"
    onnx.save_model(outside, str(tmp_path / "m" / "b.onnx"))
    with pytest.raises(TinyMLError, match="inside the model's folder"):
        load_onnx(tmp_path / "m" / "b.onnx")


@pytest.mark.parametrize("case", ["empty", "garbage", "truncated", "text"])
def test_bad_files_raise_one_line_errors(case, tmp_path):
    good = _qdq_model([helper.make_node("Conv", ["xd", "w"], ["m"], name="conv")])
    data = {
        "empty": b"",
        "garbage": np.random.default_rng(0).bytes(4096),
        "truncated": good[: len(good) // 2],
        "text": b"this is not a model\n",
    }[case]
    with pytest.raises(TinyMLError) as exc:
        load_onnx(data, name=case)
    assert "\n" not in str(exc.value) and case in str(exc.value)


def test_missing_file(tmp_path):
    with pytest.raises(TinyMLError, match="not found"):
        load_onnx(tmp_path / "nope.onnx")


def test_imported_graph_exports_to_tflite_and_runs_in_tflm(tmp_path):
    pytest.importorskip("tflite_micro")
    from tests.helpers.interpreters import tflm_run

    graph = load_onnx(_quantized(_Classifier(), (1, 3, 16, 16), tmp_path))
    xq = np.random.default_rng(7).integers(-128, 128, graph.tensors["x"].shape).astype(np.int8)
    (tflm,) = tflm_run(export_tflite(graph), [xq], 1)
    assert tflm.shape == (1, 10)
    assert np.array_equal(tflm, run_graph(graph, [xq])[0])
