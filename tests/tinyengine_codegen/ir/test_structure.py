"""structure: graph-wide rules (one writer per tensor, bounded shapes, sane quantization) refuse bad graphs by name."""

from dataclasses import replace

import numpy as np
import pytest

from tests.conftest import mlperf_path
from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.importers.tflite import load_tflite
from tinyengine_codegen.ir.graph import Graph, QuantParams
from tinyengine_codegen.ir.ops import OpKind
from tinyengine_codegen.ir.structure import MAX_TENSOR_BYTES, MAX_WINDOW
from tinyengine_codegen.ir.verify import verify


@pytest.fixture(scope="module")
def kws() -> Graph:
    return load_tflite(mlperf_path("kws"))


def _with_tensor(g: Graph, name: str, **changes) -> Graph:
    return replace(g, tensors={**g.tensors, name: replace(g.tensors[name], **changes)})


def _refused(g: Graph, *words: str) -> str:
    with pytest.raises(TinyMLError) as e:
        verify(g)
    msg = str(e.value)
    assert "\n" not in msg and all(w in msg for w in words), msg
    return msg


def test_the_mlperf_graphs_pass(kws):
    assert verify(kws) is kws


def test_two_writers_of_one_tensor_are_refused_naming_both(kws):
    dw = next(i for i, op in enumerate(kws.ops) if op.kind is OpKind.DEPTHWISE_CONV_2D)
    ops = kws.ops[: dw + 1] + (replace(kws.ops[dw], name="copy"),) + kws.ops[dw + 1 :]
    _refused(replace(kws, ops=ops), "copy (DEPTHWISE_CONV_2D)", kws.ops[dw].name, "one writer")


def test_an_op_writing_a_graph_input_or_reading_its_output_is_refused(kws):
    op0 = replace(kws.ops[0], outputs=kws.inputs)
    _refused(replace(kws, ops=(op0,) + kws.ops[1:]), "graph input")
    op1 = replace(kws.ops[1], inputs=(kws.ops[1].outputs[0],) + kws.ops[1].inputs[1:])
    _refused(replace(kws, ops=(kws.ops[0], op1) + kws.ops[2:]), "own output")


def test_boundaries_must_be_unique_and_not_constant(kws):
    _refused(replace(kws, inputs=kws.inputs * 2), "twice")
    _refused(replace(kws, outputs=()), "no outputs")
    _refused(replace(kws, outputs=kws.inputs), "both a graph input and a graph output")


def test_huge_shapes_are_refused_before_anything_is_allocated(kws):
    x = kws.inputs[0]
    _refused(_with_tensor(kws, x, shape=(1, 100000, 100000, 1)), x, f"{MAX_TENSOR_BYTES:,}")
    _refused(_with_tensor(kws, x, shape=(1, 0, 10, 1)), "dimension outside")
    _refused(_with_tensor(kws, x, shape=(1,) * 7 + (490,)), "rank 8")


@pytest.mark.parametrize("scale", [0.0, -0.5, float("nan"), float("inf"), 1e-45])
def test_scales_must_be_finite_and_positive(kws, scale):
    x = kws.inputs[0]
    _refused(_with_tensor(kws, x, quant=QuantParams((scale,), (0,))), x, "scale")


def test_zero_points_and_per_channel_counts(kws):
    x = kws.inputs[0]
    _refused(_with_tensor(kws, x, quant=QuantParams((0.1,), (300,))), "zero point 300")
    _refused(_with_tensor(kws, x, quant=QuantParams((0.1, 0.2), (0, 0))), "per-channel quantization of an activation")
    fc = next(op for op in kws.ops if op.kind is OpKind.FULLY_CONNECTED)
    w = kws.tensors[fc.inputs[1]]
    two = QuantParams((0.01, 0.02), (0, 0), 0)
    _refused(_with_tensor(kws, w.name, quant=two), w.name, "2 per-channel scales")
    _refused(_with_tensor(kws, w.name, quant=QuantParams((0.01,), (3,))), "non-zero zero point")
    conv = kws.ops[0]
    wq = kws.tensors[conv.inputs[1]].quant
    _refused(_with_tensor(kws, conv.inputs[1], quant=replace(wq, axis=3)), "along axis")


@pytest.mark.parametrize("field,value", [("stride_h", 0), ("dilation_w", 0), ("stride_w", MAX_WINDOW + 1)])
def test_window_attributes_in_range(kws, field, value):
    op = replace(kws.ops[0], attrs=replace(kws.ops[0].attrs, **{field: value}))
    _refused(replace(kws, ops=(op,) + kws.ops[1:]), kws.ops[0].name, field)


def test_softmax_beta_must_be_positive(kws):
    i = next(i for i, op in enumerate(kws.ops) if op.kind is OpKind.SOFTMAX)
    for beta in (0.0, float("nan")):
        op = replace(kws.ops[i], attrs=replace(kws.ops[i].attrs, beta=beta))
        _refused(replace(kws, ops=kws.ops[:i] + (op,) + kws.ops[i + 1 :]), "beta")


def test_constant_written_by_an_op_is_refused(kws):
    w = kws.ops[0].inputs[1]
    op = replace(kws.ops[1], outputs=(w,))
    assert np.asarray(kws.tensors[w].data).size
    _refused(replace(kws, ops=(kws.ops[0], op) + kws.ops[2:]), "constant")


def test_an_accumulator_that_can_overflow_int32_is_refused(kws):
    conv = kws.ops[0]
    b = kws.tensors[conv.inputs[2]]
    big = np.full(b.data.shape, 2**31 - 10, np.int32)
    _refused(_with_tensor(kws, b.name, data=big), conv.name, "overflow the int32 accumulator", "output channel")


def test_a_requantization_needing_a_shift_past_31_bits_is_refused(kws):
    y = kws.ops[0].outputs[0]
    _refused(_with_tensor(kws, y, quant=QuantParams((1e-20,), (0,))), kws.ops[0].name, "multiplier")
