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
    h = p.files["kws.h"]
    for line in (
        "#define KWS_INPUT_COUNT 1",
        "#define KWS_OUTPUT_COUNT 1",
        "#define KWS_INPUT0_BYTES 32",
        "#define KWS_OUTPUT0_BYTES 48",
        "#define KWS_INPUT0_DIMS {1, 4, 4, 2}",
        f"#define KWS_ARENA_BYTES {p.arena_bytes}",
        "#define KWS_LAYER_COUNT 1",
        "typedef int8_t kws_input0_t;",
        "int kws_init(void);",
        "int kws_invoke(void);",
        "void *kws_input(int i);",
        "void *kws_output(int i);",
    ):
        assert line in h
    w = p.files["kws_weights.c"]
    # byte arrays are string literals of exactly the data in C, one byte longer in C++ (its terminating zero)
    assert "const int8_t kws_w0[54 + KWS_LITERAL_NUL] KWS_WEIGHTS_SECTION TINYML_ALIGNED(4) KWS_BYTES =" in w
    assert '"\\x' in w and "#define KWS_BYTES __attribute__((nonstring))" in w
    assert "extern const int8_t kws_w0[54 + KWS_LITERAL_NUL];" in p.files["kws_weights.h"]
    assert "#define KWS_LITERAL_NUL 1" in p.files["kws_weights.h"]
    assert "KWS_LAYER_BEGIN(0);" in p.files["kws.c"] and "KWS_LAYER_END(0);" in p.files["kws.c"]
    assert "KWS_ARENA_SECTION" in p.files["kws.c"] and "#define KWS_ARENA_SECTION\n" in h
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
    assert "#define TINYML_DEBUG_CANARIES" in (tmp_path / "m" / "tinyml.c").read_text()
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
            str(plain / "tinyml.c"),
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
    src = (tmp_path / "m" / "tinyml.c").read_text()
    src = src.replace("out0[p * 2 + co] =", "out0[p * 2 + co + 4] =", 1)  # an out-of-bounds bug on purpose
    (tmp_path / "m" / "tinyml.c").write_text(src)
    exe = build_host(tmp_path / "m", tmp_path / "m.exe")
    with pytest.raises(InternalError, match="returned -1"):
        run_host(exe, np.zeros((1, 4, 4, 2), np.int8))


def test_compile_error_is_an_internal_error(tmp_path):
    g = conv_graph(np.random.default_rng(3), h=4, w=4, cin=2, cout=2, k=1)
    write_project(g, tmp_path / "m")
    (tmp_path / "m" / "tinyml.c").write_text("int broken(void) { return }\n")
    with pytest.raises(InternalError, match="failed to compile"):
        build_host(tmp_path / "m", tmp_path / "m.exe")


def test_labels_and_preprocessing_of_a_searched_model(tmp_path):
    """report.json beside a searched model gives NAME_labels (valid C and C++) and the manifest's preprocessing."""
    import json

    from tinyengine_codegen.compile import model_metadata

    g = conv_graph(np.random.default_rng(1), h=1, w=1, cin=2, cout=3, k=1)
    pre = {"layout": "NHWC", "int8": "pixel - 128 (uint8 pixel 0..255)"}
    (tmp_path / "report.json").write_text(json.dumps({"labels": ['cat "a"', "dog?", "é"], "preprocessing": pre}))
    labels, info = model_metadata(tmp_path / "model.tflite", g)
    assert labels == ('cat "a"', "dog?", "é") and info == {"preprocessing": pre}
    write_project(g, tmp_path / "m", prefix="net", labels=labels, info=info)
    man = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert man["labels"] == list(labels) and man["preprocessing"] == pre
    assert "extern const char *const net_labels[NET_LABEL_COUNT];" in (tmp_path / "m" / "net.h").read_text()
    (tmp_path / "main.c").write_text(
        '#include <stdio.h>\n#include "net.h"\nint main(void) {\n'
        '    for (int i = 0; i < NET_LABEL_COUNT; ++i) printf("%s|", NET_LABELS[i]);\n    return 0;\n}\n'
    )
    cc = find_compiler()
    srcs = [str(tmp_path / "main.c"), *map(str, sorted((tmp_path / "m").glob("*.c")))]
    subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", f"-I{tmp_path / 'm'}", *srcs, "-o",
                    str(tmp_path / "a.out"), "-lm"], check=True)  # fmt: skip
    out = subprocess.run([str(tmp_path / "a.out")], capture_output=True).stdout.decode()
    assert out == 'cat "a"|dog?|é|'
    (tmp_path / "other").mkdir()
    assert model_metadata(tmp_path / "other" / "model.tflite", g) == ((), {})  # not a searched model


def test_section_hooks_place_the_arena_and_the_weights(tmp_path):
    """NAME_ARENA_SECTION / NAME_WEIGHTS_SECTION put the arena and every weight array in the named sections."""
    g = conv_graph(np.random.default_rng(2), h=4, w=4, cin=2, cout=3, k=3)
    write_project(g, tmp_path / "m", prefix="net")
    defs = ['-DNET_ARENA_SECTION=__attribute__((section(".fast_ram")))',
            '-DNET_WEIGHTS_SECTION=__attribute__((section(".ext_flash")))']  # fmt: skip
    sizes = {}
    for src in ("net.c", "net_weights.c"):
        obj = tmp_path / f"{src}.o"
        subprocess.run([find_compiler(), "-std=c99", "-Wall", "-Wextra", "-Werror", *defs, f"-I{tmp_path / 'm'}",
                        "-c", str(tmp_path / "m" / src), "-o", str(obj)], check=True)  # fmt: skip
        for line in subprocess.run(["size", "-A", str(obj)], capture_output=True, text=True).stdout.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                sizes[parts[0]] = sizes.get(parts[0], 0) + int(parts[1])
    p = compile_model(g, prefix="net")
    assert sizes.get(".fast_ram", 0) >= p.arena_bytes and sizes.get(".bss", 0) < 16  # the arena left .bss
    assert sizes.get(".ext_flash", 0) >= 54 and sizes.get(".rodata", 0) < 54  # the 3x3x2x3 weights left .rodata
