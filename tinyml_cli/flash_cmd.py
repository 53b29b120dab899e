"""`tinyml flash MODEL --board BOARD`: generate, build with PlatformIO and upload to a real board."""

from __future__ import annotations

from pathlib import Path

import typer


def flash(
    model: Path = typer.Argument(..., help="int8 model (.tflite)"),
    board: str = typer.Option(..., "--board", "-b", help="board id (tinyml boards)"),
    project: Path = typer.Option(None, "--project", help="keep the PlatformIO project in this folder"),
    input: Path = typer.Option(None, "--input", "-i", help="test input (.npy) embedded in the firmware"),
    official: bool = typer.Option(
        False,
        "--official",
        help="build with the official PlatformIO platform (needs internet) instead of the bundled offline one",
    ),
    patches: str = typer.Option("auto", "--patches", help="off, auto or N (N x N patches)"),
) -> None:
    """Build the firmware for BOARD and upload it; fails clearly when no probe or port is attached."""
    import tempfile

    import numpy as np

    from tinyengine_codegen.boards import load_board
    from tinyengine_codegen.build.platformio import build, prepare_project
    from tinyengine_codegen.compile import write_project
    from tinyengine_codegen.errors import TinyMLError
    from tinyengine_codegen.model_io import load_model
    from tinyengine_codegen.options import CompileOptions
    from tinyengine_codegen.run.flash import check_probe
    from tinyengine_codegen.run.flash import flash as upload
    from tinyengine_codegen.runner import check_input

    from .console import err, say

    b = load_board(board)
    if b.is_virtual:
        raise TinyMLError(f"'{b.id}' is a virtual board: use `tinyml run MODEL --target {b.id}` to run it in QEMU")
    probe = check_probe(b)  # fail before any build work when nothing is attached
    graph = load_model(model)
    x = check_input(graph, np.load(input, allow_pickle=False)) if input else None
    with tempfile.TemporaryDirectory(prefix="tinyml-flash-") as tmp:
        write_project(graph, Path(tmp) / "model", CompileOptions(target=b.id, patches=patches))
        proj = prepare_project(Path(tmp) / "model", b, project or Path(tmp) / "fw", x, official=official)
        built = build(proj, b)
        err.print(
            f"built {built.elf_path.name}: text {built.text_bytes:,} B, data {built.data_bytes:,} B, "
            f"bss {built.bss_bytes:,} B; uploading through {probe.label}"
        )
        upload(proj, b)
    say(f"flashed {model.name} to {b.name}")
