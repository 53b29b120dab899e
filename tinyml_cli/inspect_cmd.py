"""`tinyml inspect MODEL`: operators, shapes, MACs and weight bytes."""

from __future__ import annotations

from pathlib import Path

import typer


def inspect(
    model: Path = typer.Argument(None, help="int8 model (.tflite); optional with --ops"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object for scripts"),
    dump_ir: bool = typer.Option(False, "--dump-ir", help="print the full text IR"),
    ops: bool = typer.Option(False, "--ops", help="which operators the model uses and which are supported"),
) -> None:
    """Operators, shapes, MACs and weight bytes of a model."""
    if ops:
        _ops(model, as_json)
        return
    if model is None:
        from tinyengine_codegen.errors import TinyMLError

        raise TinyMLError("tinyml inspect needs a model (or --ops alone for the list of supported operators)")
    from tinyengine_codegen.ir.cost import graph_macs, op_macs, op_weight_bytes, weight_bytes
    from tinyengine_codegen.ir.text import dump
    from tinyengine_codegen.model_io import load_model

    from .console import cell, out, plain, print_json

    graph = load_model(model)
    rows = [
        {
            "index": i,
            "name": op.name,
            "op": op.kind.value,
            "output_shape": list(graph.tensors[op.outputs[0]].shape),
            "macs": op_macs(graph, op),
            "weight_bytes": op_weight_bytes(graph, op),
        }
        for i, op in enumerate(graph.ops)
    ]
    summary = {
        "model": str(model),
        "operators": len(graph.ops),
        "macs": graph_macs(graph),
        "weight_bytes": weight_bytes(graph),
        "inputs": [_io(graph, n) for n in graph.inputs],
        "outputs": [_io(graph, n) for n in graph.outputs],
        "layers": rows,
    }
    if as_json:
        print_json(summary)
        return
    if dump_ir:
        for line in dump(graph).splitlines():
            out.print(plain(line), markup=False, highlight=False)
        return
    from rich.table import Table

    table = Table(title=cell(f"{model.name}: {len(graph.ops)} operators"))
    for col in ("#", "name", "op", "output shape", "MACs", "weight B"):
        table.add_column(col, justify="right" if col in ("#", "MACs", "weight B") else "left")
    for r in rows:
        table.add_row(
            str(r["index"]),
            cell(r["name"]),
            r["op"],
            "x".join(map(str, r["output_shape"])),
            f"{r['macs']:,}",
            f"{r['weight_bytes']:,}",
        )
    out.print(table)
    io = ", ".join(f"{d['name']} {d['dtype']}{d['shape']}" for d in summary["inputs"])
    oo = ", ".join(f"{d['name']} {d['dtype']}{d['shape']}" for d in summary["outputs"])
    out.print(plain(f"inputs: {io}"), markup=False)
    out.print(plain(f"outputs: {oo}"), markup=False)
    out.print(f"MACs: {summary['macs']:,}   weights: {summary['weight_bytes']:,} B", markup=False)


def _io(graph, name: str) -> dict:
    t = graph.tensors[name]
    q = t.quant
    return {
        "name": name,
        "shape": list(t.shape),
        "dtype": t.dtype,
        "scale": q.scale[0] if q else None,
        "zero_point": q.zero_point[0] if q else None,
    }


def _ops(model: Path | None, as_json: bool) -> None:
    """The model's operators with counts and support (works on models that do not import), or the supported list."""
    from tinyengine_codegen.importers.tflite import operator_census
    from tinyengine_codegen.importers.tflite_ops import SUPPORTED

    from .console import out, print_json

    census = operator_census(model) if model is not None else []
    if as_json:
        print_json(
            {
                "model": str(model) if model else None,
                "operators": [{"op": k, "count": n, "supported": ok} for k, n, ok in census],
                "supported": sorted(SUPPORTED),
            }
        )
        return
    for k, n, ok in census:
        out.print(f"{k:<28} x{n:<4} {'supported' if ok else 'NOT SUPPORTED'}", markup=False, highlight=False)
    out.print(f"supported operators ({len(SUPPORTED)}): {', '.join(sorted(SUPPORTED))}", markup=False)
