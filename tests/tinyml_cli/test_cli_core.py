"""The core commands through the real console script: results on stdout, one-line errors, exit codes."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import mlperf_path

TINYML = [sys.executable, "-m", "tinyml_cli.main"]


def tinyml(*args, **kw):
    return subprocess.run([*TINYML, *map(str, args)], capture_output=True, text=True, timeout=300, **kw)


def test_inspect_json_counts_macs():
    r = tinyml("inspect", mlperf_path("kws"), "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["macs"] == 2656768 and info["operators"] == 13
    assert [row["op"] for row in info["layers"]][:2] == ["CONV_2D", "DEPTHWISE_CONV_2D"]


def test_run_host_matches_tflm(tmp_path):
    from tflite_micro.python.tflite_micro import runtime

    model = mlperf_path("ic")
    x = np.random.default_rng(5).integers(-128, 128, (1, 32, 32, 3)).astype(np.int8)
    np.save(tmp_path / "x.npy", x)
    r = tinyml(
        "run", model, "--target", "host", "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy", "--json"
    )
    assert r.returncode == 0, r.stderr
    it = runtime.Interpreter.from_file(str(model))
    it.set_input(x, 0)
    it.invoke()
    assert np.array_equal(np.load(tmp_path / "y.npy"), it.get_output(0))
    assert json.loads(r.stdout)["shape"] == [1, 10]


def test_compile_writes_project(tmp_path):
    r = tinyml("compile", mlperf_path("ad"), "--target", "host", "--out", tmp_path / "ad", "--json")
    assert r.returncode == 0, r.stderr
    files = set(os.listdir(tmp_path / "ad"))
    assert {
        "tinyml.c",
        "tinyml.h",
        "tinyml_weights.c",
        "tinyml_weights.h",
        "tinyml_runtime.h",
        "manifest.json",
    } <= files
    assert "#define TINYML_ARENA_BYTES" in (tmp_path / "ad" / "tinyml.h").read_text()


def test_compile_prefix_and_format_flags(tmp_path):
    model = mlperf_path("ad")
    r = tinyml("compile", model, "--prefix", "ad", "--format", "arduino", "--out", tmp_path / "a", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["prefix"] == "ad" and (tmp_path / "a" / "ad.zip").is_file()
    assert "ad_invoke" in (tmp_path / "a" / "ad" / "src" / "ad.h").read_text()
    for flag, value, msg in (("--prefix", "9ad", "is not a C identifier"), ("--format", "zip", "--format 'zip'")):
        r = tinyml("compile", model, flag, value, "--out", tmp_path / "b")
        assert r.returncode == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("content", [b"", b"TFL3 but not really a model at all", b"\x00" * 64])
def test_bad_model_one_line_no_folder(tmp_path, content):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(content)
    r = tinyml("compile", bad, "--target", "host", "--out", tmp_path / "out")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_unsupported_operator_names_it(tmp_path):
    import flatbuffers

    from tinyengine_codegen.schema import schema

    data = bytearray(mlperf_path("kws").read_bytes())
    model = schema.ModelT.InitFromPackedBuf(bytes(data), 0)
    model.operatorCodes[0].deprecatedBuiltinCode = schema.BuiltinOperator.LSTM
    model.operatorCodes[0].builtinCode = schema.BuiltinOperator.LSTM
    b = flatbuffers.Builder(0)
    b.Finish(model.Pack(b), b"TFL3")
    path = tmp_path / "lstm.tflite"
    path.write_bytes(bytes(b.Output()))
    r = tinyml("compile", path, "--out", tmp_path / "o")
    assert r.returncode == 2 and "LSTM" in r.stderr
    assert "unsupported operator" in r.stderr and "inspect --ops" in r.stderr
    assert not (tmp_path / "o").exists()


def test_float_model_is_refused(tmp_path):
    from dataclasses import replace

    from tinyengine_codegen.exporters.tflite import export_tflite
    from tinyengine_codegen.importers.tflite import load_tflite

    g = load_tflite(mlperf_path("ad"))

    def as_float(t):
        data = None if t.data is None else t.data.astype(np.float32)
        return replace(t, dtype="float32", quant=None, data=data) if t.dtype in ("int8", "int32") else t

    tensors = {n: as_float(t) for n, t in g.tensors.items()}
    path = tmp_path / "float.tflite"
    path.write_bytes(export_tflite(replace(g, tensors=tensors)))
    r = tinyml("compile", path, "--out", tmp_path / "o")
    assert r.returncode == 2 and "float32" in r.stderr and "quantiz" in r.stderr


def test_missing_model_and_input(tmp_path):
    r = tinyml("run", tmp_path / "none.tflite", "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    assert r.returncode == 2 and "not found" in r.stderr
    r = tinyml("run", mlperf_path("ad"), "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    assert r.returncode == 2 and "input file" in r.stderr


def test_wrong_input_shape_is_a_user_error(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((3, 3), np.int8))
    r = tinyml("run", mlperf_path("ad"), "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    assert r.returncode == 2 and "640" in r.stderr
    assert shutil.which("cc") or shutil.which("gcc")


def test_ctrl_c_prints_interrupted_and_leaves_no_output(tmp_path):
    import signal
    import time

    p = subprocess.Popen(
        [*TINYML, "search", "--board", "qemu-m4", "--quick", "--out", tmp_path / "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    time.sleep(4)
    os.killpg(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130 and err.strip().splitlines()[-1] == "interrupted", err[-2000:]
    assert "Traceback" not in err and sorted(os.listdir(tmp_path)) == []
