"""Once-for-all's channel reorganisation before the expand ratio shrinks."""

from __future__ import annotations

import torch

from ..supernet.mbv2 import Supernet


@torch.no_grad()
def sort_expanded_channels(net: Supernet, opt: torch.optim.Optimizer | None = None) -> None:
    """Reorder every block's expanded channels by importance (the L1 norm of the projection weights that read
    them), most important first: the expand conv's outputs and batch norm, the depthwise conv and its batch norm,
    and the projection's inputs, with the optimizer's momentum, so every network computes what it computed before.
    Narrower expand ratios then keep the channels that matter most (once-for-all's reorganisation)."""
    slots = sorted({int(k[1:].split("_")[0]) for k in net.layers if k.startswith("b") and k.endswith("_project")})
    for g in slots:
        expand, dw, project = (net.layers[f"b{g}_{part}"] for part in ("expand", "dw", "project"))
        importance = project.conv.weight.abs().sum(dim=(0, 2, 3))
        order = torch.argsort(importance, descending=True, stable=True)
        moves = [(expand.conv.weight, 0), (dw.conv.weight, 0), (project.conv.weight, 1)]
        moves += [(t, 0) for m in (expand, dw) for t in (m.bn.bn.weight, m.bn.bn.bias)]
        for t, dim in moves:
            t.copy_(t.index_select(dim, order))
            buf = opt.state.get(t, {}).get("momentum_buffer") if opt is not None else None
            if buf is not None:
                buf.copy_(buf.index_select(dim, order))
        for m in (expand, dw):
            for t in (m.bn.bn.running_mean, m.bn.bn.running_var):
                t.copy_(t.index_select(0, order))
