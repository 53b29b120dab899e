"""Write an output folder atomically: build it in a temporary sibling folder, then rename it in place.

On any failure the temporary folder is removed and an existing folder at the destination is left as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from ..errors import TinyMLError


@contextmanager
def atomic_folder(out_dir: str | Path, *, make_parents: bool = False) -> Iterator[Path]:
    """Yield an empty temporary sibling of `out_dir` to fill; on success it replaces `out_dir`, on error it goes."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise TinyMLError(f"cannot write '{out}': it is a file; choose another output folder")
    parent = out.parent if str(out.parent) else Path(".")
    if make_parents:
        parent.mkdir(parents=True, exist_ok=True)
    if not parent.is_dir():
        raise TinyMLError(f"cannot write '{out}': folder '{parent}' does not exist; create it first")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent))
    old = None
    try:
        yield tmp
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=parent))
            os.rename(out, old / out.name)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and (old / out.name).exists() and not out.exists():
            os.rename(old / out.name, out)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def write_folder(files: Mapping[str, str | bytes], out_dir: str | Path) -> Path:
    """Create (or replace) `out_dir` holding exactly `files` (relative name → text or bytes)."""
    with atomic_folder(out_dir) as tmp:
        for name, content in files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, str):
                path.write_text(content)
            else:
                path.write_bytes(content)
    return Path(out_dir)
