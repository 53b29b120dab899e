"""The one terminal of the CLI: messages, tables and progress go to stderr; results go to stdout."""

from __future__ import annotations

import json
import os
import re
import sys
from contextlib import contextmanager

from rich.console import Console

err = Console(stderr=True, highlight=False, no_color=bool(os.environ.get("NO_COLOR")))
out = Console(highlight=False, soft_wrap=True)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def plain(text: object) -> str:
    """`text` as one printable line: control characters (newlines, ESC, BEL ...) written as \\xNN escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def cell(text: object):
    """A table cell that shows `text` literally (no markup), control characters escaped."""
    from rich.text import Text

    return Text(plain(text))


def say(text: object) -> None:
    """One plain message line on stderr: no markup, no colour codes from user data, control characters escaped."""
    sys.stderr.write(plain(text) + "\n")
    sys.stderr.flush()


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

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        transient=transient,
        disable=not err.is_terminal,
    )


@contextmanager
def event_progress():
    """A callback for long jobs that report events as dicts ({"stage"/"phase", "epoch"/"generation", ...}):
    one progress bar per stage on a terminal, one plain line per event otherwise (logs, CI)."""
    with progress(transient=False) as bar:
        tasks: dict[str, int] = {}

        def on_event(e: dict) -> None:
            if not err.is_terminal:
                err.print(
                    " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in e.items()),
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
                return
            key = str(e.get("phase") or e.get("stage") or "search")
            total, done = e.get("epochs") or e.get("generations"), e.get("epoch") or e.get("generation")
            if key not in tasks:
                tasks[key] = bar.add_task(key, total=total or 1)
            desc = key + "".join(
                f" {k}={v:.3f}"
                for k, v in e.items()
                if isinstance(v, float) and k in ("loss", "best", "val_accuracy", "fit_ratio")
            )
            bar.update(
                tasks[key], description=desc, completed=done if done is not None else bar.tasks[tasks[key]].total
            )

        yield on_event
