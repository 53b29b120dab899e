"""PAD, CONCATENATION, TRANSPOSE, STRIDED_SLICE, RESHAPE, RESIZE_NEAREST_NEIGHBOR: bit-exact with TFLM."""

from __future__ import annotations

import numpy as np
import pytest

from tinyengine_codegen.ir.graph import Graph, Op
from tinyengine_codegen.ir.ops import (
    ConcatAttrs,
    NoAttrs,
    OpKind,
    PadAttrs,
    ReshapeAttrs,
    ResizeNearestAttrs,
    StridedSliceAttrs,
    TransposeAttrs,
)
from tinyengine_codegen.reference.run import run_graph

from .cases import act, check_random, random_inputs, single_op
from .tflite_writer import run_tflm, to_tflite


@pytest.mark.parametrize(
    "shape,paddings",
    [
        ((1, 5, 6, 3), ((0, 0), (1, 1), (2, 1), (0, 0))),
        ((1, 4, 4, 2), ((0, 0), (0, 3), (0, 0), (1, 2))),
        ((3, 5), ((1, 0), (0, 2))),
    ],
)
def test_pad_uses_output_zero_point(shape, paddings):
    out_shape = tuple(n + a + b for n, (a, b) in zip(shape, paddings))
    x = act("x", shape, 0.05, -37)
    y = act("y", out_shape, 0.05, -37)
    check_random(single_op(OpKind.PAD, PadAttrs(paddings), [x], y), seed=10)


def _concat_shapes(axis):
    shapes = [(1, 3, 4, 2), (1, 3, 4, 5)] if axis == 3 else [(1, 2, 4, 3), (1, 5, 4, 3)]
    out = list(shapes[0])
    out[axis] += shapes[1][axis]
    return shapes, tuple(out)


@pytest.mark.parametrize("axis", [1, 3])
def test_concatenation_with_shared_quantization_matches_tflm(axis):
    shapes, out = _concat_shapes(axis)
    a, b, y = act("a", shapes[0], 0.05, 1), act("b", shapes[1], 0.05, 1), act("y", out, 0.05, 1)
    check_random(single_op(OpKind.CONCATENATION, ConcatAttrs(axis), [a, b], y), seed=11)


@pytest.mark.parametrize("axis", [1, 3])
def test_concatenation_with_mixed_scales_equals_tflm_quantize_then_concat(axis):
    # TFLM rejects int8 concatenation of differently quantized inputs; the reference requantizes each input,
    # which must equal the graph QUANTIZE(a), QUANTIZE(b) -> CONCATENATION run in TFLM.
    shapes, out = _concat_shapes(axis)
    a, b, y = act("a", shapes[0], 0.05, 1), act("b", shapes[1], 0.11, -20), act("y", out, 0.08, 0)
    qa, qb = act("qa", shapes[0], 0.08, 0), act("qb", shapes[1], 0.08, 0)
    ops = (
        Op("qa", OpKind.QUANTIZE, ("a",), ("qa",), NoAttrs()),
        Op("qb", OpKind.QUANTIZE, ("b",), ("qb",), NoAttrs()),
        Op("cat", OpKind.CONCATENATION, ("qa", "qb"), ("y",), ConcatAttrs(axis)),
    )
    explicit = Graph("explicit", {t.name: t for t in (a, b, y, qa, qb)}, ops, ("a", "b"), ("y",))
    mixed = single_op(OpKind.CONCATENATION, ConcatAttrs(axis), [a, b], y)
    rng = np.random.default_rng(16)
    for xs in random_inputs(mixed, rng, 3):
        expected = run_tflm(to_tflite(explicit), xs)[0]
        np.testing.assert_array_equal(run_graph(mixed, xs)[0], expected)


@pytest.mark.parametrize("shape,perm", [((1, 3, 4, 5), (0, 3, 1, 2)), ((2, 3, 4), (2, 0, 1)), ((6, 7), (1, 0))])
def test_transpose_matches_tflm(shape, perm):
    x = act("x", shape, 0.1, 0)
    y = act("y", tuple(shape[p] for p in perm), 0.1, 0)
    check_random(single_op(OpKind.TRANSPOSE, TransposeAttrs(perm), [x], y), seed=12)


@pytest.mark.parametrize(
    "shape,begin,end,strides,shrink",
    [
        ((1, 8, 6, 4), (0, 1, 0, 1), (1, 7, 6, 4), (1, 2, 1, 1), ()),
        ((1, 8, 6, 4), (0, 7, 5, 0), (1, -1, -1, 4), (1, -1, -2, 1), ()),
        ((1, 5, 6, 3), (0, 2, 0, 0), (1, 3, 6, 3), (1, 1, 1, 1), (1,)),
        ((4, 9), (1, 2), (4, 9), (2, 3), ()),
    ],
)
def test_strided_slice_matches_tflm(shape, begin, end, strides, shrink):
    out = [len(range(b, e, s)) for b, e, s in zip(begin, end, strides)]
    out = tuple(n for d, n in enumerate(out) if d not in shrink)
    x = act("x", shape, 0.1, 4)
    y = act("y", out, 0.1, 4)
    check_random(single_op(OpKind.STRIDED_SLICE, StridedSliceAttrs(begin, end, strides, shrink), [x], y), seed=13)


def test_reshape_matches_tflm():
    x = act("x", (1, 4, 3, 5), 0.1, 4)
    y = act("y", (1, 60), 0.1, 4)
    check_random(single_op(OpKind.RESHAPE, ReshapeAttrs((1, 60)), [x], y), seed=14)


@pytest.mark.parametrize("in_hw,out_hw", [((3, 4), (6, 8)), ((5, 5), (7, 3)), ((4, 6), (2, 3)), ((2, 3), (5, 7))])
@pytest.mark.parametrize("align_corners,half_pixel", [(False, False), (True, False), (False, True)])
def test_resize_nearest_matches_tflm(in_hw, out_hw, align_corners, half_pixel):
    x = act("x", (1, *in_hw, 3), 0.1, 4)
    y = act("y", (1, *out_hw, 3), 0.1, 4)
    graph = single_op(OpKind.RESIZE_NEAREST_NEIGHBOR, ResizeNearestAttrs(align_corners, half_pixel), [x], y)
    check_random(graph, seed=15)
