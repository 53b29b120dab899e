"""`tinyml bench MODEL --board qemu-m4 [--patches off|auto|N] [--json]`: exact instructions per inference and per
layer in QEMU, code size and peak SRAM."""

from __future__ import annotations

from pathlib import Path

import typer


def bench(
    model: Path = typer.Argument(..., help="int8 model (.tflite)"),
    board: str = typer.Option("qemu-m4", "--board", "-b", help="virtual board: qemu-m4 or qemu-m7"),
    patches: str = typer.Option(
        "off", "--patches", help="patch-based inference: off, auto or a patch count N (N x N patches)"
    ),
    top: int = typer.Option(8, "--top", help="slowest layers to list"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object for scripts"),
) -> None:
    """Build the model for a virtual board, run it in QEMU and report exact instruction counts and sizes."""
    from rich.table import Table

    from tinyengine_codegen.model_io import load_model
    from tinyengine_codegen.run.measure import bench_model

    from .console import err, out, print_json

    result = bench_model(load_model(model), board, patches=patches)
    if as_json:
        print_json(result.to_json())
        return
    err.print(
        f"{model.name} on {board}: {result.instructions:,} instructions, {result.macs:,} MACs "
        f"({result.instructions_per_mac:.2f} instr/MAC); text {result.text_bytes:,} B, data "
        f"{result.data_bytes:,} B, bss {result.bss_bytes:,} B, peak SRAM {result.peak_sram_bytes:,} B; "
        f"output {'matches' if result.output_matches_reference else 'DIFFERS FROM'} the reference"
    )
    table = Table("#", "layer", "op", "kernel", "instructions", "instr/MAC", title="slowest layers")
    for layer in sorted(result.layers, key=lambda row: -row.instructions)[:top]:
        ipm = f"{layer.instructions / layer.macs:.2f}" if layer.macs else "-"
        table.add_row(str(layer.index), layer.name[:40], layer.op, layer.kernel, f"{layer.instructions:,}", ipm)
    out.print(table)
    if not result.output_matches_reference:
        raise typer.Exit(1)
