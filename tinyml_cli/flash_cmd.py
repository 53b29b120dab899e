"""`tinyml flash MODEL --board BOARD`: generate and build the firmware (validation firmware: boot banner, self-test,
protocol), then upload it to a real board; --dry-run only builds (no probe needed) and reports the image."""

from __future__ import annotations

from pathlib import Path

import typer

PROTOCOL_HELP = "upload protocol: stlink, jlink, cmsis-dap, picotool or sam-ba (default: the board file's)"


def _monitor(board, port: str | None, seconds: float) -> None:
    """Print the board's console (text) until Ctrl-C or `seconds` (0: until Ctrl-C)."""
    import sys
    import time

    from tinyengine_codegen.run.flash import serial_port
    from tinyengine_codegen.run.serial_link import SerialLink

    from .console import say

    link = SerialLink(port or serial_port(board), board.console.baud if board.console else 115200)
    say(f"console of {board.id} on {link.name} (Ctrl-C ends)")
    end = time.monotonic() + seconds if seconds > 0 else float("inf")
    try:
        while time.monotonic() < end:
            data = link.read(0.2)
            if data:  # protocol frames are binary: show only the text
                text = bytes(b for b in data if b in (9, 10, 13) or 32 <= b < 127).decode("ascii")
                sys.stdout.write(text.replace("\r\n", "\n"))
                sys.stdout.flush()
    except KeyboardInterrupt:
        pass
    finally:
        link.close()


def flash(
    model: Path = typer.Argument(..., help="int8 model (.tflite)"),
    board: str = typer.Option(..., "--board", "-b", help="board id (tinyml boards)"),
    project: Path = typer.Option(None, "--project", help="keep the PlatformIO project in this folder"),
    input: Path = typer.Option(
        None,
        "--input",
        "-i",
        help="self-test input embedded in the firmware (.npy, or .npz keyed by input index or name)",
    ),
    protocol: str = typer.Option(None, "--protocol", help=PROTOCOL_HELP),
    port: str = typer.Option(None, "--port", "-p", help="serial port of the board's console (for --monitor)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="build only: no probe needed; report the image"),
    monitor: bool = typer.Option(False, "--monitor", help="show the board's console after flashing"),
    monitor_seconds: float = typer.Option(0, "--monitor-seconds", help="stop the monitor after this many seconds"),
    official: bool = typer.Option(
        False, "--official", help="build and upload with the official PlatformIO platform (needs internet)"
    ),
    patches: str = typer.Option("auto", "--patches", help="off, auto or N (N x N patches)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object for scripts"),
) -> None:
    """Build the firmware for BOARD and upload it; fails clearly when no probe or port is attached."""
    import tempfile

    from tinyengine_codegen.boards import load_board
    from tinyengine_codegen.build.platformio import build, prepare_project
    from tinyengine_codegen.compile import write_project
    from tinyengine_codegen.errors import TinyMLError
    from tinyengine_codegen.model_io import load_model
    from tinyengine_codegen.options import CompileOptions
    from tinyengine_codegen.run.flash import flash as upload
    from tinyengine_codegen.runner import check_inputs

    from .console import print_json, say

    b = load_board(board)
    if b.is_virtual:
        raise TinyMLError(f"'{b.id}' is a virtual board: use `tinyml validate MODEL --board {b.id}` to run it in QEMU")
    graph = load_model(model)
    x = check_inputs(graph, _arrays(input)) if input else None
    keep = project is not None or dry_run
    tmp = tempfile.TemporaryDirectory(prefix="tinyml-flash-")
    root = Path(project) if project is not None else Path(tmp.name)
    if dry_run and project is None:  # keep the ELF the report names
        root = Path(tempfile.mkdtemp(prefix=f"tinyml-{b.id}-"))
    try:
        write_project(graph, Path(tmp.name) / "model", CompileOptions(target=b, patches=patches))
        proj = prepare_project(Path(tmp.name) / "model", b, root if keep else root / "fw", x)
        built = build(proj, b, official=official)
        report = {
            "board": b.id,
            "elf": str(built.elf_path),
            "text_bytes": built.text_bytes,
            "data_bytes": built.data_bytes,
            "bss_bytes": built.bss_bytes,
            "clock_hz": b.clock_mhz * 1_000_000,
            "console": str(b.console) if b.console else None,
            "upload_protocol": protocol or b.upload_protocol,
            "flashed": False,
        }
        summary = (
            f"built {built.elf_path}: text {built.text_bytes:,} B, data {built.data_bytes:,} B, bss "
            f"{built.bss_bytes:,} B; clock {b.clock_mhz} MHz, console {report['console']}"
        )
        if not dry_run:
            say(summary)
            probe = upload(proj, b, protocol=protocol, official=official)
            report["flashed"] = True
            say(f"flashed {model.name} to {b.name} through {probe.label}")
    finally:
        tmp.cleanup()
    if as_json:
        print_json(report)
    elif dry_run:
        say(summary)
    if monitor and not dry_run:
        _monitor(b, port, monitor_seconds)


def _arrays(path: Path):
    """An .npy array (one-input models) or an .npz (arrays keyed by input index or tensor name)."""
    import numpy as np

    data = np.load(path, allow_pickle=False)
    if isinstance(data, np.ndarray):
        return data
    with data:
        return {(k[4:] if k.startswith("arr_") else k): data[k] for k in data.files}
