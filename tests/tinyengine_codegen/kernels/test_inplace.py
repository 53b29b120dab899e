"""In-place kernels: the depthwise variant that writes its output over its input (any stride, padding,
dilation), and every elementwise kernel the plan runs in place, bit-exact under AddressSanitizer; the emitter
refuses a plan that binds a kernel to the wrong kind of buffer."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tinyengine_codegen.build.host import build_host_many, run_host
from tinyengine_codegen.compile import compile_model, write_project
from tinyengine_codegen.errors import InternalError
from tinyengine_codegen.ir.ops import OpKind, Padding
from tinyengine_codegen.kernels.registry import spec_named
from tinyengine_codegen.options import CompileOptions
from tinyengine_codegen.passes import plan_model
from tinyengine_codegen.planner.model_plan import BoundKernel
from tinyengine_codegen.reference.run import run_graph

from ...fuzz.modelgen import random_input, random_model
from ..planner.stacks import Stack
from .graphs import conv_graph

OFF = CompileOptions(patches="off")


def _run(cases, work):
    dirs = []
    for k, (graph, _) in enumerate(cases):
        write_project(graph, work / f"m{k}", OFF, prefix=f"m{k}")
        dirs.append(work / f"m{k}")
    exe = build_host_many(dirs, work / "all.exe", sanitize=True, opt="-O1")
    for k, (graph, xs) in enumerate(cases):
        want = np.stack([run_graph(graph, [x])[0] for x in xs])
        np.testing.assert_array_equal(run_host(exe, xs, model=k).reshape(want.shape), want, err_msg=graph.name)


def _dw_stack(seed: int, k: int, s: int, padding: Padding):
    st = Stack(np.random.default_rng(seed), (1, 11, 9, 1))
    x = st.conv(st.input, 12, 1)  # the peak is at the depthwise conv: in place lowers it
    x = st.dw(x, k, s, 1, padding)
    return st.graph(st.conv(x, 2, 1))


def test_inplace_depthwise_is_bit_exact_for_strides_pads_and_dilations(tmp_path):
    graphs = [
        _dw_stack(i, k, s, pad)
        for i, (k, s, pad) in enumerate(
            [
                (3, 1, Padding.SAME),
                (3, 2, Padding.SAME),
                (5, 2, Padding.VALID),
                (3, 1, Padding.VALID),
                (7, 3, Padding.SAME),
            ]
        )
    ]
    graphs += [
        conv_graph(
            np.random.default_rng(9),
            h=9,
            w=10,
            cin=5,
            cout=0,
            k=3,
            stride=2,
            dilation=2,
            depthwise=True,
            name="dilated",
        )
    ]
    cases = []
    for g in graphs:
        mp = plan_model(g, OFF)
        dw = next(i for i, op in enumerate(mp.graph.ops) if op.kind is OpKind.DEPTHWISE_CONV_2D)
        assert dw in mp.inplace and mp.kernel_names[dw] == "dwconv_s8_inplace", g.name
        out, src = mp.graph.ops[dw].outputs[0], mp.graph.ops[dw].inputs[0]
        assert mp.plan.offsets[out] == mp.plan.offsets[src]
        y = mp.graph.tensor(out)
        assert mp.scratch[dw] == y.shape[1] * y.shape[2]
        no = plan_model(g, CompileOptions(patches="off", inplace=False))
        assert no.kernel_names[dw] == "dwconv_kxk_s8_ref" and not no.inplace
        assert mp.plan.arena_bytes <= no.plan.arena_bytes
        shape = g.tensor(g.inputs[0]).shape
        cases.append((g, np.random.default_rng(1).integers(-128, 128, (2,) + shape, dtype=np.int8)))
    _run(cases, tmp_path)


ELEMENTWISE = [
    OpKind.CONV_2D,
    OpKind.DEPTHWISE_CONV_2D,
    OpKind.ADD,
    OpKind.MUL,
    OpKind.RELU,
    OpKind.RELU6,
    OpKind.LOGISTIC,
    OpKind.HARD_SWISH,
    OpKind.MEAN,
]


def test_every_elementwise_kernel_is_bit_exact_in_place(tmp_path):
    cases, used = [], set()
    for seed in range(60):
        rng = np.random.default_rng(2000 + seed)
        g = random_model(rng, ops=ELEMENTWISE, num_layers=4, name=f"e{seed}")
        g = dataclasses.replace(g, outputs=g.outputs[:1])
        mp = plan_model(g, OFF)
        used |= {mp.kernel_names[i] for i in mp.inplace}
        cases.append((g, np.stack([random_input(g, rng)[0] for _ in range(2)])))
    assert used >= {
        "binary_s8_flat",
        "binary_s8_bcast",
        "relu_s8_ref",
        "relu6_s8_ref",
        "logistic_s8_ref",
        "hardswish_s8_ref",
        "dwconv_s8_inplace",
    }, used
    _run(cases, tmp_path)


def test_a_kernel_that_does_not_match_the_plans_buffers_is_an_internal_error():
    g = _dw_stack(0, 3, 1, Padding.SAME)
    mp = plan_model(g, OFF)
    dw = mp.kernel_names.index("dwconv_s8_inplace")
    ref = BoundKernel(spec_named(mp.graph.ops[dw], "dwconv_kxk_s8_ref"), 0, False)
    bad = dataclasses.replace(mp, kernels=mp.kernels[:dw] + (ref,) + mp.kernels[dw + 1 :])
    with pytest.raises(InternalError, match="does not write its output over its input"):
        compile_model(g, plan=bad)
    out_of_place = dataclasses.replace(mp, inplace=frozenset())
    with pytest.raises(InternalError, match="in-place kernel 'dwconv_s8_inplace' bound to an op"):
        compile_model(g, plan=out_of_place)
    wrong = dataclasses.replace(mp.kernels[dw], scratch=4)
    wrong_scratch = dataclasses.replace(mp, kernels=mp.kernels[:dw] + (wrong,) + mp.kernels[dw + 1 :])
    with pytest.raises(InternalError, match="scratch"):
        compile_model(g, plan=wrong_scratch)
