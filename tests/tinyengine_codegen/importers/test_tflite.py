import json
import os

import pytest

from tests.conftest import SHARED_DATA, mlperf_path
from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.importers.tflite import load_tflite
from tinyengine_codegen.ir.cost import graph_macs
from tinyengine_codegen.ir.ops import OpKind, Padding

REF_KEYS = {"ic": "IC", "vww": "VWW", "kws": "KWS", "ad": "AD"}


@pytest.mark.parametrize("key", sorted(REF_KEYS))
def test_mlperf_models_match_reference_figures(key):
    graph = load_tflite(mlperf_path(key))
    ref = json.loads((SHARED_DATA / "reference" / "mlperf_tiny.json").read_text())[REF_KEYS[key]]
    assert [op.kind.value for op in graph.ops] == ref["op_sequence"]
    assert graph_macs(graph) == ref["macs"]
    assert [list(graph.tensors[n].shape) for n in graph.inputs] == [i["shape"] for i in ref["inputs"]]


def test_kws_first_conv_attributes():
    graph = load_tflite(mlperf_path("kws"))
    op = graph.ops[0]
    assert op.kind is OpKind.CONV_2D
    assert (op.attrs.stride_h, op.attrs.stride_w, op.attrs.padding) == (2, 2, Padding.SAME)
    w = graph.tensors[op.inputs[1]]
    assert w.shape == (64, 10, 4, 1) and w.quant.per_channel and len(w.quant.scale) == 64
    dw = graph.ops[1]
    assert dw.kind is OpKind.DEPTHWISE_CONV_2D and dw.attrs.depth_multiplier == 1
    reshape = next(op for op in graph.ops if op.kind is OpKind.RESHAPE)
    assert reshape.inputs == (reshape.inputs[0],) and reshape.attrs.new_shape == (1, 64)


def test_constants_are_read_only():
    graph = load_tflite(mlperf_path("ad"))
    w = graph.tensors[graph.ops[0].inputs[1]]
    with pytest.raises(ValueError):
        w.data[0, 0] = 1


@pytest.mark.parametrize("case", ["empty", "truncated", "garbage", "header", "text"])
def test_bad_files_raise_one_line_errors(case):
    good = mlperf_path("kws").read_bytes()
    data = {
        "empty": b"",
        "truncated": good[: len(good) // 3],
        "garbage": os.urandom(4096),
        "header": good[:4] + b"\xff\xff\xff\xff" + good[8:],
        "text": b"this is not a model\n",
    }[case]
    with pytest.raises(TinyMLError) as exc:
        load_tflite(data, name=case)
    assert "\n" not in str(exc.value) and case in str(exc.value)


def test_missing_file(tmp_path):
    with pytest.raises(TinyMLError, match="not found"):
        load_tflite(tmp_path / "nope.tflite")
