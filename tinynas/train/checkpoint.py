"""Training checkpoints: written atomically, read back with one clear error for a truncated or foreign file."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from ..state import saved_file


def save_checkpoint(path: Path, state: dict) -> None:
    """torch.save to a temporary sibling, then rename: a killed process leaves the previous checkpoint intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path | None, device) -> dict | None:
    if path is None or not Path(path).is_file():
        return None
    with saved_file(path, "training checkpoint"):
        try:
            state = torch.load(path, map_location=device, weights_only=False)
        except (RuntimeError, pickle.UnpicklingError, OSError) as exc:  # a truncated or foreign file
            raise ValueError(str(exc)) from None
        if not isinstance(state, dict):
            raise TypeError("not a checkpoint")
        return state


def restore_state(net, opt, state: dict) -> None:
    """Weights and optimizer state from a checkpoint; tensors of the wrong shape raise ValueError."""
    try:
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
    except RuntimeError as exc:
        raise ValueError(str(exc)) from None


def saved_history(path: Path | None) -> list[dict]:
    """The per-epoch records kept in a checkpoint of `train_supernet` or `finetune`, from every run that added to
    it ([] without one). Older supernet checkpoints have no records: one placeholder per completed epoch then."""
    state = load_checkpoint(path, "cpu")
    if state is None:
        return []
    if "history" in state:
        return list(state["history"])
    return [{"epoch": None}] * int(state.get("epochs_done", 0))
