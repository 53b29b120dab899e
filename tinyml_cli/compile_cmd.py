"""`tinyml compile` (write the generated C project) and `tinyml run` (generate, build, run, write the output)."""

from __future__ import annotations

from pathlib import Path

import typer

TARGET_HELP = "host (portable C, host compiler), or a board id: qemu-m4, qemu-m7, nucleo-f746zg, ... (tinyml boards)"
PATCHES_HELP = "patch-based inference of the first stage: off, auto, or N for N x N patches"


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
    as_json: bool = typer.Option(False, "--json", help="print one JSON object for scripts"),
    dump_after: str | None = typer.Option(
        None, "--dump-after", help="print the IR after this pass (fold_constants ... plan_patches) and stop"
    ),
) -> None:
    """Generate the C project of a model (host C sources, or a PlatformIO project for a board)."""
    from tinyengine_codegen.compile import write_project
    from tinyengine_codegen.emit.project import check_output_folder
    from tinyengine_codegen.errors import TinyMLError
    from tinyengine_codegen.model_io import load_model

    from .console import print_json, say

    opts = _options(target, inplace, patches, debug)
    if dump_after is not None:
        return _dump_after(model, opts, dump_after)
    if out is None:
        raise TinyMLError("tinyml compile needs --out FOLDER (or --dump-after PASS to print the IR)")
    check_output_folder(out, "compile", force)
    graph = load_model(model)
    if opts.target.is_host:
        project = write_project(graph, out, opts, force=force)
    else:
        project = _write_firmware(graph, out, opts, force)
    summary = {
        "model": str(model),
        "target": target,
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


def _write_firmware(graph, out: Path, opts, force: bool):
    """A complete PlatformIO project for a board: the model sources inside the firmware skeleton."""
    import tempfile

    from tinyengine_codegen.build.platformio import prepare_project
    from tinyengine_codegen.compile import write_project

    board = opts.target.board
    with tempfile.TemporaryDirectory(prefix="tinyml-compile-") as tmp:
        project = write_project(graph, Path(tmp) / "model", opts)
        prepare_project(Path(tmp) / "model", board, out, None, force=force)
    return project


def run(
    model: Path = typer.Argument(..., help="int8 model (.tflite)"),
    target: str = typer.Option("host", "--target", "-t", help=TARGET_HELP),
    input: Path = typer.Option(..., "--input", "-i", help="input tensor (.npy)"),
    output: Path = typer.Option(..., "--output", "-o", help="where to write the output tensor (.npy)"),
    inplace: bool = typer.Option(True, "--inplace/--no-inplace", help="in-place depthwise and ADD"),
    patches: str = typer.Option("auto", "--patches", help=PATCHES_HELP),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object for scripts"),
    ignore_fit: bool = typer.Option(False, "--ignore-fit", help="run even if the model exceeds the board's SRAM/flash"),
) -> None:
    """Generate, build and run a model on the host or in QEMU; write its output as .npy."""
    import numpy as np

    from tinyengine_codegen.emit.project import probe_writable
    from tinyengine_codegen.errors import TinyMLError
    from tinyengine_codegen.model_io import load_model
    from tinyengine_codegen.runner import run_model

    from .console import print_json, say

    output = output if output.suffix == ".npy" else output.with_name(output.name + ".npy")  # what np.save writes
    if output.is_dir():
        raise TinyMLError(f"--output '{output}' is a folder; give a file name such as y.npy")
    probe_writable(output.parent, what=f"--output '{output}'")
    graph = load_model(model)
    if not input.is_file():
        raise TinyMLError(f"input file '{input}' not found")
    try:
        x = np.load(input, allow_pickle=False)
    except Exception as exc:
        raise TinyMLError(f"'{input}' is not a .npy array ({type(exc).__name__}: {exc})") from None
    res = run_model(graph, x, _options(target, inplace, patches, False), ignore_fit=ignore_fit)
    _save_npy(output, res.output)
    summary = {
        "model": str(model),
        "target": res.target,
        "output": str(output),
        "shape": list(res.output.shape),
        "dtype": str(res.output.dtype),
        "argmax": int(np.argmax(res.output)),
        "arena_bytes": res.arena_bytes,
        "instructions": res.instructions,
    }
    if as_json:
        print_json(summary)
    else:
        extra = f", {res.instructions:,} instructions" if res.instructions is not None else ""
        say(f"ran on {res.target}: output {res.output.dtype}{list(res.output.shape)} -> {output}{extra}")


def _save_npy(path: Path, array) -> None:
    """np.save through a temporary sibling and a rename: an interrupt leaves no half-written file."""
    import os
    import tempfile

    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
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
