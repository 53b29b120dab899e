"""Export rule of UNIDIRECTIONAL_SEQUENCE_LSTM: the 24 TFLite operands, with the hidden (int8) and cell (int16)
states as zero-initialised variable tensors, as TensorFlow's converter writes a Keras LSTM layer. Like the
converter it also writes the five intermediates of the integer LSTM (the four gates' Q3.12 scale and the hidden
state's quantization): TFLM does not read them, LiteRT's kernel needs them."""

from __future__ import annotations

from ..ir.graph import Graph, Op, QuantParams
from ..ir.lstm import GATES, lstm_sizes
from ..ir.ops import LstmAttrs
from ..schema import schema
from .tflite_common import Lowered, VariableInput


def lower_lstm(graph: Graph, op: Op) -> Lowered:
    a = op.attrs
    assert isinstance(a, LstmAttrs)
    n = lstm_sizes(graph, op)
    state = (n.batches, n.state_size)
    hidden = VariableInput("hidden_state", state, "int8", QuantParams((a.hidden_scale,), (a.hidden_zero_point,)))
    cell = VariableInput("cell_state", state, "int16", QuantParams((2.0**a.cell_scale_power,), (0,)))
    ins = op.inputs
    operands = (*ins[0:9], "", "", "", *ins[9:13], "", "", hidden, cell, "", "", "", "")
    opts = schema.UnidirectionalSequenceLSTMOptionsT()
    opts.fusedActivationFunction = schema.ActivationFunctionType.TANH
    opts.cellClip = float(a.cell_clip)
    opts.projClip = 0.0
    opts.timeMajor = bool(a.time_major)
    opts.asymmetricQuantizeInputs = False
    gate_q = QuantParams((2.0**-12,), (0,))
    intermediates = tuple(VariableInput(f"{g}_gate", (0,), "int16", gate_q) for g in GATES)
    intermediates += (VariableInput("hidden", (0,), "int8", hidden.quant),)
    return Lowered(
        schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM,
        operands,
        schema.BuiltinOptions.UnidirectionalSequenceLSTMOptions,
        opts,
        1,
        intermediates,
    )
