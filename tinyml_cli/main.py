"""`tinyml`: the command-line entry point. Turns TinyMLError into one red line and exit code 2.

Each command lives in its own module and imports its heavy dependencies inside the function, so `--help`
stays instant. Exit codes: 0 success, 1 a failed check (e.g. outputs differ, model does not fit), 2 a user error.
"""

from __future__ import annotations

import sys
import traceback

import typer

from tinyengine_codegen.errors import InternalError, TinyMLError

from . import commands

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    help="TinyML toolchain: search a model for a board, plan its memory, generate and run C.",
)
commands.register(app)


@app.callback()
def _root() -> None:
    """TinyML toolchain: search a model for a board, plan its memory, generate and run C."""


def main(argv: list[str] | None = None) -> int:
    from .console import err

    try:
        app(args=argv, standalone_mode=True)
    except TinyMLError as exc:
        err.print(f"[bold red]error:[/] {exc}", markup=True, soft_wrap=True)
        return _exit(2)
    except KeyboardInterrupt:
        err.print("[red]interrupted[/]")
        return _exit(130)
    except (InternalError, Exception) as exc:  # a bug: show everything and ask for a report
        traceback.print_exc()
        err.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {exc} - this is a bug, please report it "
            "with the command line and the model"
        )
        return _exit(3)
    return 0


def _exit(code: int) -> int:
    sys.exit(code)


if __name__ == "__main__":
    main()
