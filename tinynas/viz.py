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
        ax.step(
            c.fitting_macs / 1e6,
            y,
            where="post",
            lw=2.5 if chosen else 1.0,
            label=f"w{c.width:g}-r{c.resolution} ({c.fit_ratio:.0%} fit)",
        )
    ax.set_xlabel("MMACs of fitting sub-networks")
    ax.set_ylabel("cumulative probability")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_progress(history, path: Path) -> Path:
    """Best predicted accuracy of the evolutionary search after each generation."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(range(1, len(history) + 1), [100 * h for h in history], marker="o")
    ax.set_xlabel("generation")
    ax.set_ylabel("best predicted accuracy (%)")
    ax.set_title("evolutionary search progress")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def plot_pareto(points, sram_limit: int, path: Path) -> Path:
    """Measured sub-networks as (peak SRAM, accuracy) points, their Pareto front, and the board's SRAM budget."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6, 4))
    pts = sorted((sram / 1024, 100 * acc) for acc, sram in points)
    ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=14, alpha=0.6, label="measured sub-networks")
    front, best = [], -1.0
    for x, y in pts:
        if y > best:
            front.append((x, y))
            best = y
    ax.step([p[0] for p in front], [p[1] for p in front], where="post", color="C3", label="Pareto front")
    top = max((p[0] for p in pts), default=0.0)
    if sram_limit / 1024 <= 2 * top:
        ax.axvline(sram_limit / 1024, color="k", ls="--", lw=1, label=f"SRAM budget {sram_limit / 1024:.0f} KiB")
    else:
        ax.set_title(f"SRAM budget {sram_limit / 1024:.0f} KiB (off the chart: every point fits)", fontsize=9)
    ax.set_xlabel("peak SRAM (KiB, exact plan)")
    ax.set_ylabel("validation accuracy (%)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
