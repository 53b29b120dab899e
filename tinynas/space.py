"""The search space: an `Arch` (one sub-network) as frozen data, the `SearchSpace` it is drawn from, and the layer
geometry both imply (`arch_steps`), from which MACs, the supernet's static extraction and the IR graph all follow.

Every block slot of every stage carries a kernel size and an expand ratio; a stage of depth d runs its first d slots.
Randomness always comes from an explicit numpy Generator.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from tinyengine_codegen.errors import TinyMLError


@dataclass(frozen=True, slots=True)
class StageSpec:
    channels: int  # output channels at width 1.0
    stride: int  # stride of the stage's first block
    max_depth: int


@dataclass(frozen=True, slots=True)
class Arch:
    """One sub-network: input resolution, width multiplier, per-slot kernel and expand ratio, per-stage depth."""

    resolution: int
    width: float
    kernels: tuple[int, ...]
    expands: tuple[int, ...]
    depths: tuple[int, ...]

    def active_slots(self, space: SearchSpace) -> tuple[int, ...]:
        out, start = [], 0
        for st, d in zip(space.stages, self.depths):
            out.extend(range(start, start + d))
            start += st.max_depth
        return tuple(out)

    def key(self, space: SearchSpace) -> tuple:
        """Identity of the network this arch describes (inactive slots do not matter)."""
        slots = self.active_slots(space)
        return (
            self.resolution,
            self.width,
            self.depths,
            tuple(self.kernels[i] for i in slots),
            tuple(self.expands[i] for i in slots),
        )

    def describe(self) -> dict:
        return {
            "resolution": self.resolution,
            "width": self.width,
            "kernels": list(self.kernels),
            "expands": list(self.expands),
            "depths": list(self.depths),
        }


@dataclass(frozen=True, slots=True)
class SearchSpace:
    """A MobileNetV2-style space: stem conv, one fixed depthwise-separable block, elastic stages, head, classifier."""

    in_channels: int
    num_classes: int
    stem_channels: int
    stem_stride: int
    first_channels: int
    stages: tuple[StageSpec, ...]
    head_channels: int  # 0: no 1x1 feature-mixing conv before pooling
    kernel_sizes: tuple[int, ...] = (3, 5, 7)
    expand_ratios: tuple[int, ...] = (3, 4, 6)
    depths: tuple[int, ...] = (2, 3, 4)
    widths: tuple[float, ...] = (0.5, 0.75, 1.0)
    resolutions: tuple[int, ...] = (24, 28, 32)

    @property
    def num_slots(self) -> int:
        return sum(s.max_depth for s in self.stages)

    def channels(self, c: int, width: float) -> int:
        """Channels scaled by the width multiplier, rounded to a multiple of 8 (at least 8)."""
        return max(8, int(c * width + 4) // 8 * 8)

    def largest(self, width: float | None = None, resolution: int | None = None) -> Arch:
        n = self.num_slots
        return Arch(
            resolution or max(self.resolutions),
            width or max(self.widths),
            (max(self.kernel_sizes),) * n,
            (max(self.expand_ratios),) * n,
            tuple(min(max(self.depths), s.max_depth) for s in self.stages),
        )

    def smallest(self, width: float | None = None, resolution: int | None = None) -> Arch:
        n = self.num_slots
        return Arch(
            resolution or min(self.resolutions),
            width or min(self.widths),
            (min(self.kernel_sizes),) * n,
            (min(self.expand_ratios),) * n,
            tuple(min(min(self.depths), s.max_depth) for s in self.stages),
        )

    def validate(self, arch: Arch) -> Arch:
        n = self.num_slots
        if len(arch.kernels) != n or len(arch.expands) != n or len(arch.depths) != len(self.stages):
            raise TinyMLError(
                f"arch has {len(arch.kernels)} slots and {len(arch.depths)} stages; the space has "
                f"{n} slots and {len(self.stages)} stages; use an arch sampled from this space"
            )
        for d, st in zip(arch.depths, self.stages):
            if not 1 <= d <= st.max_depth:
                raise TinyMLError(f"arch depth {d} outside 1..{st.max_depth}; use a depth from {self.depths}")
        return arch


def cifar_space(in_channels: int = 3, num_classes: int = 10) -> SearchSpace:
    """A small space for 32x32 CIFAR-like inputs and boards with tens of kB of SRAM."""
    stages = (StageSpec(16, 1, 3), StageSpec(24, 2, 4), StageSpec(40, 2, 4), StageSpec(64, 2, 3))
    return SearchSpace(in_channels, num_classes, 16, 2, 8, stages, 128)


def quick_space(in_channels: int = 1, num_classes: int = 10) -> SearchSpace:
    """A very small space for 16x16 inputs (the embedded digits data): trains in about a minute on a CPU."""
    stages = (StageSpec(16, 2, 3), StageSpec(24, 2, 3), StageSpec(32, 1, 2))
    return SearchSpace(
        in_channels,
        num_classes,
        8,
        1,
        8,
        stages,
        0,
        kernel_sizes=(3, 5),
        expand_ratios=(2, 3, 4),
        depths=(1, 2, 3),
        widths=(0.75, 1.0),
        resolutions=(12, 14, 16),
    )


def mcunet_space(in_channels: int = 3, num_classes: int = 1000) -> SearchSpace:
    """An MCUNet-like space for larger images (96..176 pixels)."""
    stages = (
        StageSpec(24, 2, 4),
        StageSpec(40, 2, 4),
        StageSpec(80, 2, 4),
        StageSpec(96, 1, 4),
        StageSpec(192, 2, 4),
        StageSpec(320, 1, 1),
    )
    return SearchSpace(
        in_channels,
        num_classes,
        32,
        2,
        16,
        stages,
        0,
        widths=(0.3, 0.4, 0.5, 0.75, 1.0),
        resolutions=(96, 112, 128, 144, 160, 176),
    )


# ---------------------------------------------------------------------------------------------- sampling


def sample(
    space: SearchSpace, rng: np.random.Generator, width: float | None = None, resolution: int | None = None
) -> Arch:
    """A uniformly random arch; width and resolution are drawn too unless fixed."""
    n = space.num_slots
    depths = tuple(
        int(rng.choice([d for d in space.depths if d <= s.max_depth] or [s.max_depth])) for s in space.stages
    )
    return Arch(
        int(resolution if resolution is not None else rng.choice(space.resolutions)),
        float(width if width is not None else rng.choice(space.widths)),
        tuple(int(k) for k in rng.choice(space.kernel_sizes, n)),
        tuple(int(e) for e in rng.choice(space.expand_ratios, n)),
        depths,
    )


def mutate(
    space: SearchSpace, arch: Arch, rng: np.random.Generator, prob: float = 0.1, elastic_res: bool = False
) -> Arch:
    """Resample each gene with probability `prob` (width is never mutated: it is fixed per supernet)."""
    fresh = sample(space, rng, width=arch.width)
    pick = lambda old, new: tuple(b if rng.random() < prob else a for a, b in zip(old, new))  # noqa: E731
    res = fresh.resolution if elastic_res and rng.random() < prob else arch.resolution
    return Arch(
        res,
        arch.width,
        pick(arch.kernels, fresh.kernels),
        pick(arch.expands, fresh.expands),
        pick(arch.depths, fresh.depths),
    )


def crossover(a: Arch, b: Arch, rng: np.random.Generator) -> Arch:
    """Each gene from either parent with equal probability."""
    pick = lambda x, y: tuple(p if rng.random() < 0.5 else q for p, q in zip(x, y))  # noqa: E731
    return Arch(
        a.resolution if rng.random() < 0.5 else b.resolution,
        a.width,
        pick(a.kernels, b.kernels),
        pick(a.expands, b.expands),
        pick(a.depths, b.depths),
    )


def with_depths(arch: Arch, depths: tuple[int, ...]) -> Arch:
    return replace(arch, depths=depths)


# ---------------------------------------------------------------------------------------------- geometry


@dataclass(frozen=True, slots=True)
class Step:
    """One layer of a static network. kind: conv, dw, add, pool, fc. Spatial sizes are the input's.
    `act` applies the activation to the step's output (conv, dw and add steps)."""

    name: str
    kind: str
    inputs: tuple[str, ...]
    cin: int
    cout: int
    kernel: int = 1
    stride: int = 1
    act: bool = False
    height: int = 0
    width: int = 0
    slot: int = -1  # supernet block slot, -1 for stem, first block, head and classifier
    relu6: bool = True  # the activation (when act) is ReLU6; False: plain ReLU
    bn: bool = True  # conv and dw steps: batch norm after the conv; False: the conv has a bias instead

    @property
    def out_hw(self) -> tuple[int, int]:
        return -(-self.height // self.stride), -(-self.width // self.stride)

    @property
    def macs(self) -> int:
        oh, ow = self.out_hw
        if self.kind == "conv":
            return oh * ow * self.cout * self.cin * self.kernel * self.kernel
        if self.kind == "dw":
            return oh * ow * self.cout * self.kernel * self.kernel
        return self.cin * self.cout if self.kind == "fc" else 0


def arch_steps(arch: Arch, space: SearchSpace) -> tuple[Step, ...]:
    """The layers of `arch` in execution order; each step's output tensor is named after the step."""
    space.validate(arch)
    w, h = arch.width, arch.resolution
    c0, c1 = space.channels(space.stem_channels, w), space.channels(space.first_channels, w)
    steps = [Step("stem", "conv", ("input",), space.in_channels, c0, 3, space.stem_stride, True, h, h)]
    h = steps[-1].out_hw[0]
    steps.append(Step("first.dw", "dw", ("stem",), c0, c0, 3, 1, True, h, h))
    steps.append(Step("first.project", "conv", ("first.dw",), c0, c1, 1, 1, False, h, h))
    x, cin, slot0 = "first.project", c1, 0
    for st, depth in zip(space.stages, arch.depths):
        cout = space.channels(st.channels, w)
        for j in range(depth):
            g, stride = slot0 + j, (st.stride if j == 0 else 1)
            mid, k, p = cin * arch.expands[g], arch.kernels[g], f"b{g}"
            steps.append(Step(f"{p}.expand", "conv", (x,), cin, mid, 1, 1, True, h, h, g))
            steps.append(Step(f"{p}.dw", "dw", (f"{p}.expand",), mid, mid, k, stride, True, h, h, g))
            h = steps[-1].out_hw[0]
            steps.append(Step(f"{p}.project", "conv", (f"{p}.dw",), mid, cout, 1, 1, False, h, h, g))
            y = f"{p}.project"
            if stride == 1 and cin == cout:
                steps.append(Step(f"{p}.add", "add", (x, y), cout, cout, height=h, width=h, slot=g))
                y = f"{p}.add"
            x, cin = y, cout
        slot0 += st.max_depth
    if space.head_channels:
        hc = space.channels(space.head_channels, w)
        steps.append(Step("head", "conv", (x,), cin, hc, 1, 1, True, h, h))
        x, cin = "head", hc
    steps.append(Step("pool", "pool", (x,), cin, cin, h, 1, False, h, h))
    steps.append(Step("classifier", "fc", ("pool",), cin, space.num_classes, height=1, width=1))
    return tuple(steps)


def macs(arch: Arch, space: SearchSpace) -> int:
    """Multiply-accumulates of one inference (conv, depthwise and fully connected layers)."""
    return sum(s.macs for s in arch_steps(arch, space))
