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
    """Run one command. Exit 0 success, 1 a failed check, 2 a user error (one plain 'error:' line on stderr),
    3 a bug (traceback and 'this is a bug'), 130 interrupted (Ctrl-C; outputs are written atomically, so none is
    left half-written)."""
    from .console import say

    click = _click()

    try:
        rv = app(args=argv, standalone_mode=False)
    except typer.Exit as exc:
        if exc.exit_code == 130:
            say("interrupted")
        return _exit(exc.exit_code)
    except TinyMLError as exc:
        say(f"error: {exc}")
        return _exit(2)
    except click.ClickException as exc:  # a bad command line: unknown option, missing or invalid value
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()
        else:
            say(f"error: {exc.format_message()} (see --help)")
        return _exit(2)
    except (KeyboardInterrupt, typer.Abort):
        say("interrupted")
        return _exit(130)
    except (InternalError, Exception) as exc:  # a bug: show everything and ask for a report
        traceback.print_exc()
        say(
            f"internal error: {type(exc).__name__}: {exc} - this is a bug, please report it "
            "with the command line and the model"
        )
        return _exit(3)
    if rv == 130:  # the command line parser turns Ctrl-C into this exit code itself
        say("interrupted")
    return _exit(rv if isinstance(rv, int) else 0)


def _click():
    """The click that typer runs on (recent typer releases vendor their own copy)."""
    try:
        from typer import _click as vendored

        return vendored
    except ImportError:
        import click

        return click


def _exit(code: int) -> int:
    sys.exit(code)


if __name__ == "__main__":
    main()
