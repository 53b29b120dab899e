"""avgpool_s8_simd in QEMU against the reference executor: windows cut by SAME padding, strides, a global pool of
the largest window the int16 sums allow, fused activations."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tests.tinyengine_codegen.reference.cases import act, single_op
from tinyengine_codegen.ir.ops import Activation, OpKind, Padding, Pool2DAttrs
from tinyengine_codegen.options import CompileOptions
from tinyengine_codegen.reference.run import run_graph
from tinyengine_codegen.runner import run_model

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(
        shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
        reason="Cortex-M toolchain or QEMU not installed",
    ),
]


@pytest.mark.parametrize(
    "shape,f,s,padding,act_fn",
    [
        ((1, 7, 6, 8), (3, 3), (2, 2), Padding.SAME, Activation.NONE),
        ((1, 5, 9, 4), (2, 4), (1, 3), Padding.VALID, Activation.RELU6),
        ((1, 16, 16, 12), (16, 16), (1, 1), Padding.VALID, Activation.NONE),
        ((2, 4, 4, 4), (3, 2), (1, 1), Padding.SAME, Activation.RELU),
    ],
)
def test_avgpool_simd(shape, f, s, padding, act_fn):
    rng = np.random.default_rng(shape[2])
    oh = -(-shape[1] // s[0]) if padding is Padding.SAME else (shape[1] - f[0]) // s[0] + 1
    ow = -(-shape[2] // s[1]) if padding is Padding.SAME else (shape[2] - f[1]) // s[1] + 1
    graph = single_op(
        OpKind.AVERAGE_POOL_2D,
        Pool2DAttrs(f[0], f[1], s[0], s[1], padding, act_fn),
        [act("x", shape, 0.05, -3)],
        act("y", (shape[0], oh, ow, shape[3]), 0.05, -3),
    )
    for extreme in (None, -128, 127):
        x = rng.integers(-128, 128, size=shape, dtype=np.int8) if extreme is None else np.full(shape, extreme, np.int8)
        res = run_model(graph, x, CompileOptions(target="qemu-m4", patches="off"))
        np.testing.assert_array_equal(res.output, run_graph(graph, [x])[0])
        assert res.kernels == ("avgpool_s8_simd",)
