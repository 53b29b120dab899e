"""`tinyml boards`: the known boards (built-in files and the user's own)."""

from __future__ import annotations

from pathlib import Path

import typer


def boards(
    boards_dir: Path = typer.Option(
        None,
        "--boards-dir",
        envvar="TINYML_BOARDS_DIR",
        help="extra folder of board .toml files (env TINYML_BOARDS_DIR)",
    ),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object for scripts"),
) -> None:
    """List the boards a model can be compiled, simulated or flashed for."""
    from tinyengine_codegen.boards import list_boards

    from .console import out, print_json

    rows = list_boards(boards_dir)
    if as_json:
        print_json(
            {
                "boards": [
                    {
                        "id": b.id,
                        "name": b.name,
                        "mcu": b.mcu,
                        "core": b.core,
                        "dsp": b.dsp,
                        "clock_mhz": b.clock_mhz,
                        "sram_bytes": b.sram_bytes,
                        "flash_bytes": b.flash_bytes,
                        "platformio_board": b.platformio_board,
                        "upload_protocol": b.upload_protocol,
                        "qemu_machine": b.qemu_machine,
                        "console": str(b.console) if b.console else None,
                        "file": str(b.source) if b.source else None,
                    }
                    for b in rows
                ]
            }
        )
        return
    from rich.table import Table

    table = Table(title="boards (model budget: SRAM and flash left for the model)")
    for col in ("id", "name", "core", "DSP", "MHz", "SRAM", "flash", "runs in"):
        table.add_column(col, justify="right" if col in ("MHz", "SRAM", "flash") else "left")
    for b in rows:
        table.add_row(
            b.id,
            b.name,
            b.core,
            "yes" if b.dsp else "no",
            str(b.clock_mhz),
            f"{b.sram_bytes // 1024} KiB",
            f"{b.flash_bytes // 1024} KiB",
            f"QEMU {b.qemu_machine}" if b.qemu_machine else b.upload_protocol,
        )
    out.print(table)
