"""A tiny real search end to end: the int8 winner fits, its cost equals the planner's on the exported model, and
the generated C is bit-exact with TFLM."""

import json

import numpy as np
import pytest

from tinynas.evolution import EvolutionBudget
from tinynas.pipeline import board_budget, cost_function, run_to_folder
from tinynas.search import quick_config


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("search") / "run"
    cfg = quick_config(
        full_epochs=1,
        phase_epochs=1,
        finetune_epochs=1,
        space_samples=4,
        measured_subnets=4,
        evolution=EvolutionBudget(population=6, generations=2),
        calib_images=64,
    )
    report = run_to_folder(cfg, board_budget("qemu-m4", sram_bytes=64 * 1024), out)
    return out, report


def test_report_and_files(tiny_run):
    out, report = tiny_run
    assert {"model.tflite", "report.json", "search_log.jsonl"} <= {p.name for p in out.iterdir()}
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk["peak_sram_bytes"] == report["peak_sram_bytes"] <= 64 * 1024
    assert on_disk["fits"] is True and 0.0 <= on_disk["accuracy"] <= 1.0
    assert not any(p.name.startswith(".") for p in out.parent.iterdir())  # no temporary folder left


def test_search_cost_equals_the_planner_on_the_exported_model(tiny_run):
    from tinyengine_codegen.boards import load_board
    from tinyengine_codegen.model_io import load_model
    from tinyengine_codegen.options import CompileOptions
    from tinyengine_codegen.simulate import simulate
    from tinynas.space import Arch, quick_space
    from tinynas.to_ir import arch_to_graph

    out, report = tiny_run
    exported = simulate(load_model(out / "model.tflite"), load_board("qemu-m4"), CompileOptions(target="qemu-m4"))
    assert exported.peak_sram_bytes == report["peak_sram_bytes"]
    a = report["architecture"]
    arch = Arch(a["resolution"], a["width"], tuple(a["kernels"]), tuple(a["expands"]), tuple(a["depths"]))
    structural = cost_function(board_budget("qemu-m4"))(arch_to_graph(arch, quick_space(1, 10)))
    assert structural.peak_sram_bytes == exported.peak_sram_bytes


def test_generated_c_is_bit_exact_with_tflm(tiny_run):
    from tflite_micro.python.tflite_micro import runtime

    from tinyengine_codegen.model_io import load_model
    from tinyengine_codegen.options import CompileOptions
    from tinyengine_codegen.runner import run_model

    out, _ = tiny_run
    graph = load_model(out / "model.tflite")
    shape = graph.tensors[graph.inputs[0]].shape
    rng = np.random.default_rng(1)
    for _ in range(3):
        x = rng.integers(-128, 128, shape).astype(np.int8)
        it = runtime.Interpreter.from_file(str(out / "model.tflite"))
        it.set_input(x, 0)
        it.invoke()
        y = run_model(graph, x, CompileOptions(target="host")).output
        assert np.array_equal(y.reshape(-1), it.get_output(0).reshape(-1))
