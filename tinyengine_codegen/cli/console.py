"""The one terminal of the CLI: messages, tables and progress go to stderr; results go to stdout."""
from __future__ import annotations

import json
import os
import sys

from rich.console import Console

err = Console(stderr=True, highlight=False, no_color=bool(os.environ.get("NO_COLOR")))
out = Console(highlight=False, soft_wrap=True)


def print_json(obj) -> None:
    """One JSON object on stdout, nothing else (for scripts)."""
    sys.stdout.write(json.dumps(obj, indent=2, default=_default) + "\n")
    sys.stdout.flush()


def _default(o):
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


def progress(transient: bool = True):
    """A rich progress bar on stderr; quiet when stderr is not a terminal (CI, scripts)."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TimeElapsedColumn(), console=err, transient=transient, disable=not err.is_terminal)
