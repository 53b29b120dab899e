"""A search's state folder: every stage's result is saved atomically as it completes, so a run that is killed
resumes stage by stage, and a resumed run gives what an uninterrupted one gives.

    state.json       the configuration fingerprint the folder belongs to, and how many runs have used it
    space.json       the chosen width and resolution (with the sampled MACs behind them) and the rng after it
    supernet.pt      the supernet checkpoint, after every epoch (written by `train_supernet`)
    measured.json    each drawn sub-network with its validation accuracy (None: it did not fit), and the rng
    evolution.json   the evolution result, its measured accuracy, the chosen arch, and the rng
    finetune.pt      the winner's fine-tuning checkpoint, after every epoch (written by `finetune`)
    log.jsonl        every progress event of every run, tagged with the run's number

A state that belongs to another configuration raises TinyMLError naming the differing keys. A path that is a file
(or ends in .pt/.pth) is an older supernet-only checkpoint: only the supernet is saved and resumed then.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tinyengine_codegen.errors import TinyMLError

from .space import Arch
from .space_opt import Candidate, SpaceChoice

VERSION = 1
STAGES = ("space", "measured", "evolution")


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


_CORRUPT = (KeyError, TypeError, ValueError, IndexError, AttributeError, EOFError, UnicodeDecodeError)


@contextmanager
def saved_file(path: Path | None, what: str):
    """Reading a saved stage or checkpoint: a malformed or truncated file becomes one TinyMLError line."""
    try:
        yield
    except _CORRUPT as exc:  # json, torch and the decoders below raise these on bad content
        raise TinyMLError(
            f"state {path}: the saved {what} is corrupt or incomplete ({type(exc).__name__}); delete that file "
            "to redo its stage, or give a new --checkpoint folder"
        ) from None


def _read_json(path: Path, what: str) -> dict:
    with saved_file(path, what):
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        return data


def _read_log(path: Path) -> tuple[dict, ...]:
    """The events of log.jsonl; a line cut short by a killed run is skipped."""
    events = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return tuple(events)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, default=str) + "\n")
    os.replace(tmp, path)


@dataclass(frozen=True)
class SearchState:
    """Where a search keeps its stages. `folder` None: nothing is kept (and `supernet_file` may name an older
    supernet-only checkpoint). `run` numbers the runs that used the folder, from 1."""

    folder: Path | None = None
    supernet_file: Path | None = None
    run: int = 1
    earlier_log: tuple[dict, ...] = ()

    @staticmethod
    def open(path: Path | None, fingerprint: dict) -> SearchState:
        """Open (or create) the state at `path` for a configuration; raises TinyMLError on another one's state."""
        if path is None:
            return SearchState()
        path = Path(path)
        if path.is_file() or path.suffix in (".pt", ".pth"):
            return SearchState(supernet_file=path)
        if path.exists() and not path.is_dir():
            raise TinyMLError(f"--checkpoint {path}: not a folder; give a state folder (created when missing)")
        path.mkdir(parents=True, exist_ok=True)
        fingerprint = _jsonable(fingerprint)
        head_path = path / "state.json"
        head = _read_json(head_path, "state.json") if head_path.is_file() else None
        with saved_file(head_path, "state.json"):
            if head is not None:
                _check_same(path, dict(head.get("fingerprint", {})), fingerprint)
            run = int((head or {}).get("runs", 0)) + 1
        _write_json(head_path, {"version": VERSION, "fingerprint": fingerprint, "runs": run})
        log = path / "log.jsonl"
        earlier = _read_log(log) if log.is_file() else ()
        return SearchState(path, None, run, earlier)

    @property
    def supernet_path(self) -> Path | None:
        return self.folder / "supernet.pt" if self.folder else self.supernet_file

    @property
    def finetune_path(self) -> Path | None:
        return self.folder / "finetune.pt" if self.folder else None

    def load(self, stage: str) -> dict | None:
        """A saved stage's data, or None when it is not (yet) saved."""
        if self.folder is None or not (self.folder / f"{stage}.json").is_file():
            return None
        return _read_json(self.folder / f"{stage}.json", f"{stage} stage")

    def save(self, stage: str, data: dict) -> None:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        if self.folder is not None:
            _write_json(self.folder / f"{stage}.json", data)

    def logger(self, progress: Callable[[dict], None] | None) -> Callable[[dict], None]:
        """A progress callback that tags each event with this run's number, keeps it in log.jsonl (when there is
        a folder) and passes it on."""

        def note(event: dict) -> None:
            event = {"run": self.run, **event}
            if self.folder is not None:
                with (self.folder / "log.jsonl").open("a") as f:
                    f.write(json.dumps(event, default=str) + "\n")
            if progress:
                progress(event)

        return note


def _check_same(path: Path, saved: dict, current: dict) -> None:
    keys = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
    if keys:
        shown = "; ".join(f"{k}: saved {_short(saved.get(k))}, now {_short(current.get(k))}" for k in keys[:6])
        raise TinyMLError(
            f"state folder {path} belongs to another configuration (differs in {', '.join(keys)}: "
            f"{shown}); rerun with the same options or give a new --checkpoint folder"
        )


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------------------------------------- (de)serialising


def arch_from_json(d: dict) -> Arch:
    return Arch(int(d["resolution"]), float(d["width"]), tuple(d["kernels"]), tuple(d["expands"]), tuple(d["depths"]))


def space_choice_to_json(c: SpaceChoice) -> dict:
    return {
        "width": c.width,
        "resolution": c.resolution,
        "criterion": c.criterion,
        "candidates": [
            {
                "width": k.width,
                "resolution": k.resolution,
                "sampled": k.sampled,
                "fitting_macs": [int(m) for m in k.fitting_macs],
            }
            for k in c.candidates
        ],
    }


def space_choice_from_json(d: dict) -> SpaceChoice:
    import numpy as np

    cands = tuple(
        Candidate(k["width"], k["resolution"], k["sampled"], np.asarray(k["fitting_macs"], dtype=np.int64))
        for k in d["candidates"]
    )
    return SpaceChoice(d["width"], d["resolution"], d["criterion"], cands)
