"""The operators beyond the convolutional core on qemu-m4 against the numpy reference: random models that mix
them (Cortex-M builds with -Werror), and TRANSPOSE_CONV's SIMD kernel with and without a channel remainder."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tinyengine_codegen.ir.ops import OpKind
from tinyengine_codegen.options import CompileOptions
from tinyengine_codegen.passes import plan_model
from tinyengine_codegen.reference.run import run_graph
from tinyengine_codegen.runner import run_model

from ...fuzz.modelgen import random_input, random_model

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(
        shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
        reason="Cortex-M toolchain or QEMU not installed",
    ),
]
M4 = CompileOptions(target="qemu-m4", patches="off")


@pytest.mark.parametrize("seed", [3, 11])
def test_transpose_conv_simd_matches_the_reference(seed):
    graph = random_model(np.random.default_rng(seed), ops={OpKind.TRANSPOSE_CONV}, num_layers=2, name=f"tc{seed}")

    mp = plan_model(graph, M4)
    kinds = {op.kind for op in graph.ops}
    assert OpKind.TRANSPOSE_CONV in kinds and "transpose_conv_s8_simd" in mp.kernel_names
    x = random_input(graph, np.random.default_rng(seed))[0]
    np.testing.assert_array_equal(run_model(graph, x, M4).output, run_graph(graph, [x])[0])


MIXES = (
    {OpKind.TANH, OpKind.L2_NORMALIZATION, OpKind.SQUARED_DIFFERENCE, OpKind.RSQRT, OpKind.ABS, OpKind.ARG_MAX},
    {OpKind.SUB, OpKind.SUM, OpKind.RESIZE_BILINEAR, OpKind.SPLIT_V, OpKind.LOG_SOFTMAX, OpKind.LEAKY_RELU},
    {OpKind.PACK, OpKind.UNPACK, OpKind.DEPTH_TO_SPACE, OpKind.SPACE_TO_DEPTH, OpKind.PRELU, OpKind.MAXIMUM},
    {OpKind.REDUCE_MAX, OpKind.MEAN, OpKind.MINIMUM, OpKind.SPLIT, OpKind.TRANSPOSE_CONV, OpKind.CONV_2D},
)


@pytest.mark.parametrize("mix", range(len(MIXES)))
def test_mixed_new_operators_match_the_reference(mix):
    kinds = MIXES[mix]
    graph = random_model(np.random.default_rng(mix), ops=kinds, num_layers=6, name=f"mix{mix}")
    assert len({op.kind for op in graph.ops} & kinds) >= 3, [op.kind.value for op in graph.ops]
    x = random_input(graph, np.random.default_rng(mix))[0]
    np.testing.assert_array_equal(run_model(graph, x, M4).output, run_graph(graph, [x])[0])
