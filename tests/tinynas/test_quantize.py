import importlib.util

import numpy as np
import pytest
import torch

from tinyengine_codegen.ir.graph import Graph
from tinyengine_codegen.ir.ops import Activation, OpKind
from tinyengine_codegen.ir.verify import verify
from tinynas.data import to_input, to_int8_input
from tinynas.qsim import dequantize, run_int8
from tinynas.quantize import QuantConfig, act_quant, fold_bn, quantize
from tinynas.space import Arch, cifar_space, quick_space
from tinynas.supernet.mbv2 import Supernet
from tinynas.to_ir import arch_to_graph
from tinynas.train.bn_calib import recalibrate

SPACE = quick_space()
ARCH = Arch(16, 1.0, (5, 3, 3, 5, 3, 5, 3, 5), (4, 2, 3, 3, 4, 2, 3, 2), (2, 2, 2))


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (96, 16, 16, 1), dtype=np.uint8)
    net = recalibrate(Supernet(SPACE, 1.0).extract(ARCH), images)
    graph = quantize(net, images[:64], QuantConfig())
    return net, graph, images[64:]


def test_graph_is_valid_and_structured_like_the_arch_graph(setup):
    _net, graph, _ = setup
    verify(graph)
    shape = arch_to_graph(ARCH, SPACE)
    verify(shape)
    assert [(o.name, o.kind, o.inputs) for o in graph.ops] == [(o.name, o.kind, o.inputs) for o in shape.ops]
    assert {n: t.shape for n, t in graph.tensors.items()} == {n: t.shape for n, t in shape.tensors.items()}
    kinds = [o.kind for o in graph.ops]
    assert kinds[:3] == [OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D, OpKind.CONV_2D]
    assert kinds[-3:] == [OpKind.AVERAGE_POOL_2D, OpKind.RESHAPE, OpKind.FULLY_CONNECTED]
    assert kinds.count(OpKind.ADD) == 3  # second block of each stage (stage 3 keeps 32 -> 32)
    assert graph.tensor("b0.dw.weight").shape == (1, 5, 5, 32) and graph.tensor("b0.dw.weight").quant.axis == 3
    assert graph.tensor("b0.expand.weight").shape == (32, 1, 1, 8)
    assert graph.tensor("pool").quant == graph.tensor(graph.ops[-4].outputs[0]).quant
    assert graph.ops[0].attrs.activation is Activation.RELU6 and graph.tensor("stem").zero_point == -128


def test_int8_graph_agrees_with_float_network(setup):
    net, graph, test = setup
    with torch.no_grad():
        want = net.eval()(to_input(test)).double().numpy()
    got = dequantize(graph, run_int8(graph, to_int8_input(test)))
    span = want.max() - want.min()
    err = np.abs(got - want) / span  # a layout or scale bug makes this O(1); quantization noise ~1e-2
    assert err.mean() < 0.03 and err.max() < 0.15, (err.mean(), err.max())
    assert np.corrcoef(got.ravel(), want.ravel())[0, 1] > 0.98
    assert (got.argmax(1) == want.argmax(1)).mean() >= 0.8  # random weights: logits are close together


def test_folded_and_quantized_weights_by_hand(setup):
    net, graph, _ = setup
    m = net.layer("b0.dw")
    w, b = fold_bn(m)
    x = torch.randn(1, 32, 6, 6)
    with torch.no_grad():
        m.eval()
        want = m.bn(m.conv(x))
        got = torch.nn.functional.conv2d(x.double(), torch.from_numpy(w), torch.from_numpy(b), m.stride, groups=32)
    assert got.shape == want.shape == (1, 32, 1, 1) and torch.allclose(got.float(), want, atol=1e-5)
    q = graph.tensor("b0.dw.weight")
    deq = q.data.astype(np.float64) * np.asarray(q.quant.scale)  # 1HWC, scale per channel (last axis)
    assert np.abs(deq - w.transpose(1, 2, 3, 0)).max() <= max(q.quant.scale) / 2 + 1e-12
    assert np.abs(q.data).max() == 127
    bias = graph.tensor("b0.dw.bias")
    s_in = graph.tensor("b0.expand").scale()
    assert np.allclose(bias.quant.scale, s_in * np.asarray(q.quant.scale))
    assert np.abs(bias.data * np.asarray(bias.quant.scale) - b).max() <= max(bias.quant.scale) / 2 + 1e-12


def test_activation_quant_by_hand():
    q = act_quant(-1.0, 3.0)
    assert q.scale[0] == pytest.approx(4 / 255) and q.zero_point[0] == round(-128 + 255 / 4)
    r = act_quant(0.2, 9.0, relu6=True)  # ReLU6 range is [0, 6]
    assert r.scale[0] == pytest.approx(6 / 255) and r.zero_point == (-128,)


def test_arch_graph_of_the_cifar_space():
    sp = cifar_space()
    g = verify(arch_to_graph(sp.largest(), sp, softmax=True))
    assert g.tensor("input").shape == (1, 32, 32, 3) and g.tensor(g.outputs[0]).shape == (1, 10)
    assert g.ops[-1].kind is OpKind.SOFTMAX
    assert sum(t.nbytes for t in g.constants() if t.dtype == "int8") > 100_000


@pytest.mark.skipif(
    importlib.util.find_spec("tinyengine_codegen.reference.run") is None,
    reason="tinyengine_codegen.reference.run is not available",
)
def test_each_op_matches_the_reference_executor_within_one_step(setup):
    """Op by op on the reference's own intermediate tensors (end to end, 1-step differences compound)."""
    from tinyengine_codegen.reference.run import run_graph

    _, graph, test = setup
    x = to_int8_input(test[:1])
    every = Graph(graph.name, graph.tensors, graph.ops, graph.inputs, tuple(o.outputs[0] for o in graph.ops))
    ref = {"input": x, **dict(zip(every.outputs, run_graph(every, [x])))}
    for op in graph.ops:
        ins = tuple(t for t in op.inputs if t and not graph.tensors[t].is_const)
        one = Graph("one", graph.tensors, (op,), ins, op.outputs)
        ours = run_int8(one, {t: np.asarray(ref[t]).reshape(graph.tensors[t].shape) for t in ins})
        theirs = np.asarray(ref[op.outputs[0]]).reshape(ours.shape)
        assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1, op.name
