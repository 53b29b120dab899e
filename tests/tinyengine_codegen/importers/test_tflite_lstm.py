"""UNIDIRECTIONAL_SEQUENCE_LSTM through .tflite: the exporter's file reads back as the same graph, models made by
TensorFlow's converter (tests/data/lstm) import and run bit-exact with TFLM, and the LSTM variants TFLM does not
run (peephole, projection, layer norm, CIFG, float or 16-bit states) are refused with one line naming the operator
and the reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.exporters.tflite import export_tflite
from tinyengine_codegen.importers.tflite import load_tflite
from tinyengine_codegen.ir.ops import OpKind
from tinyengine_codegen.reference.run import run_graph
from tinyengine_codegen.schema import schema

from ...fuzz.layers_lstm import lstm_graph
from ...helpers.graph_equal import graph_difference
from ...helpers.interpreters import tflm_run


def _graph(**kw):
    return lstm_graph(np.random.default_rng(3), **kw)


@pytest.mark.parametrize("kw", [dict(), dict(time_major=True, batches=2, cell_clip=2.5)])
def test_export_then_import_gives_the_same_graph(kw):
    graph = _graph(**kw)
    model = export_tflite(graph)
    back = load_tflite(model, "lstm.tflite")
    assert graph_difference(graph, back, op_names=False) is None
    again = export_tflite(back)
    assert graph_difference(back, load_tflite(again, "again.tflite")) is None


def test_state_tensors_are_variables_and_intermediates_carry_the_gate_scales():
    m = schema.ModelT.InitFromPackedBuf(export_tflite(_graph(batches=2)), 0)
    sg = m.subgraphs[0]
    op = sg.operators[0]
    hidden, cell = sg.tensors[op.inputs[18]], sg.tensors[op.inputs[19]]
    assert hidden.isVariable and cell.isVariable and hidden.type == schema.TensorType.INT8
    assert cell.type == schema.TensorType.INT16 and list(cell.shape) == [2, 8]
    assert [sg.tensors[i].quantization.scale[0] for i in op.intermediates[:4]] == [2.0**-12] * 4
    assert all(op.inputs[j] == -1 for j in (9, 10, 11, 16, 17, 20, 21, 22, 23))


def _patched(edit) -> bytes:
    m = schema.ModelT.InitFromPackedBuf(export_tflite(_graph()), 0)
    op = m.subgraphs[0].operators[0]
    op.inputs = [int(i) for i in op.inputs]
    edit(m.subgraphs[0], op)
    b = __import__("flatbuffers").Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _set(slot, source):
    def edit(sg, op):
        op.inputs[slot] = op.inputs[source]

    return edit


def _drop(slot):
    def edit(sg, op):
        op.inputs[slot] = -1

    return edit


def _cell_scale(sg, op):
    sg.tensors[op.inputs[19]].quantization.scale = [0.0003]


def _float_cell(sg, op):
    sg.tensors[op.inputs[19]].type = schema.TensorType.FLOAT32


def _relu_gate(sg, op):
    op.builtinOptions.fusedActivationFunction = schema.ActivationFunctionType.RELU


REFUSED = {
    "peephole": (_set(10, 12), "peephole"),
    "projection": (_set(16, 5), "projection"),
    "layer_norm": (_set(21, 12), "layer-norm"),
    "cifg": (_drop(1), "CIFG"),
    "cell_scale": (_cell_scale, "power of two"),
    "float_cell": (_float_cell, "int16"),
    "relu_gate": (_relu_gate, "TANH"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_variants_tflm_does_not_run_are_refused_in_one_line(case):
    edit, words = REFUSED[case]
    with pytest.raises(TinyMLError) as err:
        load_tflite(_patched(edit), "v.tflite")
    msg = str(err.value)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in msg and words in msg and "\n" not in msg and len(msg) < 250, msg


CONVERTED = Path(__file__).resolve().parents[2] / "data" / "lstm"  # made by TensorFlow's converter (make_models.py)


@pytest.mark.parametrize("name", sorted(p.stem for p in CONVERTED.glob("*.tflite")))
def test_converter_made_models_import_and_run_bit_exact_with_tflm(name):
    path = CONVERTED / f"{name}.tflite"
    graph = load_tflite(path)
    lstm = graph.ops[0]
    assert lstm.kind is OpKind.UNIDIRECTIONAL_SEQUENCE_LSTM and lstm.attrs.time_major == ("time_major" in name)
    assert lstm.attrs.cell_clip == 10.0 and lstm.attrs.cell_scale_power == -15  # what the converter writes
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.integers(-128, 128, graph.tensor(graph.inputs[0]).shape).astype(np.int8)
        np.testing.assert_array_equal(run_graph(graph, [x])[0], tflm_run(path.read_bytes(), [x], 1)[0])


def test_a_keras3_lstm_while_loop_is_refused_with_the_way_to_the_fused_operator():
    m = schema.ModelT.InitFromPackedBuf(export_tflite(_graph()), 0)
    m.operatorCodes[0].builtinCode = m.operatorCodes[0].deprecatedBuiltinCode = schema.BuiltinOperator.WHILE
    m.subgraphs.append(schema.SubGraphT())
    b = __import__("flatbuffers").Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    with pytest.raises(TinyMLError, match="Keras 3 LSTM layer converts to such a WHILE loop.*tf_keras"):
        load_tflite(bytes(b.Output()), "k3.tflite")
