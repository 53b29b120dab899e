"""`tinyml`: the command-line entry point. Turns TinyMLError into one red line and exit code 2.

Each command lives in its own module and imports its heavy dependencies inside the function, so `--help`
stays instant. Exit codes: 0 success, 1 a failed check (e.g. outputs differ, model does not fit), 2 a user error.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback


@functools.cache
def _app():
    """The typer app with every command registered (built on first use, inside main's Ctrl-C handling)."""
    import typer

    from . import commands

    app = typer.Typer(
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        help="TinyML toolchain: search a model for a board, plan its memory, generate and run C.",
    )
    _root.__defaults__ = (_verbose_option(),)
    app.callback()(_root)
    commands.register(app)
    return app


def __getattr__(name: str):
    if name == "app":  # `from tinyml_cli.main import app` (tests drive the app through typer's runner)
        return _app()
    raise AttributeError(name)


VERBOSE_FLAGS = ("--verbose", "-v")


def _root(
    verbose: bool = False,  # declared for --help; main() reads the flag wherever it stands on the command line
) -> None:
    """TinyML toolchain: search a model for a board, plan its memory, generate and run C."""


def _verbose_option():
    import typer

    return typer.Option(
        False,
        *VERBOSE_FLAGS,
        help="On an error, also print its details (e.g. every layer of "
        "each unsupported operator and what the toolchain supports instead).",
    )


def split_verbose(argv: list[str]) -> tuple[list[str], bool]:
    """argv without --verbose/-v (accepted before or after the command), and whether it was given."""
    rest = [a for a in argv if a not in VERBOSE_FLAGS]
    return rest, len(rest) != len(argv)


def main(argv: list[str] | None = None) -> int:
    """Run one command. Exit 0 success, 1 a failed check, 2 a user error (one plain 'error:' line on stderr),
    3 a bug (traceback and 'this is a bug'), 130 interrupted (Ctrl-C; outputs are written atomically, so none is
    left half-written). Ctrl-C ends the same way wherever it lands: while the toolchain is still loading, or
    inside a library that turns the interrupt into another error."""
    import signal

    interrupted: list[bool] = []

    def on_sigint(signum, frame):
        interrupted.append(True)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        code = _run(argv, interrupted)
    finally:
        signal.signal(signal.SIGINT, previous)
    return _exit(code)


def _run(argv: list[str] | None, interrupted: list[bool]) -> int:
    """main without the signal set-up: the exit code."""
    try:
        import typer

        from tinyengine_codegen.errors import InternalError, TinyMLError

        from .console import say

        click, app = _click(), _app()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    argv, verbose = split_verbose(list(sys.argv[1:] if argv is None else argv))
    try:
        rv = app(args=argv, standalone_mode=False)
    except typer.Exit as exc:
        if exc.exit_code == 130:
            say("interrupted")
        return exc.exit_code
    except TinyMLError as exc:
        if interrupted:  # a failure the interrupt caused
            say("interrupted")
            return 130
        say(f"error: {exc}")
        if verbose:
            for line in getattr(exc, "details", ()):
                say(f"  {line}")
        return 2
    except click.ClickException as exc:  # a bad command line: unknown option, missing or invalid value
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()
        else:
            say(f"error: {exc.format_message()} (see --help)")
        return 2
    except (KeyboardInterrupt, typer.Abort):
        say("interrupted")
        return 130
    except (InternalError, Exception) as exc:  # a bug: show everything and ask for a report
        if interrupted:  # a library turned the interrupt into another error (e.g. a half-imported module)
            say("interrupted")
            return 130
        traceback.print_exc()
        say(
            f"internal error: {type(exc).__name__}: {exc} - this is a bug, please report it "
            "with the command line and the model"
        )
        return 3
    if rv == 130:  # the command line parser turns Ctrl-C into this exit code itself
        say("interrupted")
    return rv if isinstance(rv, int) else 0


def _click():
    """The click that typer runs on (recent typer releases vendor their own copy)."""
    try:
        from typer import _click as vendored

        return vendored
    except ImportError:
        import click

        return click


def _exit(code: int) -> int:
    if code == 130:  # interrupted: the stack is unwound (partial outputs removed); skip interpreter shutdown,
        sys.stdout.flush()  # where a second Ctrl-C or a library's exit handler could change the exit status
        sys.stderr.flush()
        os._exit(130)
    sys.exit(code)


if __name__ == "__main__":
    main()
