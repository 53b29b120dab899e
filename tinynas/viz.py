"""Plots for people (the only tinynas module that imports matplotlib): the MACs CDF of the space candidates."""
from __future__ import annotations

from pathlib import Path

from .space_opt import SpaceChoice


def plot_space_cdf(choice: SpaceChoice, path: Path) -> Path:
    """One CDF line per (width, resolution) candidate over the MACs of its fitting sub-networks; the chosen is bold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6, 4))
    for c in choice.candidates:
        if len(c.fitting_macs) == 0:
            continue
        y = np.arange(1, len(c.fitting_macs) + 1) / len(c.fitting_macs)
        chosen = (c.width, c.resolution) == (choice.width, choice.resolution)
        ax.step(c.fitting_macs / 1e6, y, where="post", lw=2.5 if chosen else 1.0,
                label=f"w{c.width:g}-r{c.resolution} ({c.fit_ratio:.0%} fit)")
    ax.set_xlabel("MMACs of fitting sub-networks")
    ax.set_ylabel("cumulative probability")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
