"""A search killed in each stage in turn and resumed from its state folder ends exactly where an uninterrupted
search ends: the same arch and the same fine-tuned weights; the report and log tell which stages were resumed.
(run_to_folder's files are covered by test_search_e2e; its report is built by `_report`, checked here.)"""

import json
from types import SimpleNamespace

import pytest
import torch

import tinynas.search as search
from tinyengine_codegen.errors import TinyMLError
from tinynas.evolution import EvolutionBudget, Limits
from tinynas.pipeline import _report, board_budget, cost_function
from tinynas.search import quick_config, run_search

BUDGET = board_budget("qemu-m4", sram_bytes=64 * 1024)
LIMITS = Limits(BUDGET.sram_bytes, BUDGET.flash_bytes)
CONTEXT = {"board": BUDGET.board_id}


class Killed(Exception):
    pass


def _cfg(**changes):
    base = dict(
        full_epochs=1,
        phase_epochs=1,
        finetune_epochs=2,
        space_samples=3,
        measured_subnets=4,
        evolution=EvolutionBudget(population=6, generations=3),
        calib_images=64,
    )
    return quick_config(**{**base, **changes})


def _run(cfg, kill_at=None):
    def progress(e):
        if kill_at is not None and kill_at(e):
            raise Killed(e)

    return run_search(cfg, cost_function(BUDGET), LIMITS, progress, CONTEXT)


@pytest.fixture(scope="module")
def straight():
    old = torch.get_num_threads()
    torch.set_num_threads(1)  # as the tests run: float sums (and so evolution's ties) depend on threads
    try:
        return _run(_cfg())
    finally:
        torch.set_num_threads(old)


def test_resume_after_a_kill_in_every_stage(straight, tmp_path, monkeypatch):
    cfg = _cfg(checkpoint=tmp_path / "state")
    kills = [
        lambda e: e["stage"] == "space" and "fit_ratio" in e,  # mid space choice
        lambda e: e["stage"] == "train" and e.get("phase") == "kernel",  # after 2 of 4 epochs
        None,  # mid measurement
        lambda e: e["stage"] == "evolution" and e.get("generation") == 2,  # mid evolution
        lambda e: e["stage"] == "finetune" and e.get("epoch") == 1,
    ]  # after 1 of 2 epochs
    real_measure, calls = search._measure, []

    def measure_then_die(*args):
        calls.append(1)
        if len(calls) == 2:
            raise Killed("measure")
        return real_measure(*args)

    for _i, kill in enumerate(kills):
        with monkeypatch.context() as m:
            if kill is None:
                m.setattr(search, "_measure", measure_then_die)
            with pytest.raises(Killed):
                _run(cfg, kill)
    saved = json.loads((tmp_path / "state" / "measured.json").read_text())
    assert len(saved["archs"]) == len(saved["accuracies"]) == 4 + 3  # 4 for the predictor, 3 random more
    resumed = _run(cfg)
    assert resumed.resumed == ("space", "train", "measured", "evolution", "finetune (partial)")
    assert resumed.run == 6
    assert resumed.epochs == {
        "supernet": {"planned": 4, "trained": 4, "this_run": 0},
        "finetune": {"planned": 2, "trained": 2, "this_run": 1},
    }
    assert resumed.arch == straight.arch and resumed.space_choice.width == straight.space_choice.width
    assert [a for a, _, _ in resumed.measured] == [a for a, _, _ in straight.measured]
    assert resumed.evolution_history == straight.evolution_history
    for (k, a), b in zip(straight.net.state_dict().items(), resumed.net.state_dict().values()):
        assert torch.equal(a, b), k
    assert resumed.float_accuracy == straight.float_accuracy

    log = [json.loads(line) for line in (tmp_path / "state" / "log.jsonl").read_text().splitlines()]
    assert {e["run"] for e in log} == set(range(1, 7))
    assert sum(1 for e in log if e["stage"] == "train" and "loss" in e) == 4  # each epoch trained once
    assert [e["epoch"] for e in log if e["stage"] == "finetune" and "loss" in e] == [1, 2]
    sim = SimpleNamespace(peak_sram_bytes=1, flash_bytes=2, fits=True)
    report = _report(cfg, BUDGET, resumed, 0.5, sim, 1.0)
    assert report["resume"] == {
        "state": str(tmp_path / "state"),
        "run": 6,
        "stages_resumed": ["space", "train", "measured", "evolution", "finetune (partial)"],
    }
    assert report["epochs_trained"] == {"supernet": 4, "finetune": 2, "total": 6, "this_run": 1}
    assert report["batch_size"] == cfg.batch_size


def test_state_of_another_configuration_is_refused(tmp_path):
    state = tmp_path / "state"
    with pytest.raises(Killed):
        _run(_cfg(checkpoint=state), lambda e: e["stage"] == "train")
    with pytest.raises(TinyMLError, match="finetune_epochs"):
        _run(_cfg(checkpoint=state, finetune_epochs=3))
    assert not (state / "finetune.pt").exists() and (state / "supernet.pt").exists()
