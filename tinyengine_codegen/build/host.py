"""Build generated C with the host compiler (C99, -O2 -Wall -Wextra -Werror, sanitizers on request) and run it.

The executable wraps one or more generated project folders (each with its own symbol prefix) in a small driver
(templates/model/host_main.c.j2) that reads a batch of input records from a file and writes the outputs, so one
build serves many inputs and, for tests, many models.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..emit.env import render
from ..errors import InternalError, TinyMLError

C_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror")
# TINYML_ARENA_MALLOC: the generated model puts its arena in a heap block of exactly the planned size, so
# AddressSanitizer reports any access past it (docs/c_api.md).
SANITIZE_FLAGS = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g", "-DTINYML_ARENA_MALLOC")
_NP = {"int8": np.int8, "uint8": np.uint8, "int16": np.int16, "int32": np.int32, "float32": np.float32}


def find_compiler() -> str:
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return cc
    raise TinyMLError("no host C compiler found (tried $CC, cc, gcc, clang); install gcc, e.g. apt-get install gcc")


def _manifest(model_dir: Path) -> dict:
    path = model_dir / "manifest.json"
    if not path.is_file():
        raise TinyMLError(f"'{model_dir}' is not a generated model folder (no manifest.json); run tinyml compile")
    return json.loads(path.read_text())


def _shape_text(shape) -> str:
    return ",".join(map(str, shape)) or "-"


def _driver(model_dirs: Sequence[Path]) -> str:
    models = []
    for d in model_dirs:
        m = _manifest(d)
        rows = [f"input {t['dtype']} {_shape_text(t['shape'])}" for t in m["inputs"]]
        rows += [f"output {t['dtype']} {_shape_text(t['shape'])}" for t in m["outputs"]]
        header = (d / f"{m['prefix']}.h").resolve()
        models.append(dict(p=m["prefix"], P=m["prefix"].upper(), header=str(header), rows=rows))
    return render("model/host_main.c.j2", models=models)


def _compile(cc: str, flags: Sequence[str], src: Path, obj: Path) -> None:
    proc = subprocess.run([cc, *flags, "-c", str(src), "-o", str(obj)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise InternalError(f"generated C failed to compile ({src}):\n{proc.stderr[-4000:]}")


def build_host_many(
    model_dirs: Sequence[str | Path], out_exe: str | Path, *, sanitize: bool = False, opt: str = "-O2", jobs: int = 2
) -> Path:
    """One executable driving every model folder in `model_dirs` (model K = the K-th folder)."""
    dirs = [Path(d) for d in model_dirs]
    out_exe = Path(out_exe)
    cc = find_compiler()
    flags = [*C_FLAGS, opt, *(SANITIZE_FLAGS if sanitize else ())]
    with tempfile.TemporaryDirectory(prefix="tinyml-build-") as tmp:
        work = Path(tmp)
        main = work / "host_main.c"
        main.write_text(_driver(dirs))
        jobs_list = [(main, work / "main.o")]
        for k, d in enumerate(dirs):
            jobs_list += [(src, work / f"m{k}_{src.stem}.o") for src in sorted(d.glob("*.c"))]
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            list(pool.map(lambda job: _compile(cc, flags, *job), jobs_list))
        link = [cc, *flags, *(str(o) for _, o in jobs_list), "-o", str(out_exe), "-lm"]
        proc = subprocess.run(link, capture_output=True, text=True)
        if proc.returncode != 0:
            raise InternalError(f"linking the generated C failed:\n{proc.stderr[-4000:]}")
    return out_exe


def build_host(model_dir: str | Path, out_exe: str | Path, *, sanitize: bool = False, opt: str = "-O2") -> Path:
    """Build one generated model folder into a host executable (see the module docstring)."""
    return build_host_many([model_dir], out_exe, sanitize=sanitize, opt=opt)


IoInfo = tuple[tuple[str, tuple[int, ...]], ...]


def exe_info(exe: str | Path, model: int = 0) -> tuple[IoInfo, IoInfo]:
    """((dtype, shape) of every input, (dtype, shape) of every output) of model K of a host executable."""
    proc = subprocess.run([str(exe), "info", str(model)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise InternalError(f"'{exe} info {model}' failed: {proc.stderr.strip()}")
    rows = [line.split() for line in proc.stdout.splitlines() if line.strip()]

    def shape(text: str) -> tuple[int, ...]:
        return () if text == "-" else tuple(int(v) for v in text.split(","))

    ins = tuple((r[1], shape(r[2])) for r in rows if r[0] == "input")
    outs = tuple((r[1], shape(r[2])) for r in rows if r[0] == "output")
    return ins, outs


def run_host(exe: str | Path, x, *, model: int = 0, timeout: float = 600):
    """Run the executable. `x`: one array (a one-input model: one record, or a batch with a leading axis) or a
    list with one array per input (each one record or the same batch). Returns the output array (batched like x)
    for a one-output model called with an array, else the list of output arrays."""
    ins, outs = exe_info(exe, model)
    xs = list(x) if isinstance(x, (list, tuple)) else [x]
    if len(xs) != len(ins):
        raise TinyMLError(f"{len(xs)} input arrays given; the model has {len(ins)} inputs")
    batches, single = [], []
    for i, (arr, (dtype, shape)) in enumerate(zip(xs, ins)):
        arr = np.asarray(arr)
        if arr.dtype != np.dtype(_NP[dtype]):
            raise TinyMLError(f"input {i} has dtype {arr.dtype}; the model takes {dtype}")
        per = max(1, int(np.prod(shape)))
        if arr.size % per or arr.size == 0:
            raise TinyMLError(f"input {i} of shape {arr.shape} does not split into {shape} records")
        single.append(arr.shape == shape)
        batches.append(np.ascontiguousarray(arr).reshape((-1,) + shape))
    n = len(batches[0])
    if any(len(b) != n for b in batches):
        raise TinyMLError(f"the inputs hold different numbers of records: {[len(b) for b in batches]}")
    records = b"".join(b[r].tobytes() for r in range(n) for b in batches)
    with tempfile.TemporaryDirectory(prefix="tinyml-run-") as tmp:
        fin, fout = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        fin.write_bytes(records)
        proc = subprocess.run(
            [str(exe), "run", str(model), str(fin), str(fout)], capture_output=True, text=True, timeout=timeout
        )
        if proc.returncode != 0:
            raise InternalError(f"'{exe}' exited with {proc.returncode}: {proc.stderr.strip()[-2000:]}")
        data = fout.read_bytes()
    ys = _split_records(data, outs, n)
    one = all(single)
    ys = [y[0] if one else y for y in ys]
    return ys[0] if len(ys) == 1 and not isinstance(x, (list, tuple)) else ys


def _split_records(data: bytes, outs: IoInfo, n: int) -> list[np.ndarray]:
    dts = [np.dtype(_NP[d]) for d, _ in outs]
    sizes = [int(np.prod(s)) * dt.itemsize for (_, s), dt in zip(outs, dts)]
    if len(data) != n * sum(sizes):
        raise InternalError(f"the driver wrote {len(data)} output bytes, expected {n} x {sum(sizes)}")
    rec = np.frombuffer(data, np.uint8).reshape(n, sum(sizes))
    ys, at = [], 0
    for (_, shape), dt, size in zip(outs, dts, sizes):
        ys.append(np.ascontiguousarray(rec[:, at : at + size]).view(dt).reshape((n,) + shape))
        at += size
    return ys
