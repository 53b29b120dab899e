"""The pass pipeline: the listed order, the verifier after every pass, --dump-after, one Target per board."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.tinyengine_codegen.planner.graphs import GraphBuilder, inverted_residual
from tinyengine_codegen.boards import load_board
from tinyengine_codegen.errors import InternalError, TinyMLError
from tinyengine_codegen.exporters.tflite import save_tflite
from tinyengine_codegen.options import CompileOptions
from tinyengine_codegen.passes import PASS_NAMES, check_model_plan, plan_model, run_pipeline
from tinyengine_codegen.target import HOST, target_of
from tinyml_cli.main import app


def _graph():
    g = GraphBuilder("res", (1, 12, 12, 8))
    return g.graph(g.conv(inverted_residual(g, g.input, 8, 2, 1), 4))


def test_pipeline_order_is_the_documented_one():
    assert PASS_NAMES == (
        "fold_constants",
        "fuse_pad",
        "choose_layout",
        "order_ops",
        "bind_kernels",
        "mark_inplace",
        "plan_arena",
        "plan_patches",
    )


def test_every_pass_leaves_a_verified_ir_and_a_safe_arena():
    seen = []
    mp = run_pipeline(_graph(), CompileOptions(), check=True, observe=lambda name, _: seen.append(name))
    assert tuple(seen) == PASS_NAMES
    assert mp.plan is not None and all(k is not None for k in mp.kernels)
    assert mp.plan.arena_bytes == plan_model(_graph()).plan.arena_bytes


def test_the_checker_names_the_pass_that_broke_the_plan():
    mp = plan_model(_graph(), CompileOptions(patches="off"))
    first = mp.graph.ops[0].outputs[0]
    bad = dataclasses.replace(mp, plan=dataclasses.replace(mp.plan, offsets={**mp.plan.offsets, first: 10**6}))
    with pytest.raises(InternalError):
        check_model_plan(bad, "plan_arena")


def test_a_board_becomes_one_target_with_its_core_capabilities():
    m4, m7, pico = (load_board(b).target for b in ("qemu-m4", "qemu-m7", "pico"))
    assert (m4.core, m4.dsp, m4.mve, m4.cycle_model) == ("cortex-m4", True, False, "m4-trm-v1")
    assert m7.dual_issue and m7.cycle_model == "m7-dual-v1" and not pico.dsp
    assert CompileOptions(target="qemu-m4").target == m4 and CompileOptions().target is HOST


def test_a_helium_core_is_told_it_gets_the_dsp_kernels():
    m55 = target_of(dataclasses.replace(load_board("qemu-m4"), id="m55-test", core="cortex-m55"))
    assert m55.mve and m55.dsp and m55.arch == "armv8.1-m.main"
    mp = plan_model(_graph(), CompileOptions(target=m55, patches="off"))
    assert any("Helium" in n for n in mp.notes)
    assert any(k.name.endswith("_simd") or "simd" in k.name for k in mp.kernels if k)
    assert not any("Helium" in n for n in plan_model(_graph(), CompileOptions(target="qemu-m4")).notes)


def test_dump_after_prints_the_ir_after_that_pass(tmp_path):
    model = save_tflite(_graph(), tmp_path / "m.tflite")
    runner = CliRunner()
    r = runner.invoke(app, ["compile", str(model), "--dump-after", "bind_kernels"])
    assert r.exit_code == 0, r.output
    assert "# after bind_kernels" in r.output and "candidates=" in r.output and "arena" not in r.output
    r = runner.invoke(app, ["compile", str(model), "--dump-after", "plan_arena"])
    assert "kernel=" in r.output and "arena " in r.output and "inplace" in r.output
    r = runner.invoke(app, ["compile", str(model), "--dump-after", "nope"])
    assert isinstance(r.exception, TinyMLError) and "fold_constants" in str(r.exception)  # main() prints one line


def test_patch_text_is_parsed_once_and_refused_early():
    with pytest.raises(TinyMLError, match="patch count"):
        CompileOptions(patches="1")
    assert str(CompileOptions(patches="4").patches) == "4"
    assert np.isclose(CompileOptions().max_extra_cycles, 0.10)


def test_the_garbage_collector_is_paused_only_while_the_passes_run():
    """run_pipeline pauses the cyclic collector for its passes and leaves its state as it found it, also when a
    pass raises; a caller that had disabled it keeps it disabled."""
    import gc

    seen = []

    def boom(mp, options):
        raise TinyMLError("stop")

    assert gc.isenabled()
    run_pipeline(_graph(), observe=lambda name, mp: seen.append(gc.isenabled()))
    assert seen and not any(seen) and gc.isenabled()
    with pytest.raises(TinyMLError):
        run_pipeline(_graph(), passes=(("boom", boom),))
    assert gc.isenabled()
    gc.disable()
    try:
        run_pipeline(_graph())
        assert not gc.isenabled()
    finally:
        gc.enable()
