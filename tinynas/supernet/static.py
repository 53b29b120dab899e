"""The static network that a sub-network extracts to: plain conv/bn/linear modules run along `arch_steps`.

`run_steps` is the one interpreter of a step list; the supernet and the static network both use it, so a sampled
sub-network and its extraction compute the same layers in the same order.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..space import Step
from .elastic import conv_same

Record = Callable[[str, torch.Tensor], None]


def module_key(name: str) -> str:
    return name.replace(".", "_")


def run_steps(
    steps: tuple[Step, ...],
    x: torch.Tensor,
    layer: Callable[[Step, torch.Tensor], torch.Tensor],
    record: Record | None = None,
) -> torch.Tensor:
    """Execute a step list; `layer` computes conv, dw and fc steps; `record(name, value)` sees every output."""
    last = {}
    for i, st in enumerate(steps):
        for t in st.inputs:
            last[t] = i
    vals = {"input": x}
    if record:
        record("input", x)
    for i, st in enumerate(steps):
        if st.kind == "add":
            y = activation(st, vals[st.inputs[0]] + vals[st.inputs[1]])
        elif st.kind == "pool":
            y = vals[st.inputs[0]].mean(dim=(2, 3))
        else:
            y = layer(st, vals[st.inputs[0]])
        for t in st.inputs:
            if last[t] == i:
                del vals[t]
        vals[st.name] = y
        if record:
            record(st.name, y)
    return vals[steps[-1].name]


def activation(step: Step, y: torch.Tensor) -> torch.Tensor:
    """The step's output activation: ReLU6, ReLU, or none."""
    if not step.act:
        return y
    return F.hardtanh(y, 0.0, 6.0) if step.relu6 else F.relu(y)  # one backward kernel each (clamp needs four)


class ConvBN(nn.Module):
    """conv (TFLite SAME padding) -> batch norm (or a conv bias when step.bn is False) -> optional activation."""

    def __init__(self, step: Step):
        super().__init__()
        groups = step.cin if step.kind == "dw" else 1
        self.step, self.kernel, self.stride, self.act = step, step.kernel, step.stride, step.act
        self.conv = nn.Conv2d(step.cin, step.cout, step.kernel, step.stride, 0, groups=groups, bias=not step.bn)
        self.bn = nn.BatchNorm2d(step.cout) if step.bn else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = conv_same(x, self.conv.weight, self.stride, self.conv.groups, self.conv.bias)
        return activation(self.step, self.bn(y) if self.bn is not None else y)


class StaticNet(nn.Module):
    """A standalone network: `steps` (its structure, as data) and one module per conv, dw and fc step."""

    def __init__(self, steps: tuple[Step, ...]):
        super().__init__()
        self.steps = steps
        self.layers = nn.ModuleDict()
        for st in steps:
            if st.kind in ("conv", "dw"):
                self.layers[module_key(st.name)] = ConvBN(st)
            elif st.kind == "fc":
                self.layers[module_key(st.name)] = nn.Linear(st.cin, st.cout)

    def layer(self, name: str) -> nn.Module:
        return self.layers[module_key(name)]

    def forward(self, x: torch.Tensor, record: Record | None = None) -> torch.Tensor:
        return run_steps(self.steps, x, lambda st, v: self.layers[module_key(st.name)](v), record)
