"""`tinyml bench --patches`: the option reaches the planner (a bad value is a one-line user error, exit code 2)."""

import subprocess
import sys

from tests.conftest import mlperf_path


def test_bench_passes_patches_to_the_planner():
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "tinyml_cli.main",
            "bench",
            str(mlperf_path("vww")),
            "--board",
            "qemu-m4",
            "--patches",
            "sideways",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 2, r.stderr
    assert "patches 'sideways': use off, auto or a patch count" in r.stderr
    assert "Traceback" not in r.stderr
