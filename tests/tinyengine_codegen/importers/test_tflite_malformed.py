"""Schema-level defects of a .tflite file: each is refused with one TinyMLError line naming what is wrong."""

import copy

import flatbuffers
import numpy as np
import pytest

from tests.conftest import mlperf_path
from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.importers.tflite import load_tflite
from tinyengine_codegen.schema import schema as S


@pytest.fixture(scope="module")
def kws_tree():
    return S.ModelT.InitFromPackedBuf(mlperf_path("kws").read_bytes(), 0)


def _pack(m) -> bytes:
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _first(m, code):
    def builtin(op):
        c = m.operatorCodes[op.opcodeIndex]
        return max(int(c.builtinCode), int(c.deprecatedBuiltinCode))

    return next(op for op in m.subgraphs[0].operators if builtin(op) == code)


def _opts(code, **fields):
    def edit(m):
        for k, v in fields.items():
            setattr(_first(m, code).builtinOptions, k, v)

    return edit


def _tensor(edit_tensor):
    def edit(m):
        sg = m.subgraphs[0]
        edit_tensor(sg.tensors[int(_first(m, S.BuiltinOperator.CONV_2D).inputs[1])], m)

    return edit


def _op_field(code, field, value):
    def edit(m):
        setattr(_first(m, code), field, value)

    return edit


def _wrong_options(m):
    op = _first(m, S.BuiltinOperator.CONV_2D)
    op.builtinOptions, op.builtinOptionsType = S.SoftmaxOptionsT(), S.BuiltinOptions.SoftmaxOptions


def _recode(code, options=True):
    """The average pool re-coded as operator `code` (its Pool2DOptions kept, or dropped)."""

    def edit(m):
        op = _first(m, S.BuiltinOperator.AVERAGE_POOL_2D)
        oc = S.OperatorCodeT()
        oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), 1
        m.operatorCodes.append(oc)
        op.opcodeIndex = len(m.operatorCodes) - 1
        if not options:
            op.builtinOptions, op.builtinOptionsType = None, S.BuiltinOptions.NONE

    return edit


def _sparse(t, m):
    t.sparsity = S.SparsityParametersT()


def _offset(t, m):
    buf = m.buffers[t.buffer]
    buf.data, buf.offset, buf.size = None, 1 << 40, 16


CASES = {
    "opcode index": (_op_field(S.BuiltinOperator.CONV_2D, "opcodeIndex", 99), "operator code 99"),
    "input index": (_op_field(S.BuiltinOperator.CONV_2D, "inputs", np.array([9999, 1, 2], np.int32)), "tensor 9999"),
    "output index": (_op_field(S.BuiltinOperator.CONV_2D, "outputs", np.array([-5], np.int32)), "tensor -5"),
    "graph input index": (lambda m: setattr(m.subgraphs[0], "inputs", np.array([777], np.int32)), "graph input"),
    "buffer index": (_tensor(lambda t, m: setattr(t, "buffer", len(m.buffers) + 3)), "uses buffer"),
    "short buffer": (
        _tensor(lambda t, m: setattr(m.buffers[t.buffer], "data", m.buffers[t.buffer].data[:-1])),
        "bytes",
    ),
    "external buffer": (_tensor(_offset), "outside the flatbuffer"),
    "variable": (_tensor(lambda t, m: setattr(t, "isVariable", True)), "variable"),
    "sparse": (_tensor(_sparse), "sparse"),
    "zero dim": (_tensor(lambda t, m: setattr(t, "shape", np.array([64, 0, 4, 1], np.int32))), "at least 1"),
    "options type": (_wrong_options, "SoftmaxOptionsT"),
    "options of another op": (_recode(S.BuiltinOperator.LEAKY_RELU), "Pool2DOptionsT, expected LeakyReluOptionsT"),
    "options missing": (_recode(S.BuiltinOperator.DEPTH_TO_SPACE, options=False), "has no builtin options"),
    "padding enum": (_opts(S.BuiltinOperator.CONV_2D, padding=7), "padding 7"),
    "dilation 0": (_opts(S.BuiltinOperator.CONV_2D, dilationHFactor=0), "dilation"),
    "stride 0": (_opts(S.BuiltinOperator.CONV_2D, strideW=0), "stride_w 0"),
    "depth multiplier": (_opts(S.BuiltinOperator.DEPTHWISE_CONV_2D, depthMultiplier=2), "depthMultiplier 2"),
    "fewer inputs": (
        _op_field(S.BuiltinOperator.FULLY_CONNECTED, "inputs", np.array([0], np.int32)),
        "has 1 inputs; it takes 2 to 3",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_defect_is_refused_in_one_line(kws_tree, case):
    edit, words = CASES[case]
    m = copy.deepcopy(kws_tree)
    edit(m)
    with pytest.raises(TinyMLError) as e:
        load_tflite(_pack(m), "mutant")
    msg = str(e.value)
    assert "\n" not in msg and words in msg, msg


def test_the_unmutated_tree_still_loads(kws_tree):
    g = load_tflite(_pack(copy.deepcopy(kws_tree)), "kws")
    assert len(g.ops) == len(load_tflite(mlperf_path("kws")).ops)
