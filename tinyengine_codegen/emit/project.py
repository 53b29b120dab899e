"""Write an output folder atomically, never deleting what the toolchain did not write.

Every output folder holds a small manifest (MANIFEST_NAME: the command that wrote it and the files it wrote).
`atomic_folder(out)` builds the new contents in a temporary sibling folder and renames it into place. The
destination may be missing, empty, or a previous output of the same command holding only the files its
manifest lists (and the build caches it names); anything else is refused with a TinyMLError, unless `force`,
which adds the new files to the folder (same-named files replaced, everything else kept). On any failure or
Ctrl-C the temporary folder is removed and the destination is left as it was. Folders and files get the normal
permissions of the user's umask.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from ..errors import TinyMLError

MANIFEST_NAME = ".tinyml-output.json"
_TOOL = "tinyml"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _manifest(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("tool") == _TOOL else None


def _foreign_entries(out: Path, command: str) -> list[str]:
    """Paths in `out` that a replacement would delete although this command did not write them."""
    entries = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if not p.is_dir() or p.is_symlink())
    if not entries:
        return []
    man = _manifest(out)
    if man is None or man.get("command") != command:
        return [e for e in entries if e != MANIFEST_NAME] or entries
    owned = set(man.get("files", [])) | {MANIFEST_NAME}
    caches = tuple(f"{c}/" for c in man.get("caches", []))
    return [e for e in entries if e not in owned and not e.startswith(caches)]


def check_output_folder(out_dir: str | Path, command: str, force: bool = False) -> Path:
    """Refuse, before any work starts, an output folder that cannot be written or whose replacement would delete
    files this command did not write; returns the absolute path."""
    out = Path(out_dir).absolute()
    if out.exists() and not out.is_dir():
        raise TinyMLError(f"cannot write '{out_dir}': it is a file; choose another output folder")
    if out.is_dir() and not force:
        foreign = _foreign_entries(out, command)
        if foreign:
            shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            raise TinyMLError(
                f"output folder '{out_dir}' is not empty and is not a previous `{_TOOL} {command}` output "
                f"(it holds {shown}); choose a new or empty folder, or pass --force to add the files beside them"
            )
    probe_writable(out.parent if not out.is_dir() else out, what=f"output folder '{out_dir}'")
    return out


def probe_writable(folder: Path, what: str) -> None:
    """TinyMLError unless a file can be created in `folder` (or in its nearest existing ancestor)."""
    folder = Path(folder).absolute()
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        fd, probe = tempfile.mkstemp(prefix=".tinyml-probe-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise TinyMLError(
            f"cannot write {what}: '{existing}' is not writable ({exc.strerror}); choose another location"
        ) from None


@contextmanager
def atomic_folder(
    out_dir: str | Path,
    *,
    make_parents: bool = False,
    command: str = "compile",
    force: bool = False,
    caches: tuple[str, ...] = (),
) -> Iterator[Path]:
    """Yield an empty temporary sibling of `out_dir` to fill; on success it replaces `out_dir` (see the module
    docstring for what may be replaced), on error or interrupt it is removed."""
    out = check_output_folder(out_dir, command, force)
    parent = out.parent
    if make_parents:
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TinyMLError(f"cannot create folder '{parent}' ({exc.strerror}); choose another location") from None
    if not parent.is_dir():
        raise TinyMLError(f"cannot write '{out_dir}': folder '{parent}' does not exist; create it first")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent))
    try:
        yield tmp
        _write_manifest(tmp, command, caches)
        os.chmod(tmp, 0o777 & ~_umask())
        if force and out.is_dir() and _foreign_entries(out, command):
            _merge(tmp, out)
        else:
            _replace(tmp, out, caches)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_manifest(tmp: Path, command: str, caches: tuple[str, ...]) -> None:
    files = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
    files = [f for f in files if not f.startswith(tuple(f"{c}/" for c in caches))]
    data = {"tool": _TOOL, "command": command, "files": files, "caches": list(caches)}
    (tmp / MANIFEST_NAME).write_text(json.dumps(data, indent=1) + "\n")


def _replace(tmp: Path, out: Path, caches: tuple[str, ...]) -> None:
    """Rename `tmp` to `out`; a previous output (checked to hold only its own files) is removed afterwards."""
    if not out.exists():
        os.rename(tmp, out)
        return
    for cache in caches:  # keep build caches (PlatformIO's .pio) for incremental builds
        if (out / cache).is_dir() and not (tmp / cache).exists():
            os.rename(out / cache, tmp / cache)
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    try:
        os.rename(out, old / out.name)
        try:
            os.rename(tmp, out)
        except BaseException:
            os.rename(old / out.name, out)
            raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def _merge(tmp: Path, out: Path) -> None:
    """--force into a folder holding other files: move the new files in, replacing same-named files only."""
    for src in sorted(tmp.rglob("*")):
        dst = out / src.relative_to(tmp)
        if src.is_dir():
            dst.mkdir(exist_ok=True)
        else:
            os.replace(src, dst)


def write_folder(
    files: Mapping[str, str | bytes], out_dir: str | Path, *, command: str = "compile", force: bool = False
) -> Path:
    """Create (or replace) `out_dir` holding exactly `files` (relative name → text or bytes) and the manifest."""
    with atomic_folder(out_dir, command=command, force=force) as tmp:
        for name, content in files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, str):
                path.write_text(content)
            else:
                path.write_bytes(content)
    return Path(out_dir)
