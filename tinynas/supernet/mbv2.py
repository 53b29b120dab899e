"""The MobileNetV2-style supernet: `forward(x, arch)` runs a sub-network, `extract(arch)` copies it out.

The supernet holds one elastic conv + batch norm per layer of the largest network of its width. A sub-network is
the step list of its arch (`space.arch_steps`); each conv step is served by the elastic layer of the same name, which
slices its weights to the step's channels and kernel. No active-subnet state is kept on the modules.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tinyengine_codegen.errors import TinyMLError

from ..space import Arch, SearchSpace, Step, arch_steps
from .elastic import ElasticBatchNorm, ElasticDepthwise, ElasticLinear, ElasticPointwise
from .static import Record, StaticNet, module_key, run_steps


class ElasticConvBN(nn.Module):
    """An elastic conv (depthwise or pointwise/stem) followed by elastic batch norm and optional ReLU6."""

    def __init__(self, step: Step, kernel_sizes: tuple[int, ...]):
        super().__init__()
        self.depthwise = step.kind == "dw"
        if self.depthwise:
            self.conv = ElasticDepthwise(step.cout, kernel_sizes, step.stride)
        else:
            self.conv = ElasticPointwise(step.cin, step.cout, step.kernel, step.stride)
        self.bn = ElasticBatchNorm(step.cout)

    def active_weight(self, step: Step) -> torch.Tensor:
        if self.depthwise:
            return self.conv.active_weight(step.cout, step.kernel)
        return self.conv.active_weight(step.cin, step.cout)

    def forward(self, x: torch.Tensor, step: Step, cache: dict | None = None) -> torch.Tensor:
        y = self.conv(x, step.kernel, cache) if self.depthwise else self.conv(x, step.cout)
        y = self.bn(y)
        return F.hardtanh(y, 0.0, 6.0) if step.act else y  # ReLU6 (one backward kernel, unlike clamp)


class Supernet(nn.Module):
    """All sub-networks of `space` at one width multiplier, sharing weights."""

    def __init__(self, space: SearchSpace, width: float):
        super().__init__()
        self.space, self.width = space, width
        self.layers = nn.ModuleDict()
        for st in arch_steps(space.largest(width), space):
            ks = space.kernel_sizes if st.slot >= 0 else (st.kernel,)
            if st.kind in ("conv", "dw"):
                self.layers[module_key(st.name)] = ElasticConvBN(st, ks)
            elif st.kind == "fc":
                self.layers[module_key(st.name)] = ElasticLinear(st.cin, st.cout)
        self._steps_memo: dict[Arch, tuple[Step, ...]] = {}  # arch -> its step list (pure; saves Python per call)

    def steps(self, arch: Arch) -> tuple[Step, ...]:
        if abs(arch.width - self.width) > 1e-9:
            raise TinyMLError(
                f"arch width {arch.width} differs from the supernet's width {self.width}; "
                f"sample archs with width={self.width}"
            )
        steps = self._steps_memo.get(arch)
        if steps is None:
            if len(self._steps_memo) >= 64:  # bounded: random sub-networks rarely repeat
                self._steps_memo.clear()
            steps = self._steps_memo[arch] = arch_steps(arch, self.space)
        return steps

    def forward(
        self, x: torch.Tensor, arch: Arch, record: Record | None = None, cache: dict | None = None
    ) -> torch.Tensor:
        """The sub-network `arch` on x. `cache` (a dict for one training step) shares the transformed depthwise
        kernels between the sub-networks run on the same weights; pass a fresh one after every optimizer step."""
        layers = self.layers

        def layer(st: Step, v: torch.Tensor) -> torch.Tensor:
            m = layers[module_key(st.name)]
            return m(v) if st.kind == "fc" else m(v, st, cache)

        return run_steps(self.steps(arch), x, layer, record)

    @torch.no_grad()
    def extract(self, arch: Arch) -> StaticNet:
        """A standalone network with copies of the active weights; it computes what forward(x, arch) computes."""
        steps = self.steps(arch)
        net = StaticNet(steps)
        for st in steps:
            if st.kind in ("conv", "dw"):
                src, dst = self.layers[module_key(st.name)], net.layer(st.name)
                dst.conv.weight.copy_(src.active_weight(st))
                for k, v in src.bn.active(st.cout).items():
                    getattr(dst.bn, k).copy_(v)
                dst.bn.num_batches_tracked.copy_(src.bn.bn.num_batches_tracked)
                dst.bn.eps, dst.bn.momentum = src.bn.bn.eps, src.bn.bn.momentum
            elif st.kind == "fc":
                src, dst = self.layers[module_key(st.name)].linear, net.layer(st.name)
                dst.weight.copy_(src.weight[:, : st.cin])
                dst.bias.copy_(src.bias)
        return net.train(self.training)
