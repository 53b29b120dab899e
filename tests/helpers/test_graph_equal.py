"""graph_difference finds the first difference and names the op or tensor it is in."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tinyengine_codegen.ir.graph import Graph, QuantParams
from tinyengine_codegen.ir.ops import OpKind

from ..fuzz.modelgen import random_model
from .graph_equal import assert_graphs_equal, graph_difference


@pytest.fixture
def g() -> Graph:
    return random_model(np.random.default_rng(3), ops=[OpKind.CONV_2D], num_layers=2)


def _with_tensor(g: Graph, name: str, **changes) -> Graph:
    tensors = dict(g.tensors)
    tensors[name] = replace(tensors[name], **changes)
    return replace(g, tensors=tensors)


def test_equal_graphs(g):
    assert graph_difference(g, random_model(np.random.default_rng(3), ops=[OpKind.CONV_2D], num_layers=2)) is None
    assert_graphs_equal(g, g)


def test_names_the_tensor_whose_scale_or_zero_point_differs(g):
    name = g.ops[0].outputs[0]
    t = g.tensors[name]
    scaled = QuantParams((t.quant.scale[0] * 1.01,), t.quant.zero_point)
    assert graph_difference(g, _with_tensor(g, name, quant=scaled)).startswith(f"tensor '{name}' (output of op")
    shifted = QuantParams(t.quant.scale, (t.quant.zero_point[0] + 1,))
    assert "zero points" in graph_difference(g, _with_tensor(g, name, quant=shifted))


def test_names_the_constant_and_index_whose_data_differs(g):
    name = g.ops[0].inputs[1]
    data = g.tensors[name].data.copy()
    data.reshape(-1)[5] ^= 1
    diff = graph_difference(g, _with_tensor(g, name, data=data))
    assert diff.startswith(f"tensor '{name}' (constant read by op '{g.ops[0].name}')")
    assert "flat index 5" in diff


def test_names_the_op_whose_attributes_or_operands_differ(g):
    op = g.ops[1]
    changed = replace(op, attrs=replace(op.attrs, stride_h=op.attrs.stride_h + 1))
    other = replace(g, ops=(g.ops[0], changed) + g.ops[2:])
    assert graph_difference(g, other).startswith(f"op 1 '{op.name}' (CONV_2D): attributes")
    swapped = replace(g, ops=(g.ops[0], replace(op, inputs=(op.inputs[0], op.inputs[2], op.inputs[1]))) + g.ops[2:])
    assert "inputs" in graph_difference(g, swapped)


def test_trailing_absent_operands_do_not_count(g):
    op = g.ops[0]
    padded = replace(g, ops=(replace(op, inputs=op.inputs + ("",)),) + g.ops[1:])
    assert graph_difference(g, padded) is None


def test_boundaries_and_op_count(g):
    assert "graph outputs differ" in graph_difference(g, replace(g, outputs=(g.ops[0].outputs[0],)))
    shorter = replace(g, ops=g.ops[:1], outputs=g.ops[0].outputs)
    assert "2 ops vs 1 ops" in graph_difference(replace(g, outputs=g.ops[0].outputs), shorter)
