"""plan_model: kernel choice under the live-tensor peak, in-place rules, patch requests, the MLPerf Tiny plans."""

import json

import pytest

from tests.conftest import SHARED_DATA, mlperf_path
from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.ir.ops import OpKind
from tinyengine_codegen.kernels import registry
from tinyengine_codegen.kernels.registry import KernelSpec, always
from tinyengine_codegen.options import CompileOptions, PatchRequest
from tinyengine_codegen.passes import PIPELINE, plan_model, run_pipeline
from tinyengine_codegen.planner import Buffer, check_plan, lifetimes, plan_memory
from tinyengine_codegen.planner.model_plan import BoundKernel, choose_kernels
from tinyengine_codegen.planner.patches import patched_buffers, plan_patched

from .graphs import GraphBuilder, inverted_residual


def _k(name: str, scratch: int, inplace: bool = False) -> BoundKernel:
    return BoundKernel(KernelSpec(name, always, lambda op, g: scratch, lambda op, g, b: {}, inplace), scratch, inplace)


def _names(kernels):
    return tuple(None if k is None else k.name for k in kernels)


def test_kernel_choice_under_the_live_peak():
    bufs = [Buffer("a", 500, 0, 0), Buffer("b", 1000, 1, 1), Buffer("c", 200, 2, 2)]
    cands = (
        (_k("fast", 100), _k("slow", 0)),  # 500 + 100 <= 1000: the fast one
        (_k("fast", 100), _k("slow", 0)),  # 1000 + 100 > 1000: the zero-scratch one
        (_k("big", 900), _k("bigger", 950)),  # neither fits: the least scratch
        (),
    )  # no kernel for this op
    bufs.append(Buffer("d", 4, 3, 3))
    kernels = choose_kernels(cands, frozenset(), bufs)
    assert _names(kernels) == ("fast", "slow", "big", None)
    assert [k.scratch for k in kernels if k is not None] == [100, 0, 900]


def test_inplace_ops_keep_an_inplace_kernel():
    bufs = [Buffer("a", 100, 0, 0)]
    cands = ((_k("fast", 0), _k("dw_inplace", 40, True)),)
    assert _names(choose_kernels(cands, frozenset({0}), bufs)) == ("dw_inplace",)
    assert _names(choose_kernels(cands, frozenset(), bufs)) == ("fast",)


def _residual_graph():
    g = GraphBuilder("res", (1, 12, 12, 8))
    x = inverted_residual(g, g.input, 8, 2, 1)
    return g.graph(g.conv(x, 4))


def _upto(name: str):
    names = [n for n, _ in PIPELINE]
    return PIPELINE[: names.index(name) + 1]


def test_inplace_choice(monkeypatch):
    graph = _residual_graph()
    mp = run_pipeline(graph, CompileOptions(), passes=_upto("mark_inplace"))
    kinds = [op.kind for op in mp.graph.ops]
    add, dw = kinds.index(OpKind.ADD), kinds.index(OpKind.DEPTHWISE_CONV_2D)
    assert ("dwconv_s8_inplace", 144, True) in [(k.name, k.scratch, k.inplace) for k in mp.candidates[dw]]
    project = dw + 1  # the 1x1 projection after the depthwise: its in-place kernel lowers the arena
    assert kinds[project] is OpKind.CONV_2D
    assert ("conv2d_1x1_s8_inplace", 0, True) in [(k.name, k.scratch, k.inplace) for k in mp.candidates[project]]
    assert mp.inplace == frozenset({add, dw, project})  # 12 x 12 output pixels, one channel of scratch
    table = {kind: tuple(s for s in specs if not s.inplace) for kind, specs in registry.families().items()}
    monkeypatch.setattr(registry, "families", lambda: table)
    unmarked = run_pipeline(graph, CompileOptions(), passes=_upto("mark_inplace"))
    assert unmarked.inplace == frozenset({add})  # no depthwise or pointwise spec runs in place


@pytest.mark.parametrize(
    "text,want", [("off", (False, None)), ("auto", (True, None)), ("4", (True, 4)), (" AUTO ", (True, None))]
)
def test_patch_request(text, want):
    request = CompileOptions(patches=text).patches
    assert (request.enabled, request.count) == want
    assert PatchRequest.parse(str(request)) == request


@pytest.mark.parametrize("text", ["1", "0", "-3", "many", "2.5"])
def test_patch_request_refuses(text):
    with pytest.raises(TinyMLError, match="off, auto or a patch count"):
        CompileOptions(patches=text)


def test_scratch_that_would_raise_the_peak_takes_the_zero_scratch_kernel(monkeypatch):
    graph = _residual_graph()
    table = dict(registry.families())
    fast = KernelSpec("conv2d_fast_test", always, lambda op, g: 1500, table[OpKind.CONV_2D][0].context)
    table[OpKind.CONV_2D] = (fast,) + tuple(table[OpKind.CONV_2D])
    monkeypatch.setattr(registry, "families", lambda: table)
    mp = plan_model(graph, CompileOptions(patches="off", inplace=False))
    bare = plan_memory(mp.graph)
    live = {i: sum(b.size for b in bare.buffers if b.first <= i <= b.last) for i in range(len(mp.graph.ops))}
    for i, op in enumerate(mp.graph.ops):
        if op.kind is OpKind.CONV_2D:
            fits = live[i] + 1500 <= bare.lower_bound
            assert mp.kernel_names[i] == ("conv2d_fast_test" if fits else "conv2d_1x1_s8_ref"), (i, live[i])
    assert mp.plan.arena_bytes == bare.arena_bytes
    assert "conv2d_fast_test" in mp.kernel_names and "conv2d_1x1_s8_ref" in mp.kernel_names


def test_a_registry_that_fails_to_import_fails_the_plan(monkeypatch):
    def broken():
        raise ImportError("no kernels")

    monkeypatch.setattr(registry, "families", broken)
    with pytest.raises(ImportError, match="no kernels"):  # never a plan that silently assumes zero scratch
        plan_model(_residual_graph(), CompileOptions(patches="off"))


REF = {"ic": "IC", "vww": "VWW", "kws": "KWS", "ad": "AD"}


@pytest.mark.parametrize("key", sorted(REF))
def test_mlperf_plans(key):
    from tinyengine_codegen.importers.tflite import load_tflite

    graph = load_tflite(mlperf_path(key))
    ref = json.loads((SHARED_DATA / "reference" / "mlperf_tiny.json").read_text())[REF[key]]
    plain = plan_model(graph, CompileOptions(patches="off"))
    check_plan(lifetimes(plain.graph, scratch=plain.scratch, inplace=plain.inplace), plain.plan, alignment=4)
    assert plain.plan.arena_bytes <= ref["per_op_activation_lower_bound_bytes"]
    assert None not in plain.kernels
    auto = plan_model(graph)
    if auto.patches is None:
        assert auto.plan.arena_bytes == plain.plan.arena_bytes
    else:
        bufs = patched_buffers(auto.graph, auto.patches, scratch=auto.scratch, inplace=auto.inplace)
        check_plan(bufs, auto.plan, alignment=4)
        assert auto.plan.arena_bytes < plain.plan.arena_bytes
        assert (
            auto.plan.arena_bytes
            == plan_patched(auto.graph, auto.patches, scratch=auto.scratch, inplace=auto.inplace).arena_bytes
        )
        assert not any(i <= auto.patches.split_op for i in auto.inplace)
