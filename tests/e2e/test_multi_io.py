"""Multi-input and multi-output models end to end, bit-exact with TFLM on every output: several models with their
own prefixes in one host executable, every generated source as C++17, `tinyml run` with .npz in and out, and the
firmware (the PlatformIO format with the library in lib/NAME, built offline) in QEMU."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from tinyengine_codegen.build.host import build_host_many, run_host
from tinyengine_codegen.compile import write_project
from tinyengine_codegen.model_io import load_model

from ..conftest import SHARED_DATA
from ..helpers.interpreters import tflm_run

MODELS = ("two_inputs", "three_heads_detect", "two_heads")


def _model(name: str):
    path = SHARED_DATA / "coverage" / f"{name}.tflite"
    if not path.exists():
        pytest.skip(f"{path.name} not available (../shared/data is absent)")
    return path


def _inputs(graph, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, graph.tensor(n).shape).astype(np.int8) for n in graph.inputs]


def test_multi_io_models_share_one_executable_bit_exact(tmp_path):
    paths = [_model(m) for m in MODELS]
    graphs = [load_model(p) for p in paths]
    dirs = []
    for k, g in enumerate(graphs):
        project = write_project(g, tmp_path / f"p{k}", prefix=f"p{k}")
        man = project.manifest
        assert len(man["inputs"]) == len(g.inputs) and len(man["outputs"]) == len(g.outputs)
        dirs.append(tmp_path / f"p{k}")
    exe = build_host_many(dirs, tmp_path / "all.exe", sanitize=True, opt="-O1")
    for k, (path, g) in enumerate(zip(paths, graphs)):
        batches = [_inputs(g, s) for s in range(3)]
        stacked = [np.stack([b[i] for b in batches]) for i in range(len(g.inputs))]
        ys = run_host(exe, stacked, model=k)
        assert len(ys) == len(g.outputs)
        for s, xs in enumerate(batches):
            want = tflm_run(path.read_bytes(), xs, len(g.outputs))
            for i, w in enumerate(want):
                np.testing.assert_array_equal(ys[i][s], w, err_msg=f"{path.name} output {i}, input set {s}")


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ missing (tinyml setup installs it)")
def test_generated_sources_compile_as_cxx17(tmp_path):
    write_project(load_model(_model("three_heads_detect")), tmp_path / "m", prefix="det")
    for src in sorted((tmp_path / "m").glob("*.c")):
        cmd = ["g++", "-x", "c++", "-std=c++17", "-Wall", "-Wextra", "-Werror", f"-I{tmp_path / 'm'}", "-c"]
        proc = subprocess.run([*cmd, str(src), "-o", str(tmp_path / "x.o")], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]


def test_cli_run_takes_and_writes_npz(tmp_path):
    from typer.testing import CliRunner

    from tinyml_cli.main import app

    path = _model("two_inputs")
    g = load_model(path)
    xs = _inputs(g, 9)
    np.savez(tmp_path / "x.npz", **{"0": xs[0], g.inputs[1]: xs[1]})  # by index and by tensor name
    r = CliRunner().invoke(
        app, ["run", str(path), "--input", str(tmp_path / "x.npz"), "--output", str(tmp_path / "y.npy")]
    )
    assert r.exit_code == 0, r.output
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), tflm_run(path.read_bytes(), xs, 1)[0])
    det = _model("three_heads_detect")
    np.save(tmp_path / "d.npy", _inputs(load_model(det), 4)[0])
    r = CliRunner().invoke(app, ["run", str(det), "--input", str(tmp_path / "d.npy"), "--output", str(tmp_path / "d")])
    assert "3 outputs; give --output a .npz" in str(r.exception)  # a TinyMLError: one line, exit code 2 in `main`


@pytest.mark.qemu
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm missing")
def test_three_heads_in_qemu_from_the_platformio_format(tmp_path):
    from tinyengine_codegen.boards import load_board
    from tinyengine_codegen.build.platformio import build
    from tinyengine_codegen.emit.formats import demo_io, write_package
    from tinyengine_codegen.options import CompileOptions
    from tinyengine_codegen.run.qemu import run_qemu
    from tinyengine_codegen.runner import split_outputs

    path = _model("three_heads_detect")
    g = load_model(path)
    board = load_board("qemu-m4")
    write_package(g, tmp_path / "pio", CompileOptions(target="qemu-m4"), fmt="platformio", prefix="det")
    assert (tmp_path / "pio" / "lib" / "det" / "det.h").is_file() and not (tmp_path / "pio" / "src" / "det.c").exists()
    res = run_qemu(build(tmp_path / "pio", board).elf_path, board)
    xs, _ = demo_io(g)
    want = tflm_run(path.read_bytes(), xs, len(g.outputs))
    for y, w in zip(split_outputs(g, res.output_bytes), want):
        np.testing.assert_array_equal(y, w)
