"""Packaged outputs (--format cmake, arduino, platformio): layout, portability, and the packaged library built and
run (CMake with add_subdirectory, the Arduino demo sketch against a host stand-in for Serial, the PlatformIO demo),
checked against the reference executor."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tinyengine_codegen.emit.formats import demo_io, write_package
from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.options import CompileOptions

from ..kernels.graphs import conv_graph

GRAPH = conv_graph(np.random.default_rng(5), h=5, w=5, cin=3, cout=4, k=3)
needs_cmake = pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake missing (tinyml setup installs it)")
needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ missing (tinyml setup installs it)")

ARDUINO_STUB = """#include <stdio.h>
#define HEX 16
struct SerialStub {
    void begin(long) {}
    explicit operator bool() const { return true; }
    void print(const char *s) { fputs(s, stdout); }
    void print(char c) { putchar(c); }
    void print(long v) { printf("%ld", v); }
    void print(int v) { printf("%d", v); }
    void print(unsigned long v) { printf("%lu", v); }
    void print(unsigned v, int base) { printf(base == HEX ? "%X" : "%u", v); }
    void println() { putchar('\\n'); }
    void println(const char *s) { puts(s); }
};
static SerialStub Serial;
static unsigned long micros() { return 0; }
#include "SKETCH"
int main() { setup(); return 0; }
"""


def _expected_hex(graph) -> str:
    _, ys = demo_io(graph)
    return " ".join(f"{b:02x}" for b in ys[0].tobytes())


def _c_objects(srcs, incs, work: Path) -> list[str]:
    objs = []
    for s in srcs:
        o = work / (s.stem + ".o")
        subprocess.run(["gcc", "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", *incs, "-c", str(s), "-o", str(o)],
                       check=True)  # fmt: skip
        objs.append(str(o))
    return objs


@needs_cmake
def test_cmake_format_is_a_static_library_target(tmp_path):
    write_package(GRAPH, tmp_path / "lib", CompileOptions(), fmt="cmake", prefix="net")
    text = (tmp_path / "lib" / "CMakeLists.txt").read_text()
    assert "add_library(net STATIC" in text and str(tmp_path) not in text
    (tmp_path / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\nproject(t C)\nadd_subdirectory(lib)\n"
        "add_executable(demo demo.c)\ntarget_link_libraries(demo PRIVATE net)\n"
    )
    demo = (tmp_path / "lib" / "net.h").read_text()  # the demo program of the platformio format serves here too
    assert "void *net_input(int i);" in demo
    write_package(GRAPH, tmp_path / "pio", CompileOptions(), fmt="platformio", prefix="net")
    shutil.copy(tmp_path / "pio" / "src" / "main.c", tmp_path / "demo.c")
    build = tmp_path / "build"
    subprocess.run(["cmake", "-S", str(tmp_path), "-B", str(build)], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True)
    assert list(build.rglob("libnet.a"))
    proc = subprocess.run([str(next(build.rglob("demo")))], capture_output=True, text=True)
    assert proc.returncode == 0 and "matches the reference: yes" in proc.stdout, proc.stdout


@needs_gxx
def test_arduino_library_layout_zip_and_demo_sketch(tmp_path):
    write_package(GRAPH, tmp_path / "out", CompileOptions(), fmt="arduino", prefix="kws")
    lib = tmp_path / "out" / "kws"
    props = dict(line.split("=", 1) for line in (lib / "library.properties").read_text().splitlines())
    assert props["name"] == "kws" and props["includes"] == "kws.h" and props["architectures"] == "*"
    sketch = lib / "examples" / "kws_demo" / "kws_demo.ino"
    assert {"kws.h", "kws.c", "kws_weights.c", "tinyml_runtime.h"} <= {p.name for p in (lib / "src").iterdir()}
    names = zipfile.ZipFile(io.BytesIO((tmp_path / "out" / "kws.zip").read_bytes())).namelist()
    assert "kws/library.properties" in names and "kws/examples/kws_demo/kws_demo.ino" in names
    assert "kws/src/kws.c" in names and not any(n.startswith("/") for n in names)
    (tmp_path / "sketch.cpp").write_text(ARDUINO_STUB.replace("SKETCH", str(sketch)))
    inc = [f"-I{lib / 'src'}"]
    objs = _c_objects(sorted((lib / "src").glob("*.c")), inc, tmp_path)
    exe = tmp_path / "sketch"
    subprocess.run(["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", *inc, str(tmp_path / "sketch.cpp"), *objs,
                    "-o", str(exe), "-lm"], check=True)  # fmt: skip
    out = subprocess.run([str(exe)], capture_output=True, text=True).stdout
    assert "matches the reference: yes" in out, out
    printed = out.split("output 0:")[1].splitlines()[0].split()
    assert " ".join(f"{int(v, 16):02x}" for v in printed) == _expected_hex(GRAPH)


def test_platformio_host_project_is_portable_and_its_demo_runs(tmp_path):
    write_package(GRAPH, tmp_path / "p", CompileOptions(), fmt="platformio", prefix="net")
    proj = tmp_path / "p"
    ini = (proj / "platformio.ini").read_text()
    assert "platform = native" in ini
    for f in proj.rglob("*"):
        if f.is_file() and f.suffix in (".ini", ".json", ".c", ".h"):
            assert str(tmp_path) not in f.read_text(), f
    lib = proj / "lib" / "net"
    assert (lib / "library.json").is_file() and (lib / "net.h").is_file()
    objs = _c_objects([*sorted(lib.glob("*.c")), proj / "src" / "main.c"], [f"-I{lib}"], tmp_path)
    subprocess.run(["gcc", *objs, "-o", str(tmp_path / "demo"), "-lm"], check=True)
    proc = subprocess.run([str(tmp_path / "demo")], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.split("output 0: ")[1].split("\n")[0] == _expected_hex(GRAPH)


def test_unknown_format_and_bad_prefix_are_user_errors(tmp_path):
    with pytest.raises(TinyMLError, match="unknown --format 'zip'"):
        write_package(GRAPH, tmp_path / "x", CompileOptions(), fmt="zip", prefix="net")
    with pytest.raises(TinyMLError, match="not a C identifier"):
        write_package(GRAPH, tmp_path / "x", CompileOptions(), fmt="cmake", prefix="9net")
    assert not (tmp_path / "x").exists()


def test_docs_examples_build_against_generated_libraries(tmp_path):
    """docs/examples: two prefixed models in one program (built and run), the DWT timing example (compiled)."""
    from tinyengine_codegen.compile import write_project

    examples = Path(__file__).resolve().parents[3] / "docs" / "examples"
    kws = conv_graph(np.random.default_rng(1), h=4, w=4, cin=2, cout=6, k=3)
    ad = conv_graph(np.random.default_rng(2), h=3, w=3, cin=4, cout=2, k=1)
    write_project(kws, tmp_path / "kws", prefix="kws")
    write_project(ad, tmp_path / "ad", prefix="ad")
    inc = [f"-I{tmp_path / 'kws'}", f"-I{tmp_path / 'ad'}"]
    srcs = [examples / "two_models.c", *sorted((tmp_path / "kws").glob("*.c")), *sorted((tmp_path / "ad").glob("*.c"))]
    objs = _c_objects(srcs, inc, tmp_path)
    subprocess.run(["gcc", *objs, "-o", str(tmp_path / "two"), "-lm"], check=True)
    out = subprocess.run([str(tmp_path / "two")], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("kws: class "), out.stdout
    hooks = tmp_path / "kws_hooks.h"
    text = (examples / "dwt_timing.c").read_text()
    hooks.write_text("\n".join(line.strip()[2:] for line in text.split("kws_hooks.h:")[1].split("*/")[0].splitlines()))
    for src, extra in ((examples / "dwt_timing.c", []), (tmp_path / "kws" / "kws.c", ["-include", str(hooks)])):
        subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", *inc, *extra, "-c", str(src), "-o",
                        str(tmp_path / "t.o")], check=True)  # fmt: skip
        syms = subprocess.run(["nm", str(tmp_path / "t.o")], capture_output=True, text=True).stdout
        assert "kws_layer_cycles" in syms  # the per-prefix hooks are the ones used
