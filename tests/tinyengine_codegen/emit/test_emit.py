"""Emitter pieces: C filters, weights as string literals, atomic folder writes, the
generated API (prefix, canaries, hooks)."""

from __future__ import annotations

import ast
import subprocess

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyengine_codegen.build.host import build_host, find_compiler, run_host
from tinyengine_codegen.compile import compile_model, write_project
from tinyengine_codegen.emit.env import c_ident, c_string_lines
from tinyengine_codegen.emit.project import MANIFEST_NAME, write_folder
from tinyengine_codegen.errors import InternalError, TinyMLError
from tinyengine_codegen.options import CompileOptions

from ..kernels.graphs import conv_graph

REPO = __import__("pathlib").Path(__file__).resolve().parents[3]


def test_c_ident():
    assert c_ident("conv/1:0") == "conv_1_0"
    assert c_ident("3x3") == "_3x3"
    assert c_ident("") == "_"


@given(st.binary(max_size=200))
def test_string_literal_round_trip(data):
    text = c_string_lines(data)
    decoded = b"".join(ast.literal_eval("b" + line.strip()) for line in text.splitlines())
    assert decoded == data


def test_write_folder_is_atomic(tmp_path):
    out = tmp_path / "proj"
    write_folder({"a.txt": "old"}, out)

    with pytest.raises(TypeError):
        write_folder({"a.txt": "new", "b.bin": 3}, out)  # fails half-way
    assert (out / "a.txt").read_text() == "old" and not (out / "b.bin").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]  # no temporary folder left behind
    write_folder({"c.txt": "x"}, out)
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST_NAME, "c.txt"]


def test_write_folder_refuses_a_file(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(TinyMLError, match="is a file"):
        write_folder({"a": "b"}, tmp_path / "f")


def test_public_header_and_weights_layout():
    g = conv_graph(np.random.default_rng(0), h=4, w=4, cin=2, cout=3, k=3)
    p = compile_model(g, prefix="kws")
    h = p.files["model.h"]
    for line in (
        "#define KWS_INPUT_SIZE   32",
        "#define KWS_OUTPUT_SIZE  48",
        f"#define KWS_ARENA_SIZE   {p.arena_bytes}",
        "#define KWS_NUM_LAYERS   1",
        "typedef int8_t kws_input_t;",
        "int kws_init(void);",
        "int kws_invoke(const kws_input_t *input, kws_output_t *output);",
    ):
        assert line in h
    w = p.files["weights.c"]
    assert "const int8_t kws_w0[54] TINYML_ALIGNED(16) =" in w and '"\\x' in w
    assert "TINYML_LAYER_BEGIN(0);" in p.files["model.c"] and "TINYML_LAYER_END(0);" in p.files["model.c"]
    assert p.arena_bytes == 32 + 48  # input and output are both live during the only layer
    with pytest.raises(TinyMLError, match="not a C identifier"):
        compile_model(g, prefix="1bad")


def test_canaries_and_hooks_build_and_run(tmp_path):
    g = conv_graph(np.random.default_rng(3), h=6, w=6, cin=3, cout=4, k=3)
    write_project(g, tmp_path / "m", CompileOptions(debug_canaries=True))
    exe = build_host(tmp_path / "m", tmp_path / "m.exe", sanitize=True)
    x = np.random.default_rng(0).integers(-128, 128, (2, 1, 6, 6, 3)).astype(np.int8)
    plain = tmp_path / "plain"
    write_project(g, plain)
    y_plain = run_host(build_host(plain, tmp_path / "p.exe"), x)
    np.testing.assert_array_equal(run_host(exe, x), y_plain)
    assert "#define TINYML_DEBUG_CANARIES" in (tmp_path / "m" / "model.c").read_text()
    hooks = REPO / "firmware" / "include"
    proc = subprocess.run(
        [
            find_compiler(),
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-DTINYML_HOOKS",
            f"-I{hooks}",
            "-c",
            str(plain / "model.c"),
            "-o",
            str(tmp_path / "h.o"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


def test_canary_overwrite_is_reported(tmp_path):
    """A layer writing past the arena end makes tinyml_invoke return -(layer + 1)."""
    g = conv_graph(np.random.default_rng(3), h=4, w=4, cin=2, cout=2, k=1)
    write_project(g, tmp_path / "m", CompileOptions(debug_canaries=True))
    src = (tmp_path / "m" / "model.c").read_text()
    src = src.replace("out0[p * 2 + co] =", "out0[p * 2 + co + 4] =", 1)  # an out-of-bounds bug on purpose
    (tmp_path / "m" / "model.c").write_text(src)
    exe = build_host(tmp_path / "m", tmp_path / "m.exe")
    with pytest.raises(InternalError, match="returned -1"):
        run_host(exe, np.zeros((1, 4, 4, 2), np.int8))


def test_compile_error_is_an_internal_error(tmp_path):
    g = conv_graph(np.random.default_rng(3), h=4, w=4, cin=2, cout=2, k=1)
    write_project(g, tmp_path / "m")
    (tmp_path / "m" / "model.c").write_text("int broken(void) { return }\n")
    with pytest.raises(InternalError, match="failed to compile"):
        build_host(tmp_path / "m", tmp_path / "m.exe")
