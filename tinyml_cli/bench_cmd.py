"""`tinyml bench MODEL --board qemu-m4 [--patches off|auto|N] [--json]`: exact instructions and estimated cycles
(docs/cycle_model.md) per inference and per layer in QEMU, deployable flash, code size and peak SRAM."""

from __future__ import annotations

from pathlib import Path

import typer


def bench(
    model: Path = typer.Argument(..., help="int8 model (.tflite)"),
    board: str = typer.Option("qemu-m4", "--board", "-b", help="virtual board: qemu-m4 or qemu-m7"),
    patches: str = typer.Option(
        "auto",
        "--patches",
        help="patch-based inference: off, auto or a patch count N (N x N patches); the default of compile",
    ),
    top: int = typer.Option(8, "--top", help="slowest layers to list"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object for scripts"),
    ignore_fit: bool = typer.Option(False, "--ignore-fit", help="run even if the model exceeds the board's SRAM/flash"),
) -> None:
    """Build the model for a virtual board, run it in QEMU and report exact instructions, estimated cycles and sizes."""
    from rich.table import Table

    from tinyengine_codegen.model_io import load_model
    from tinyengine_codegen.run.measure import bench_model

    from .console import err, out, print_json

    result = bench_model(load_model(model), board, patches=patches, ignore_fit=ignore_fit)
    if as_json:
        print_json(result.to_json())
        return
    cyc = (
        f"{result.cycles:,} est. cycles ({result.cycle_model}, {result.ms:.2f} ms at the board clock), "
        if result.cycles is not None
        else ""
    )
    err.print(
        f"{model.name} on {board}: {cyc}{result.instructions:,} instructions, {result.macs:,} MACs "
        f"({result.instructions_per_mac:.2f} instr/MAC); flash {result.flash_bytes:,} B, peak SRAM "
        f"{result.peak_sram_bytes:,} B; output {'matches' if result.output_matches_reference else 'DIFFERS FROM'} "
        "the reference"
    )
    table = Table("#", "layer", "op", "kernel", "est. cycles", "instructions", "cyc/MAC", title="slowest layers")
    for layer in sorted(result.layers, key=lambda row: -(row.cycles or row.instructions))[:top]:
        cpm = f"{layer.cycles / layer.macs:.2f}" if layer.macs and layer.cycles is not None else "-"
        table.add_row(
            str(layer.index),
            layer.name[:40],
            layer.op,
            layer.kernel,
            f"{layer.cycles:,}" if layer.cycles is not None else "-",
            f"{layer.instructions:,}",
            cpm,
        )
    out.print(table)
    if not result.output_matches_reference:
        raise typer.Exit(1)
