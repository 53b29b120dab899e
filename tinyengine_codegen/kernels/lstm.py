"""Kernel specs of UNIDIRECTIONAL_SEQUENCE_LSTM (int8 activations and weights, int16 gates and cell state).

Both kernels walk the steps row by row (one batch row of one time step) and finish one state unit at a time:
its four gate pre-activations (x.W + b and h.R, each requantized to Q3.12), the gates, the new cell value and the
new hidden value. The previous hidden state is the output row of the previous step, so the only scratch is the
int16 cell state (2 bytes per batch row and state unit), zeroed at the start of every inference; at step 0 the
hidden state is its zero point, whose recurrent term is exactly zero and is skipped. The input and hidden zero
points are folded into per-unit biases at generation time. lstm_s8_ref is portable C. lstm_s8_simd (cores with the
DSP extension) sign-extends each input row and hidden row once into int16 pairs on the stack (at most
STACK_COLUMNS bytes, as the pair kernels; larger layers take the portable kernel) and accumulates the four gates
of a unit in one pass over them: per four int8 weights one word load, two SXTB16 and two SMLADs.
"""

from __future__ import annotations

import numpy as np

from ..ir.graph import Graph, Op
from ..ir.lstm import BIASES, INPUT_WEIGHTS, RECURRENT_WEIGHTS, lstm_sizes
from ..ir.ops import OpKind
from ..reference.lstm import SIGMOID_TABLE, lstm_params, tanh_scaling
from .cortexm import has_dsp
from .cortexm_pair import STACK_COLUMNS
from .spec import Binding, Context, KernelSpec, TargetLike, always


def lstm_scratch(op: Op, graph: Graph) -> int:
    """The int16 cell state (batch rows x units)."""
    n = lstm_sizes(graph, op)
    return 2 * n.batches * n.state_size


def simd_stack_bytes(op: Op, graph: Graph) -> int:
    """The SIMD kernel's stack rows: the input row and the hidden row as sign-extended int16 pairs."""
    n = lstm_sizes(graph, op)
    return 2 * (n.input_size // 4 * 4) + 2 * (n.state_size // 4 * 4)


def lstm_context(op: Op, graph: Graph, b: Binding) -> Context:
    n = lstm_sizes(graph, op)
    p = lstm_params(op, graph)
    w_in = [np.asarray(graph.tensor(t).data, np.int64) for t in op.inputs[INPUT_WEIGHTS]]
    w_rec = [np.asarray(graph.tensor(t).data, np.int64) for t in op.inputs[RECURRENT_WEIGHTS]]
    bias = [np.asarray(graph.tensor(t).data, np.int64) for t in op.inputs[BIASES]]
    bx = np.concatenate([bias[g] + p.input_offset * w_in[g].sum(axis=1) for g in range(4)])
    bh = np.concatenate([p.hidden_offset * w_rec[g].sum(axis=1) for g in range(4)])
    gate_tanh = tanh_scaling(-12)
    return dict(
        steps=n.time_steps,
        batches=n.batches,
        features=n.input_size,
        units=n.state_size,
        time_major=n.time_major,
        wx=[b.const(t) for t in op.inputs[INPUT_WEIGHTS]],
        wh=[b.const(t) for t in op.inputs[RECURRENT_WEIGHTS]],
        bx=[int(v) for v in bx],
        bh=[int(v) for v in bh],
        mx=[list(m) for m in p.input_mult],
        mh=[list(m) for m in p.recurrent_mult],
        forget_mult=list(p.forget_mult),
        input_mult=list(p.input_gate_mult),
        hidden_mult=list(p.hidden_mult),
        hidden_zp=p.hidden_zero_point,
        cell_clip=p.cell_clip,
        gate_tanh=list(gate_tanh),
        cell_tanh=[p.tanh_multiplier, p.tanh_shift],
        table=list(SIGMOID_TABLE),
        x_words=n.input_size // 4 * 2,
        h_words=n.state_size // 4 * 2,
    )


def is_lstm_simd(op: Op, graph: Graph, target: TargetLike) -> bool:
    return has_dsp(target) and simd_stack_bytes(op, graph) <= STACK_COLUMNS


FAMILIES = {
    OpKind.UNIDIRECTIONAL_SEQUENCE_LSTM: (
        KernelSpec("lstm_s8_simd", is_lstm_simd, lstm_scratch, lstm_context),
        KernelSpec("lstm_s8_ref", always, lstm_scratch, lstm_context),
    )
}
