"""The two error types of the toolchain.

`TinyMLError` is a problem the user can fix; `str(err)` is one line naming what, where, the limit and the way out.
`InternalError` is a broken invariant (a bug); the CLI prints it with a traceback and asks for a report.
"""


class TinyMLError(Exception):
    """A problem the user can fix. str(err) is one line: what happened, where, the limit, the way out.
    `details` are further lines the CLI prints with --verbose (e.g. every layer an unsupported operator has)."""

    def __init__(self, *args, details: tuple[str, ...] = ()) -> None:
        super().__init__(*args)
        self.details = tuple(details)

    def __str__(self) -> str:  # one line even when a message quotes a library's multi-line text
        return " ".join(part.strip() for part in super().__str__().splitlines() if part.strip())


class InternalError(Exception):
    """A broken invariant inside the toolchain: a bug, never the user's fault."""
