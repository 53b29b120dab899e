"""`tinyml setup` (install the Arm toolchain, QEMU, offline PlatformIO pieces, the QEMU plugin) and `tinyml demo`."""

from __future__ import annotations

from pathlib import Path

import typer


def setup(
    apt: bool = typer.Option(True, "--apt/--no-apt", help="install missing Debian packages with apt-get"),
    pip: bool = typer.Option(True, "--pip/--no-pip", help="install missing pip packages"),
) -> None:
    """Install and prepare everything the Cortex-M path needs (idempotent)."""
    from tinyengine_codegen.build.setup_tools import setup_tools

    from .console import err

    paths = setup_tools(apt=apt, pip=pip)
    err.print(f"ready: PlatformIO core {paths.core_dir}, QEMU plugin {paths.plugin}")


def demo(
    board: str = typer.Option("qemu-m4", "--board", help="board to search and run for (a virtual one runs in QEMU)"),
    out: Path = typer.Option(Path("runs/demo"), "--out", help="run folder"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object for scripts"),
) -> None:
    """Quick TinyNAS search on the bundled digits data, compile the winner, run it on the virtual board, check it."""
    from tinynas.demo import run_demo

    from .console import err, event_progress, print_json

    with event_progress() as on_event:
        result = run_demo(board, out, progress=on_event)
    if as_json:
        print_json(result)
        return
    err.print(
        f"[bold green]demo ok[/]: int8 accuracy {result['accuracy']:.1%}, peak SRAM {result['peak_sram_bytes']:,} B, "
        f"flash {result['flash_bytes']:,} B, {result.get('instructions') or 0:,} instructions per inference "
        f"on {board}, bit-exact with TFLM: {result['bit_exact']}"
    )
