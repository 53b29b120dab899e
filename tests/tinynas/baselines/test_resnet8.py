"""ResNet-8: the same layers as the MLPerf Tiny IC model, and an int8 export that TFLM runs bit-exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import mlperf_path
from tests.helpers.interpreters import tflm_run
from tinyengine_codegen.exporters.tflite import export_tflite
from tinyengine_codegen.importers.tflite import load_tflite
from tinyengine_codegen.ir.cost import graph_macs
from tinyengine_codegen.ir.ops import Activation, OpKind
from tinyengine_codegen.reference.run import run_graph
from tinynas.baselines.resnet8 import quantize_resnet8, resnet8, resnet8_steps
from tinynas.data import to_input
from tinynas.quantize import fold_bn, quantize
from tinynas.train.bn_calib import recalibrate

MLPERF_MACS = 12_501_632


def _signature(graph):
    """Per op: kind, output shape, weight shape, strides, padding, fused activation, pool window; and which
    earlier ops feed it (by index), so the residual wiring is compared too."""
    producer = {o: i for i, op in enumerate(graph.ops) for o in op.outputs}
    rows = []
    for op in graph.ops:
        a = op.attrs
        w = graph.tensor(op.inputs[1]).shape if op.kind in (OpKind.CONV_2D, OpKind.FULLY_CONNECTED) else None
        rows.append(
            (
                op.kind,
                graph.tensor(op.outputs[0]).shape,
                w,
                getattr(a, "stride_h", None),
                getattr(a, "padding", None),
                getattr(a, "activation", None),
                getattr(a, "filter_h", None),
                tuple(producer.get(t, -1) for t in op.inputs if t and not graph.tensor(t).is_const),
            )
        )
    return rows


def _trained_like(seed: int = 0):
    """A ResNet-8 with random weights and batch-norm parameters, statistics recalibrated on random images."""
    torch.manual_seed(seed)
    net = resnet8()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
    images = np.random.default_rng(seed).integers(0, 256, (64, 32, 32, 3)).astype(np.uint8)
    return recalibrate(net, images), images


def test_structure_equals_the_mlperf_model():
    net, images = _trained_like()
    ours = quantize_resnet8(net, images[:16])
    ref = load_tflite(mlperf_path("ic"))
    assert _signature(ours) == _signature(ref)
    assert graph_macs(ours) == graph_macs(ref) == MLPERF_MACS


def test_steps_without_the_reference_file():
    steps = resnet8_steps()
    assert sum(s.macs for s in steps) == MLPERF_MACS
    shortcuts = [s for s in steps if s.name.endswith("shortcut")]
    assert [(s.kernel, s.stride, s.cin, s.cout, s.bn) for s in shortcuts] == [
        (1, 2, 16, 32, False),
        (1, 2, 32, 64, False),
    ]
    assert [s.inputs for s in steps if s.kind == "add"] == [
        ("stem", "stage1.conv2"),
        ("stage2.shortcut", "stage2.conv2"),
        ("stage3.shortcut", "stage3.conv2"),
    ]
    assert all(not s.relu6 for s in steps if s.act)


def test_relu_is_unbounded_and_shortcut_has_a_bias():
    net, _ = _trained_like()
    stem, short = net.layer("stem"), net.layer("stage2.shortcut")
    x = torch.full((1, 3, 32, 32), 50.0)
    assert stem(x).max() > 6.0  # ReLU, not ReLU6
    assert short.bn is None and short.conv.bias is not None
    _w, b = fold_bn(short)
    np.testing.assert_array_equal(b, short.conv.bias.detach().double().numpy())


@pytest.mark.parametrize("softmax", [True, False])
def test_int8_export_runs_bit_exact_in_tflm(softmax):
    net, images = _trained_like(1)
    graph = quantize_resnet8(net, images) if softmax else quantize(net, images, name="resnet8_logits")
    assert graph.ops[-1].kind is (OpKind.SOFTMAX if softmax else OpKind.FULLY_CONNECTED)
    assert graph.ops[3].kind is OpKind.ADD and graph.ops[3].attrs.activation is Activation.RELU
    model = export_tflite(graph)
    back = load_tflite(model)
    x = (images[:4].astype(np.int16) - 128).astype(np.int8)
    ours = run_graph(back, [x])[0]
    for i in range(4):
        np.testing.assert_array_equal(tflm_run(model, [x[i : i + 1]], 1)[0], ours[i : i + 1])
    if not softmax:  # int8 logits follow the float network
        with torch.no_grad():
            ref = net(to_input(images[:4])).numpy()
        t = graph.tensor(graph.outputs[0])
        deq = (ours.astype(np.float64) - t.zero_point) * t.scale()
        assert np.abs(deq - ref).max() < 0.1 * np.abs(ref).max() + 4 * t.scale()
