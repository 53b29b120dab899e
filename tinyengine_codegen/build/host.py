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
_NP = {"int8": np.int8, "float32": np.float32, "int32": np.int32}


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


def _driver(model_dirs: Sequence[Path]) -> str:
    models = []
    for d in model_dirs:
        m = _manifest(d)
        models.append(
            dict(
                p=m["prefix"],
                P=m["prefix"].upper(),
                header=str((d / "model.h").resolve()),
                in_dtype=m["input"]["dtype"],
                in_shape=",".join(map(str, m["input"]["shape"])),
                out_dtype=m["output"]["dtype"],
                out_shape=",".join(map(str, m["output"]["shape"])),
            )
        )
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
            jobs_list += [(d / "model.c", work / f"m{k}_model.o"), (d / "weights.c", work / f"m{k}_weights.o")]
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


def exe_info(exe: str | Path, model: int = 0) -> tuple[tuple[str, tuple[int, ...]], tuple[str, tuple[int, ...]]]:
    """((input dtype, shape), (output dtype, shape)) of model K of a host executable."""
    proc = subprocess.run([str(exe), "info", str(model)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise InternalError(f"'{exe} info {model}' failed: {proc.stderr.strip()}")
    rows = [line.split() for line in proc.stdout.splitlines()]
    return tuple((r[1], tuple(int(v) for v in r[2].split(","))) for r in rows)  # type: ignore[return-value]


def run_host(exe: str | Path, x: np.ndarray, *, model: int = 0, timeout: float = 600) -> np.ndarray:
    """Run the executable on `x` (one input, or a batch with a leading axis); outputs with the same batching."""
    (in_dtype, in_shape), (out_dtype, out_shape) = exe_info(exe, model)
    x = np.asarray(x)
    if x.dtype != np.dtype(_NP[in_dtype]):
        raise TinyMLError(f"input has dtype {x.dtype}; the model takes {in_dtype}")
    single = x.shape == in_shape
    batch = x.reshape((-1,) + in_shape) if x.size % max(1, int(np.prod(in_shape))) == 0 else None
    if batch is None or (not single and x.shape[1:] != in_shape and x.size != batch.size):
        raise TinyMLError(f"input of shape {x.shape} does not split into {in_shape} records")
    with tempfile.TemporaryDirectory(prefix="tinyml-run-") as tmp:
        fin, fout = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        fin.write_bytes(np.ascontiguousarray(batch).tobytes())
        proc = subprocess.run(
            [str(exe), "run", str(model), str(fin), str(fout)], capture_output=True, text=True, timeout=timeout
        )
        if proc.returncode != 0:
            raise InternalError(f"'{exe}' exited with {proc.returncode}: {proc.stderr.strip()[-2000:]}")
        y = np.frombuffer(fout.read_bytes(), dtype=_NP[out_dtype]).reshape((len(batch),) + out_shape)
    return y[0] if single else y
