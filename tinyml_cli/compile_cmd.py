"""`tinyml compile` (write the generated C project) and `tinyml run` (generate, build, run, write the output)."""

from __future__ import annotations

from pathlib import Path

import typer

TARGET_HELP = "host (portable C, host compiler), or a board id: qemu-m4, qemu-m7, nucleo-f746zg, ... (tinyml boards)"
PATCHES_HELP = "patch-based inference of the first stage: off, auto, or N for N x N patches"
PREFIX_HELP = "C name prefix of the library (functions NAME_*, macros NAME_* in upper case, header NAME.h)"
FORMAT_HELP = "sources (loose files), cmake (static library target NAME), arduino (library folder + zip), platformio"


def _options(target: str, inplace: bool, patches: str, debug: bool):
    """The one options object: the board (if any) is read here, once, into its Target."""
    from tinyengine_codegen.options import CompileOptions, PatchRequest, as_target

    request = PatchRequest.parse(patches)  # a bad --patches fails before the board or the model is read
    return CompileOptions(target=as_target(target), inplace=inplace, patches=request, debug_canaries=debug)


def _dump_after(model: Path, opts, name: str) -> None:
    """Print the model plan after pass `name` (the passes run checked, up to and including it)."""
    from tinyengine_codegen.errors import TinyMLError
    from tinyengine_codegen.model_io import load_model
    from tinyengine_codegen.passes import PASS_NAMES, PIPELINE, run_pipeline
    from tinyengine_codegen.passes.dump import plan_text

    if name not in PASS_NAMES:
        raise TinyMLError(f"--dump-after '{name}': not a pass; the passes are {', '.join(PASS_NAMES)}")
    upto = PIPELINE[: PASS_NAMES.index(name) + 1]
    mp = run_pipeline(load_model(model), opts, check=True, passes=upto)
    print(plan_text(mp, name), end="")


def compile_(
    model: Path = typer.Argument(..., help="int8 model (.tflite)"),
    target: str = typer.Option("host", "--target", "-t", help=TARGET_HELP),
    out: Path | None = typer.Option(None, "--out", "-o", help="output folder (written atomically); required"),
    inplace: bool = typer.Option(True, "--inplace/--no-inplace", help="in-place depthwise and ADD"),
    patches: str = typer.Option("auto", "--patches", help=PATCHES_HELP),
    debug: bool = typer.Option(False, "--debug", help="arena canaries checked after every layer"),
    force: bool = typer.Option(False, "--force", help="write into a folder that holds other files (they are kept)"),
    prefix: str = typer.Option("tinyml", "--prefix", help=PREFIX_HELP),
    fmt: str = typer.Option("sources", "--format", help=FORMAT_HELP),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object for scripts"),
    dump_after: str | None = typer.Option(
        None, "--dump-after", help="print the IR after this pass (fold_constants ... plan_patches) and stop"
    ),
) -> None:
    """Generate the C library of a model (sources, CMake, Arduino or PlatformIO library; or, for a board and
    --format sources, a complete PlatformIO firmware project)."""
    from tinyengine_codegen.compile import model_metadata, write_project
    from tinyengine_codegen.emit.formats import FORMATS, write_package
    from tinyengine_codegen.emit.model import check_prefix
    from tinyengine_codegen.emit.project import check_output_folder
    from tinyengine_codegen.errors import TinyMLError
    from tinyengine_codegen.model_io import load_model

    from .console import print_json, say

    check_prefix(prefix)
    if fmt not in FORMATS:
        raise TinyMLError(f"--format '{fmt}': use one of {', '.join(FORMATS)}")
    opts = _options(target, inplace, patches, debug)
    if dump_after is not None:
        return _dump_after(model, opts, dump_after)
    if out is None:
        raise TinyMLError("tinyml compile needs --out FOLDER (or --dump-after PASS to print the IR)")
    check_output_folder(out, "compile", force)
    graph = load_model(model)
    labels, info = model_metadata(model, graph)  # class names and preprocessing of a searched model
    meta = dict(prefix=prefix, labels=labels, info=info)
    if fmt != "sources":
        project = write_package(graph, out, opts, fmt=fmt, force=force, **meta)
    elif opts.target.is_host:
        project = write_project(graph, out, opts, force=force, **meta)
    else:
        project = _write_firmware(graph, out, opts, force, meta)
    summary = {
        "model": str(model),
        "target": target,
        "format": fmt,
        "prefix": prefix,
        "out": str(out),
        "arena_bytes": project.arena_bytes,
        "files": sorted(project.files),
        "kernels": list(project.kernels),
    }
    if as_json:
        print_json(summary)
    else:
        say(
            f"wrote {out}/ ({len(project.files)} files, arena {project.arena_bytes:,} B, "
            f"{len(project.kernels)} layers) for target {target}"
        )


def _write_firmware(graph, out: Path, opts, force: bool, meta: dict):
    """A complete PlatformIO project for a board: the model sources inside the firmware skeleton."""
    import tempfile

    from tinyengine_codegen.build.platformio import prepare_project
    from tinyengine_codegen.compile import write_project

    board = opts.target.board
    with tempfile.TemporaryDirectory(prefix="tinyml-compile-") as tmp:
        project = write_project(graph, Path(tmp) / "model", opts, **meta)
        prepare_project(Path(tmp) / "model", board, out, None, force=force)
    return project


def run(
    model: Path = typer.Argument(..., help="int8 model (.tflite)"),
    target: str = typer.Option("host", "--target", "-t", help=TARGET_HELP),
    input: Path = typer.Option(..., "--input", "-i", help="X.npy (one input) or X.npz (keys: input index or name)"),
    output: Path = typer.Option(..., "--output", "-o", help="Y.npy (one output) or Y.npz (keys: output index)"),
    inplace: bool = typer.Option(True, "--inplace/--no-inplace", help="in-place depthwise and ADD"),
    patches: str = typer.Option("auto", "--patches", help=PATCHES_HELP),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object for scripts"),
    ignore_fit: bool = typer.Option(False, "--ignore-fit", help="run even if the model exceeds the board's SRAM/flash"),
) -> None:
    """Generate, build and run a model on the host or in QEMU; write its output(s) as .npy or .npz."""
    import numpy as np

    from tinyengine_codegen.emit.project import probe_writable
    from tinyengine_codegen.errors import TinyMLError
    from tinyengine_codegen.model_io import load_model
    from tinyengine_codegen.runner import run_model

    from .console import print_json, say

    if output.is_dir():
        raise TinyMLError(f"--output '{output}' is a folder; give a file name such as y.npy")
    probe_writable(output.parent, what=f"--output '{output}'")
    graph = load_model(model)
    n_out = len(graph.outputs)
    if n_out > 1 and output.suffix != ".npz":
        raise TinyMLError(f"the model has {n_out} outputs; give --output a .npz name (arrays keyed 0..{n_out - 1})")
    if output.suffix not in (".npy", ".npz"):
        output = output.with_name(output.name + ".npy")  # what np.save writes
    x = _load_inputs(input)
    res = run_model(graph, x, _options(target, inplace, patches, False), ignore_fit=ignore_fit)
    ys = res.outputs or (res.output,)
    if output.suffix == ".npz":
        _save_array(output, {str(i): y for i, y in enumerate(ys)})
    else:
        _save_array(output, ys[0])
    summary = {
        "model": str(model),
        "target": res.target,
        "output": str(output),
        "outputs": [{"shape": list(y.shape), "dtype": str(y.dtype)} for y in ys],
        "shape": list(ys[0].shape),
        "dtype": str(ys[0].dtype),
        "argmax": int(np.argmax(ys[0])),
        "arena_bytes": res.arena_bytes,
        "instructions": res.instructions,
    }
    if as_json:
        print_json(summary)
    else:
        extra = f", {res.instructions:,} instructions" if res.instructions is not None else ""
        shapes = ", ".join(f"{y.dtype}{list(y.shape)}" for y in ys)
        say(f"ran on {res.target}: output{'s' if len(ys) > 1 else ''} {shapes} -> {output}{extra}")


def _load_inputs(path: Path):
    """An .npy array, or an .npz as a dict of arrays (keyed by input index or tensor name)."""
    import numpy as np

    from tinyengine_codegen.errors import TinyMLError

    if not path.is_file():
        raise TinyMLError(f"input file '{path}' not found")
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.ndarray):
            return data
        with data:
            return {(k[4:] if k.startswith("arr_") else k): data[k] for k in data.files}
    except Exception as exc:
        raise TinyMLError(f"'{path}' is not a .npy or .npz array file ({type(exc).__name__}: {exc})") from None


def _save_array(path: Path, array) -> None:
    """np.save (an array) or np.savez (a dict) through a temporary sibling and a rename: an interrupt leaves no
    half-written file."""
    import os
    import tempfile

    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(array, dict):
                np.savez(f, **array)
            else:
                np.save(f, array)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _umask() -> int:
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    return mask
