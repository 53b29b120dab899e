"""A model with operators the toolchain lacks: `run` fails with one line naming each unsupported operator and its
count (exit code 2), and `inspect --ops` lists the model's operators with their support."""

import json
import subprocess
import sys

import flatbuffers
import numpy as np

from tinyengine_codegen.exporters.tflite import export_tflite
from tinyengine_codegen.ir.ops import OpKind
from tinyengine_codegen.schema import schema

from ..fuzz.modelgen import random_model


def _with_unsupported(tmp_path):
    """A random RELU/TANH model whose RELU and TANH opcodes are rewritten to CUMSUM and GATHER_ND."""
    graph = random_model(np.random.default_rng(1), ops={OpKind.RELU, OpKind.TANH}, num_layers=4, name="m")
    model = schema.ModelT.InitFromPackedBuf(export_tflite(graph), 0)
    ops = schema.BuiltinOperator
    swap = {ops.RELU: ops.CUMSUM, ops.TANH: ops.GATHER_ND}
    for code in model.operatorCodes:
        if code.builtinCode in swap:
            code.builtinCode = swap[code.builtinCode]
            code.deprecatedBuiltinCode = min(code.builtinCode, ops.PLACEHOLDER_FOR_GREATER_OP_CODES)
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    path = tmp_path / "m.tflite"
    path.write_bytes(bytes(b.Output()))
    kinds = [op.kind for op in graph.ops]
    return path, kinds.count(OpKind.RELU), kinds.count(OpKind.TANH)


def tinyml(*args):
    return subprocess.run([sys.executable, "-m", "tinyml_cli.main", *map(str, args)], capture_output=True, text=True)


def test_run_names_every_unsupported_operator_in_one_line(tmp_path):
    path, relus, tanhs = _with_unsupported(tmp_path)
    np.save(tmp_path / "x.npy", np.zeros(1, np.int8))
    r = tinyml("run", path, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    assert r.returncode == 2 and not (tmp_path / "y.npy").exists()
    line = r.stderr.strip().splitlines()[-1]
    assert "CUMSUM ×" + str(relus) in line and "GATHER_ND ×" + str(tanhs) in line and len(line) <= 200 + 7
    assert "see tinyml inspect --ops" in line and "Traceback" not in r.stderr


def test_inspect_ops_lists_support(tmp_path):
    path, relus, tanhs = _with_unsupported(tmp_path)
    r = tinyml("inspect", path, "--ops", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    ops = {row["op"]: (row["count"], row["supported"]) for row in info["operators"]}
    assert ops["CUMSUM"] == (relus, False) and ops["GATHER_ND"] == (tanhs, False)
    assert "TRANSPOSE_CONV" in info["supported"] and "CUMSUM" not in info["supported"]


def test_verbose_adds_each_operators_layers_and_what_to_use_instead(tmp_path):
    path, relus, tanhs = _with_unsupported(tmp_path)
    np.save(tmp_path / "x.npy", np.zeros(1, np.int8))
    args = ("run", path, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    quiet, loud = tinyml(*args), tinyml(*args, "--verbose")
    assert quiet.returncode == loud.returncode == 2 and "Traceback" not in loud.stderr
    first = loud.stderr.strip().splitlines()
    assert first[0] == quiet.stderr.strip() and len(quiet.stderr.strip().splitlines()) == 1
    detail = {line.split()[0]: line for line in first[1:]}
    assert detail["CUMSUM"].count("#") == relus and detail["GATHER_ND"].count("#") == tanhs
    assert "instead: STRIDED_SLICE" in detail["GATHER_ND"] and "'t" in detail["CUMSUM"]
    assert tinyml("-v", *args).stderr == loud.stderr
