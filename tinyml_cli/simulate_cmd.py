"""`tinyml simulate MODEL --board B`: peak SRAM (exact), flash (exact: the generated C built for the board), fit
and margins, per-layer memory, planning time."""

from __future__ import annotations

from pathlib import Path

import typer

PATCHES_HELP = "patch-based inference of the first layers: off, auto, or N for N x N patches"


def simulate(
    model: Path = typer.Argument(..., help="int8 model (.tflite)"),
    board: str = typer.Option("qemu-m4", "--board", "-b", help="board id (tinyml boards) or a .toml file"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object on stdout for scripts"),
    inplace: bool = typer.Option(
        True, "--inplace/--no-inplace", help="let elementwise (and supported depthwise) layers overwrite their input"
    ),
    patches: str = typer.Option("auto", "--patches", help=PATCHES_HELP),
    max_extra_cycles: float = typer.Option(
        0.10,
        "--max-extra-cycles",
        help="the patch search may add at most this fraction of the model's estimated cycles",
    ),
    plot: Path | None = typer.Option(
        None, "--plot", help="memory plot PNG (default without --json: ./<model>_memory.png; with --json: none)"
    ),
    run: bool = typer.Option(
        False,
        "--run",
        help="also build the generated C for the host, run it on a "
        "seeded random input and compare it with the reference executor",
    ),
) -> None:
    """Plan a model's memory for a board: per-layer table, peak SRAM, flash, fit. Exit 1 when it does not fit."""
    from tinyengine_codegen.boards import load_board
    from tinyengine_codegen.errors import TinyMLError
    from tinyengine_codegen.model_io import load_model
    from tinyengine_codegen.options import CompileOptions
    from tinyengine_codegen.simulate import simulate as run_simulation

    from .console import err, print_json

    if not 0.0 <= max_extra_cycles <= 10.0:
        raise TinyMLError(f"--max-extra-cycles {max_extra_cycles}: use a fraction between 0 and 10 (0.1 = 10%)")
    b = load_board(board)  # the one board read: everything below takes the options' target
    opts = CompileOptions(target=b, inplace=inplace, patches=patches, max_extra_cycles=max_extra_cycles)
    graph = load_model(model)
    result = run_simulation(graph, b, opts)
    summary = result.to_dict()
    summary["io"] = _io_rows(result)
    if plot is None and not as_json:
        plot = Path(f"{model.stem}_memory.png")
    if plot is not None:
        from tinyengine_codegen.viz import plot_memory

        summary["plot"] = str(plot_memory(result, plot))
    check = None
    if run:
        from tinyengine_codegen.simulate import check_run

        check = check_run(result, alignment=opts.alignment)
        summary["run"] = {
            "seed": check.seed,
            "c_plan": check.c_plan,
            "c_arena_bytes": check.c_arena_bytes,
            "c_mismatches": check.c_mismatches,
            "patched_reference_mismatches": check.patched_reference_mismatches,
            "ok": check.ok,
        }
    if as_json:
        print_json(summary)
    else:
        _render(result, summary)
        if plot is not None:
            err.print(f"memory plot: {summary['plot']}", soft_wrap=True, markup=False)
    if not result.fits or (check is not None and not check.ok):
        raise typer.Exit(1)


def _io_rows(result) -> dict:
    """Every input and output of the planned graph: name, shape, dtype, bytes and arena offset (the C API's
    NAME_input(i) / NAME_output(i) point there)."""
    from tinyengine_codegen.emit.plan import from_model_plan

    mp = result.model_plan
    g, plan = mp.graph, from_model_plan(mp)

    def row(name: str) -> dict:
        t = g.tensor(name)
        return {"name": name, "shape": list(t.shape), "dtype": t.dtype, "bytes": t.nbytes, "offset": plan.offset(name)}

    return {"inputs": [row(n) for n in g.inputs], "outputs": [row(n) for n in g.outputs]}


def _render(result, summary: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    from .console import err, out

    table = Table(title=f"{result.model} on {result.board}: memory per layer")
    for col in ("#", "layer", "op", "output", "kernel", "live B", "high-water B", "scratch B"):
        table.add_column(col, justify="right" if col.endswith("B") or col == "#" else "left")
    for r in result.layers:
        mark = " (patch)" if r.in_patch_stage else ""
        table.add_row(
            str(r.index),
            escape(r.name),
            r.op + mark,
            "x".join(map(str, r.output_shape)),
            r.kernel or "-",
            f"{r.live_bytes:,}",
            f"{r.high_water:,}",
            f"{r.scratch_bytes:,}" if r.scratch_bytes else "",
        )
    if out.is_terminal:
        out.print(table)
    else:  # a pipe or a file: do not squeeze the table into 80 columns
        from rich.console import Console

        Console(width=170, highlight=False, no_color=out.no_color).print(table)
    fl = result.flash
    fit = "[green]fits[/]" if result.fits else "[bold red]does NOT fit[/]"
    out.print(
        f"peak SRAM: {result.peak_sram_bytes:,} B at '{escape(result.peak_layer)}' (lower bound "
        f"{result.lower_bound:,} B), limit {result.sram_limit:,} B, margin {result.sram_margin_bytes:,} B"
    )
    if result.flash_exact is not None:
        how = f"text {result.flash_exact.text:,} + data {result.flash_exact.data:,} of the firmware built for the board"
    else:
        how = f"weights {fl.weight_bytes:,} + tables {fl.table_bytes:,} + code ~{fl.code_bytes_estimate:,} (estimate)"
    out.print(
        f"flash: {result.flash_bytes:,} B = {how}; limit {result.flash_limit:,} B, margin "
        f"{result.flash_margin_bytes:,} B; planned in {1000 * result.plan_seconds:.0f} ms CPU "
        f"({1000 * result.plan_wall_seconds:.0f} ms wall)"
    )
    if result.patches is not None:
        p = result.patches
        out.print(
            f"patches: {p.patches}x{p.patches} over layers 0..{p.split_op} (split at '{escape(p.split_layer)}'), "
            f"+{p.extra_macs:,} MACs ({p.extra_mac_fraction:.1%}), about +{p.extra_cycle_fraction:.1%} cycles; "
            "without patches the peak is "
            f"{p.peak_without_patches:,} B"
        )
    for kind in ("inputs", "outputs"):
        rows = [
            f"{escape(r['name'])} {r['dtype']}{r['shape']} at arena offset {r['offset']:,}" for r in summary["io"][kind]
        ]
        out.print(f"{kind}: " + "; ".join(rows), soft_wrap=True)
    out.print(f"{result.model} on {result.board}: {fit}")
    run = summary.get("run")
    if run:
        ok = "[green]matches[/]" if run["ok"] else "[bold red]DIFFERS[/]"
        out.print(
            f"run on the host (seed {run['seed']}, C with the {run['c_plan']}): {ok} the reference "
            f"({run['c_mismatches']} differing values)"
        )
    for note in result.notes:
        err.print(f"note: {escape(note)}", soft_wrap=True)
