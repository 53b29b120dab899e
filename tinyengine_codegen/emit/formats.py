"""Packaged outputs of `tinyml compile --format`: the generated library as a CMake static-library folder, an
Arduino library (folder and zip, with a demo sketch) or a PlatformIO project with the library in lib/NAME.

Every format holds the same generated sources (emit.model.generate); only the packaging differs. The demo programs
run the model on an embedded test input (seeded, recorded in the demo) and compare every output with the reference
executor's answer, so a port that miscompiles the model says so.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ..errors import TinyMLError
from .env import render
from .project import write_folder

FORMATS = ("sources", "cmake", "arduino", "platformio")
DEMO_SEED = 2024
_NP = {"int8": np.int8, "uint8": np.uint8, "int16": np.int16, "int32": np.int32, "float32": np.float32}


def demo_io(graph) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A seeded test input per model input and the reference executor's outputs for them."""
    from ..reference.run import run_graph

    rng = np.random.default_rng(DEMO_SEED)
    xs = []
    for name in graph.inputs:
        t = graph.tensor(name)
        dt = np.dtype(_NP[t.dtype])
        if dt.kind == "f":
            xs.append(rng.uniform(-1.0, 1.0, t.shape).astype(dt))
        else:
            info = np.iinfo(dt)
            xs.append(rng.integers(max(info.min, -128), min(info.max, 127) + 1, t.shape).astype(dt))
    return xs, [np.asarray(y) for y in run_graph(graph, xs)]


def _c_bytes(data: bytes) -> str:
    items = [str(b) for b in data] or ["0"]
    return ",\n    ".join(", ".join(items[i : i + 24]) for i in range(0, len(items), 24))


def _blob(a: np.ndarray) -> dict:
    data = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()
    return dict(bytes=len(data), data=_c_bytes(data))


def demo_context(project, graph) -> dict:
    xs, ys = demo_io(graph)
    return dict(
        p=project.prefix,
        P=project.prefix.upper(),
        graph=graph.name.replace("*/", "* /"),
        seed=DEMO_SEED,
        inputs=[dict(bytes=len(x.tobytes()), data=_c_bytes(x.astype(x.dtype.newbyteorder("<")).tobytes())) for x in xs],
        outputs=[
            dict(bytes=len(y.tobytes()), data=_c_bytes(y.astype(y.dtype.newbyteorder("<")).tobytes())) for y in ys
        ],
    )


def cmake_files(project) -> dict[str, str]:
    p = project.prefix
    sources = sorted(n for n in project.files if n.endswith(".c"))
    return {**project.files, "CMakeLists.txt": render("package/CMakeLists.txt.j2", p=p, sources=sources)}


def arduino_files(project, graph) -> dict[str, str | bytes]:
    """The library folder's files (src/, examples/NAME_demo/NAME_demo.ino, library.properties)."""
    p = project.prefix
    files: dict[str, str | bytes] = {f"src/{n}": t for n, t in project.files.items()}
    files["library.properties"] = render("package/library.properties.j2", p=p, graph=graph.name)
    files[f"examples/{p}_demo/{p}_demo.ino"] = render("package/demo.ino.j2", **demo_context(project, graph))
    return files


def zip_folder(files: dict[str, str | bytes], root: str) -> bytes:
    """A zip archive holding `files` under the folder `root`/ (what Arduino's "Add .ZIP Library" expects)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(files):
            info = zipfile.ZipInfo(f"{root}/{name}", date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            data = files[name]
            z.writestr(info, data.encode() if isinstance(data, str) else data, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def platformio_files(project, graph) -> dict[str, str]:
    """A portable PlatformIO project for the host (platform native) with the library in lib/NAME."""
    p = project.prefix
    files = {f"lib/{p}/{n}": t for n, t in project.files.items()}
    lib = {"name": p, "version": "1.0.0", "description": f"generated C library of model '{graph.name}'"}
    lib.update(frameworks="*", platforms="*", build={"srcDir": ".", "includeDir": "."})
    files[f"lib/{p}/library.json"] = json.dumps(lib, indent=2) + "\n"
    files["src/main.c"] = render("package/demo_main.c.j2", **demo_context(project, graph))
    files["platformio.ini"] = render("package/platformio.ini.j2", p=p, graph=graph.name)
    return files


def write_package(graph, out, options, *, fmt: str, prefix: str, force: bool = False, labels=(), info=None):
    """Generate the library of `graph` and write it in format `fmt` (FORMATS) into `out`; returns the project.
    labels, info: see compile.compile_model."""
    from ..compile import compile_model, write_project

    if fmt == "sources":
        return write_project(graph, out, options, force=force, prefix=prefix, labels=labels, info=info)
    if fmt not in FORMATS:
        raise TinyMLError(f"unknown --format '{fmt}'; use one of {', '.join(FORMATS)}")
    if fmt == "platformio" and not options.target.is_host:
        return _platformio_board(graph, out, options, prefix, force, labels, info)
    from .model import check_prefix

    check_prefix(prefix)
    project = compile_model(graph, options, prefix=prefix, labels=labels, info=info)
    if fmt == "cmake":
        files = cmake_files(project)
    elif fmt == "arduino":
        lib = arduino_files(project, graph)
        files = {f"{prefix}/{n}": t for n, t in lib.items()}
        files[f"{prefix}.zip"] = zip_folder(lib, prefix)
    else:
        files = platformio_files(project, graph)
    write_folder(files, out, command="compile", force=force)
    return project


def _platformio_board(graph, out, options, prefix: str, force: bool, labels, info):
    """For a board: the firmware project of `tinyml compile --target BOARD`, with the model in lib/NAME."""
    from ..build.platformio import prepare_project
    from ..compile import write_project

    board = options.target.board
    with tempfile.TemporaryDirectory(prefix="tinyml-pio-") as tmp:
        project = write_project(graph, Path(tmp) / "model", options, prefix=prefix, labels=labels, info=info)
        prepare_project(Path(tmp) / "model", board, out, demo_io(graph)[0], force=force, library=prefix)
    return project
