"""`tinyml simulate` through the real entry point: one JSON object, the table, the plot, exit codes."""

import json
import subprocess
import sys

import pytest

from tests.conftest import mlperf_path

TINYML = [sys.executable, "-m", "tinyml_cli.main"]


def tinyml(*args, cwd=None):
    return subprocess.run([*TINYML, *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_json_vww_with_patches():
    r = tinyml("simulate", mlperf_path("vww"), "--board", "qemu-m4", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    # the grid follows the measured kernel cycles (planner/kernel_cycles.json); the peak must stay 2x below TFLM's
    assert d["peak_sram_bytes"] == d["arena_bytes"] <= 51840 and d["fits"] is True
    assert 2 <= d["patches"]["patches"] <= 8 and d["patches"]["peak_without_patches"] == 46080
    assert 0 < d["patches"]["extra_cycle_fraction"] <= 0.10
    assert len(d["layers"]) == 31 and d["layers"][0]["in_patch_stage"] is True
    exact = d["flash_exact"]
    assert d["flash_bytes"] == (d["flash"]["total"] if exact is None else exact["total"]) and "plot" not in d
    assert d["flash_is_estimate"] is (exact is None) and 0 < d["plan_seconds"] < 30


def test_json_options(tmp_path):
    r = tinyml(
        "simulate",
        mlperf_path("vww"),
        "--board",
        "qemu-m7",
        "--json",
        "--patches",
        "off",
        "--no-inplace",
        "--plot",
        tmp_path / "m.png",
    )
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["peak_sram_bytes"] == 55296 and d["patches"] is None and d["inplace_ops"] == []
    assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG" and d["plot"] == str(tmp_path / "m.png")
    r = tinyml("simulate", mlperf_path("vww"), "--json", "--patches", "4", "--max-extra-cycles", "0.2")
    d = json.loads(r.stdout)
    assert d["patches"]["patches"] == 4 and 0 < d["patches"]["extra_cycle_fraction"] <= 0.2
    r = tinyml("simulate", mlperf_path("vww"), "--json", "--patches", "4", "--max-extra-cycles", "0.01")
    assert json.loads(r.stdout)["patches"] is None  # every VWW stage costs more than 1 % extra cycles


def test_table_and_default_plot(tmp_path):
    r = tinyml("simulate", mlperf_path("kws"), "--board", "qemu-m4", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "peak SRAM: 16,000 B" in r.stdout and "op1_depthwise_conv_2d" in r.stdout
    assert "fits" in r.stdout and "firmware built for the board" in r.stdout
    assert (tmp_path / "kws_ref_model_memory.png").exists() and "kws_ref_model_memory.png" in r.stderr


def test_does_not_fit_exits_1(tmp_path):
    board = tmp_path / "small.toml"
    from tinyengine_codegen.boards import BUILTIN_BOARDS_DIR

    text = (BUILTIN_BOARDS_DIR / "qemu-m4.toml").read_text()
    board.write_text(text.replace('id = "qemu-m4"', 'id = "small"').replace("sram_bytes = 327680", "sram_bytes = 8192"))
    r = tinyml("simulate", mlperf_path("kws"), "--board", board, "--json")
    assert r.returncode == 1
    d = json.loads(r.stdout)
    assert d["fits"] is False and d["sram_margin_bytes"] == 8192 - 16000


@pytest.mark.parametrize(
    "args,message",
    [
        (("--board", "no-such-board"), "unknown board 'no-such-board'"),
        (("--patches", "1"), "off, auto or a patch count"),
        (("--max-extra-cycles", "-1"), "--max-extra-cycles"),
    ],
)
def test_user_errors_exit_2(args, message):
    r = tinyml("simulate", mlperf_path("ad"), *args, "--json")
    assert r.returncode == 2 and message in r.stderr and r.stdout == ""


def test_missing_model_exits_2(tmp_path):
    r = tinyml("simulate", tmp_path / "none.tflite")
    assert r.returncode == 2 and "not found" in r.stderr


def test_run_builds_and_matches_the_reference():
    """IC without patches: its residual ADDs run in place in the generated C."""
    r = tinyml("simulate", mlperf_path("ic"), "--patches", "off", "--run", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["inplace_ops"] == [3, 7, 11]
    assert d["run"]["ok"] and d["run"]["c_mismatches"] == 0 and d["run"]["c_arena_bytes"] == d["arena_bytes"]
