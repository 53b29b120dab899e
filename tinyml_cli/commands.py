"""Registers one module per command on the root app."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from . import inspect_cmd

    app.command("inspect")(inspect_cmd.inspect)
    for module_name, names in (
        ("compile_cmd", ("compile", "run")),
        ("simulate_cmd", ("simulate",)),
        ("boards_cmd", ("boards",)),
        ("bench_cmd", ("bench",)),
        ("flash_cmd", ("flash",)),
        ("validate_cmd", ("validate",)),
        ("search_cmd", ("search",)),
        ("baseline_cmd", ("baseline",)),
        ("demo_cmd", ("demo", "setup")),
    ):
        try:
            module = __import__(f"{__package__}.{module_name}", fromlist=["_"])
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{module_name}":
                raise
            continue
        for name in names:
            app.command(name)(getattr(module, name.replace("-", "_") + ("_" if name in ("compile",) else "")))
