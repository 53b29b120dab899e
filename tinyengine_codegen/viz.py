"""Memory-plan plots (the only module that imports matplotlib; it draws with the Agg backend, no display).

`plot_memory` writes one PNG with two panels:
1. memory over layers: per layer the live bytes stacked by role (inputs, outputs, kept for later, scratch), the
   arena high-water mark, the board's SRAM limit and the patch stage shaded;
2. lifetimes (TinyEngine style): one rectangle per buffer, time (layers) across and arena address up.
"""

from __future__ import annotations

from pathlib import Path

from .planner.report import live_split, op_rows
from .simulate import SimulationResult

_ROLES = (
    ("inputs", "#4C72B0", "inputs of the layer"),
    ("outputs", "#DD8452", "outputs of the layer"),
    ("kept", "#8FBC8F", "kept for later layers"),
    ("scratch", "#555555", "kernel scratch"),
)
_SHORT = {
    "CONV_2D": "conv",
    "DEPTHWISE_CONV_2D": "dw",
    "FULLY_CONNECTED": "fc",
    "AVERAGE_POOL_2D": "avgpool",
    "MAX_POOL_2D": "maxpool",
    "RESHAPE": "reshape",
    "SOFTMAX": "softmax",
    "ADD": "add",
    "MUL": "mul",
    "MEAN": "mean",
    "PAD": "pad",
    "CONCATENATION": "concat",
}


def _kib(v: float, _pos=None) -> str:
    return f"{v / 1024:g} KiB"


def _kib_ticks(ax) -> None:
    """Y ticks at round KiB steps (about 5 to 10 of them), labelled in KiB."""
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    top = ax.get_ylim()[1]
    step = 256
    for kib in (0.25, 0.5, 1, 2, 4, 5, 8, 10, 16, 20, 32, 50, 64, 100, 128, 256, 512, 1024):
        step = kib * 1024
        if top / step <= 10:
            break
    ax.yaxis.set_major_locator(MultipleLocator(step))
    ax.yaxis.set_major_formatter(FuncFormatter(_kib))


def plot_memory(result: SimulationResult, path: str | Path) -> Path:
    """Write the two-panel memory PNG of a simulation to `path`; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(result.layers)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(min(max(11.0, 0.32 * n + 7), 26.0), 10), constrained_layout=True)
    _memory_panel(top, result)
    _lifetime_panel(bottom, result)
    for ax in (top, bottom):
        _kib_ticks(ax)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _stage_span(ax, result: SimulationResult) -> None:
    if result.patches is not None:
        p = result.patches
        ax.axvspan(
            -0.5,
            p.split_op + 0.5,
            color="#FFE9A8",
            alpha=0.6,
            zorder=0,
            label=f"patch stage ({p.patches}x{p.patches} patches,\n+{p.extra_mac_fraction:.1%} MACs)",
        )


def _memory_panel(ax, result: SimulationResult) -> None:
    mp = result.model_plan
    split = live_split(mp.graph, mp.plan)
    xs = list(range(len(split)))
    base = [0] * len(split)
    _stage_span(ax, result)
    for role, color, label in _ROLES:
        vals = [getattr(s, role) for s in split]
        if any(vals):
            ax.bar(xs, vals, bottom=base, color=color, width=0.8, label=label, zorder=2)
            base = [b + v for b, v in zip(base, vals)]
    rows = op_rows(mp.graph, mp.plan)
    ax.step(
        xs,
        [r.high_water for r in rows],
        where="mid",
        color="black",
        lw=1.8,
        zorder=3,
        label=f"arena high-water mark\n({result.arena_bytes:,} B)",
    )
    peak = max(result.arena_bytes, 1)
    limit = result.sram_limit
    if limit <= 4 * peak:
        ax.axhline(limit, color="#C00000", ls="--", lw=1.5, zorder=3, label=f"{result.board} SRAM ({limit:,} B)")
        ax.set_ylim(0, max(limit, peak) * 1.12)
    else:
        ax.set_ylim(0, peak * 1.3)
        ax.axhline(
            peak * 1.27,
            color="#C00000",
            ls="--",
            lw=1.5,
            zorder=3,
            label=f"{result.board} SRAM ({limit:,} B):\nabove the chart, drawn at its top",
        )
    ax.set_xlim(-0.6, len(xs) - 0.4)
    ax.set_xticks(xs)
    ax.set_xticklabels(
        [f"{r.index} {_SHORT.get(r.op, r.op.lower())}" for r in result.layers], rotation=60, ha="right", fontsize=8
    )
    ax.set_ylabel("bytes live")
    fit = "fits" if result.fits else "does NOT fit"
    ax.set_title(
        f"{result.model} on {result.board}: peak SRAM {result.peak_sram_bytes:,} B "
        f"(margin {result.sram_margin_bytes:,} B), {fit}",
        fontsize=11,
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, framealpha=0.9)
    ax.grid(axis="y", alpha=0.3, zorder=0)


def _lifetime_panel(ax, result: SimulationResult) -> None:
    from matplotlib.patches import Rectangle

    mp = result.model_plan
    plan = mp.plan
    stage_tensors = set(mp.patches.buffer_bytes) if mp.patches else set()
    _stage_span(ax, result)
    cmap = __import__("matplotlib").colormaps["tab20"]
    for k, b in enumerate(sorted(plan.buffers, key=lambda b: (b.first, plan.offsets[b.name]))):
        if not b.size:
            continue
        off = plan.offsets[b.name]
        color = "#555555" if b.scratch else cmap(k % 20)
        hatch = "xx" if b.scratch else "//" if b.name in stage_tensors else None
        ax.add_patch(
            Rectangle(
                (b.first - 0.45, off),
                b.last - b.first + 0.9,
                b.size,
                facecolor=color,
                edgecolor="black",
                lw=0.6,
                alpha=0.85,
                hatch=hatch,
                zorder=2,
            )
        )
        if b.size >= 0.06 * plan.arena_bytes:
            ax.text(
                (b.first + b.last) / 2,
                off + b.size / 2,
                _label(mp.graph, b.name),
                ha="center",
                va="center",
                fontsize=7,
                zorder=3,
                clip_on=True,
            )
    ax.axhline(plan.arena_bytes, color="black", lw=1.2, label=f"arena {plan.arena_bytes:,} B")
    ax.set_xlim(-0.6, len(mp.graph.ops) - 0.4)
    ax.set_ylim(0, plan.arena_bytes * 1.08 + 1)
    ax.set_xlabel("layer (execution order)")
    ax.set_ylabel("arena address")
    note = "; hatched: per-patch buffers" if stage_tensors else ""
    ax.set_title(
        f"buffer lifetimes and placement (one rectangle per buffer, grey cross-hatched: scratch{note})", fontsize=10
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.grid(alpha=0.25, zorder=0)


def _label(graph, name: str) -> str:
    """A short name for a buffer: the producing layer's index, or the tensor's own (shortened) name."""
    p = graph.producer(name)
    if p is not None:
        return f"out {p}"
    if name in graph.inputs:
        return "input"
    return name if len(name) <= 12 else name[:11] + "…"
