"""The small-plane 3x3 depthwise kernel (kernels/cortexm_dw_small.py) in QEMU (qemu-m4) against the numpy
reference: planes of up to three output columns (seven input columns) and six output rows, stride 1 and 2, SAME
and VALID, any channel count, independent per-channel quantization, activation clips, a constant channel, wide
records, in place and out of place."""

from __future__ import annotations

import shutil

import pytest
from hypothesis import Phase, assume, given, settings
from hypothesis import strategies as st

from tests.tinyengine_codegen.kernels.test_cortexm_dw_qemu import ACTS, _check, _graph, _planned
from tinyengine_codegen.ir.ops import Activation, Padding

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(
        shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
        reason="Cortex-M toolchain or QEMU not installed",
    ),
]
SMALL = ("dwconv3x3_s8_small_inplace", "dwconv3x3_s8_small")


@settings(max_examples=10, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(
    st.integers(1, 12),
    st.integers(1, 7),
    st.sampled_from([1, 3, 4, 8, 20]),
    st.sampled_from([Padding.SAME, Padding.VALID]),
    st.sampled_from([1, 2]),
    st.sampled_from(ACTS),
    st.booleans(),
    st.integers(0, 10_000),
)
def test_small_depthwise_random_shapes(h, w, c, padding, stride, act_fn, residual, seed):
    """In place unless a residual ADD (stride 1 SAME) keeps the input alive."""
    assume(padding is Padding.SAME or min(h, w) >= 3)
    residual = residual and stride == 1 and padding is Padding.SAME
    graph = _graph(h, w, c, padding, act_fn, seed, residual=residual, stride=stride)
    assume(_planned(graph) in SMALL)
    assert _check(graph, seed)[1] == SMALL[1 if residual else 0]


@pytest.mark.parametrize(
    "h,w,c,padding,stride,residual,bias_scale",
    [
        (3, 3, 16, Padding.SAME, 1, False, 1),  # VWW's last depthwise layer: 49 of 81 taps real
        (6, 3, 5, Padding.SAME, 1, True, 1),  # six output rows, the row slots reused, out of place
        (5, 3, 4, Padding.SAME, 2, False, 1),  # stride 2: rows loaded once for two output rows
        (3, 3, 8, Padding.VALID, 1, False, 1),  # one output pixel: every tap real
        (1, 1, 3, Padding.SAME, 1, False, 1),  # only the centre tap
        (4, 2, 8, Padding.SAME, 1, False, 20_000),  # biases beyond 24 bits: the wide records
        (6, 6, 128, Padding.SAME, 2, False, 1),  # VWW's 6 x 6 x 128 stride 2: rows of four registers, r0 moved on
        (7, 5, 13, Padding.VALID, 2, False, 1),  # rows of three registers, no padding
        (5, 4, 3, Padding.SAME, 2, False, 1),  # four columns: (x0, x2) and (x1, x3)
    ],
)
def test_small_depthwise_named_cases(h, w, c, padding, stride, residual, bias_scale):
    graph = _graph(
        h, w, c, padding, Activation.RELU6, seed=h * w + c, residual=residual, stride=stride, bias_scale=bias_scale
    )
    assert _check(graph, c)[1] == SMALL[1 if residual else 0]


def test_small_depthwise_saturating_wide_bias():
    """Biases beyond 24 bits whose channels saturate (a constant output each)."""
    graph = _graph(3, 3, 8, Padding.SAME, Activation.NONE, 5, saturate=True)
    assert _check(graph, 5)[1] == SMALL[0]


def test_small_depthwise_declines_rows_of_five_registers():
    """Seven columns at stride 2 without padding (pairs (0, 2), (2, 4), (4, 6) and three middle taps: five
    registers a row) under 9 output pixels: neither this kernel nor the planar one; the four-channel kernel runs."""
    graph = _graph(5, 7, 8, Padding.VALID, Activation.RELU, 4, stride=2)
    assert _check(graph, 4)[1] == "dwconv_s8_simd_inplace"
