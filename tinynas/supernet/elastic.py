"""Elastic layers: each stores its largest weights and slices out the active part on every call.

The active kernel of an elastic depthwise conv is the centre crop of the next larger one, passed through a small
learned matrix per step (7 -> 5 -> 3), initialised to the identity so that training starts from plain cropping.
Padding follows TFLite's SAME rule (extra row/column at the bottom/right), so the int8 graph sees the same numbers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tinyengine_codegen.ir.ops import Padding
from tinyengine_codegen.ir.shapes import conv_out_pad


def same_padding(h: int, w: int, kernel: int, stride: int) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) zero padding of TFLite's SAME rule (the extra row/column at the bottom/right)."""
    if kernel == 1 and stride == 1:
        return 0, 0, 0, 0
    oh, top = conv_out_pad(h, kernel, stride, 1, Padding.SAME)
    ow, left = conv_out_pad(w, kernel, stride, 1, Padding.SAME)
    extra_h = max((oh - 1) * stride + kernel - h, 0)
    extra_w = max((ow - 1) * stride + kernel - w, 0)
    return left, extra_w - left, top, extra_h - top


def same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Zero-pad an NCHW tensor as TFLite's SAME padding does for this kernel and stride."""
    pads = same_padding(x.shape[-2], x.shape[-1], kernel, stride)
    return F.pad(x, pads) if any(pads) else x


def conv_same(
    x: torch.Tensor, weight: torch.Tensor, stride: int, groups: int = 1, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """conv2d with TFLite SAME padding; symmetric padding is left to the convolution (no separate pad op)."""
    left, right, top, bottom = same_padding(x.shape[-2], x.shape[-1], weight.shape[-1], stride)
    if left == right and top == bottom:
        return F.conv2d(x, weight, bias, stride, (top, left), 1, groups)
    return F.conv2d(F.pad(x, (left, right, top, bottom)), weight, bias, stride, 0, 1, groups)


def crop_kernel(w: torch.Tensor, k: int) -> torch.Tensor:
    start = (w.shape[-1] - k) // 2
    return w[..., start : start + k, start : start + k]


class ElasticDepthwise(nn.Module):
    """Depthwise conv over the first `c` channels with an active kernel size from `kernel_sizes`."""

    def __init__(self, channels: int, kernel_sizes: tuple[int, ...], stride: int):
        super().__init__()
        self.kernel_sizes = tuple(sorted(kernel_sizes, reverse=True))
        self.stride = stride
        kmax = self.kernel_sizes[0]
        self.weight = nn.Parameter(torch.empty(channels, 1, kmax, kmax))
        nn.init.kaiming_normal_(self.weight, mode="fan_out")
        self.transforms = nn.ParameterDict(
            {f"{a}to{b}": nn.Parameter(torch.eye(b * b)) for a, b in zip(self.kernel_sizes, self.kernel_sizes[1:])}
        )

    def kernel_weight(self, kernel: int) -> torch.Tensor:
        """The full-channel weight at an active kernel size (crop and transform, 7 -> 5 -> 3)."""
        if kernel not in self.kernel_sizes:
            raise ValueError(f"kernel {kernel} not in {self.kernel_sizes}")
        w, channels = self.weight, self.weight.shape[0]
        for a, b in zip(self.kernel_sizes, self.kernel_sizes[1:]):
            if a == kernel:
                break
            w = crop_kernel(w, b).reshape(channels, b * b) @ self.transforms[f"{a}to{b}"]
            w = w.reshape(channels, 1, b, b)
        return w

    def active_weight(self, channels: int, kernel: int, cache: dict | None = None) -> torch.Tensor:
        """The first `channels` channels at kernel size `kernel`. With `cache` (a dict kept for one training step,
        while the weights do not change), each kernel size is transformed once for all the sub-networks of the step."""
        if cache is None:
            w = self.kernel_weight(kernel)
        else:
            key = (id(self), kernel)
            if key not in cache:
                cache[key] = self.kernel_weight(kernel)
            w = cache[key]
        return w if channels == w.shape[0] else w[:channels]

    def forward(self, x: torch.Tensor, kernel: int, cache: dict | None = None) -> torch.Tensor:
        c = x.shape[1]
        return conv_same(x, self.active_weight(c, kernel, cache), self.stride, groups=c)


class ElasticPointwise(nn.Module):
    """1x1 conv (or a fixed k x k conv) using the first `cin` input and `cout` output channels of its weight."""

    def __init__(self, cin: int, cout: int, kernel: int = 1, stride: int = 1):
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.weight = nn.Parameter(torch.empty(cout, cin, kernel, kernel))
        nn.init.kaiming_normal_(self.weight, mode="fan_out")

    def active_weight(self, cin: int, cout: int) -> torch.Tensor:
        w = self.weight
        if cout == w.shape[0] and cin == w.shape[1]:
            return w  # the whole weight: no slice (and no slice backward) in the graph
        return w[:cout, :cin]

    def forward(self, x: torch.Tensor, cout: int) -> torch.Tensor:
        return conv_same(x, self.active_weight(x.shape[1], cout), self.stride)


class ElasticBatchNorm(nn.Module):
    """Batch norm over the first channels of its largest statistics (running stats are updated in place)."""

    def __init__(self, channels: int, momentum: float = 0.1, eps: float = 1e-5):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, momentum=momentum, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, bn = x.shape[1], self.bn
        if c == bn.num_features:
            return bn(x)
        use_batch = bn.training or not bn.track_running_stats
        momentum = bn.momentum if bn.momentum is not None else 0.0
        if bn.training and bn.momentum is None:  # cumulative average, as nn.BatchNorm2d does
            bn.num_batches_tracked += 1
            momentum = 1.0 / float(bn.num_batches_tracked)
        return F.batch_norm(
            x, bn.running_mean[:c], bn.running_var[:c], bn.weight[:c], bn.bias[:c], use_batch, momentum, bn.eps
        )

    def active(self, c: int) -> dict[str, torch.Tensor]:
        bn = self.bn
        return {
            "weight": bn.weight[:c],
            "bias": bn.bias[:c],
            "running_mean": bn.running_mean[:c],
            "running_var": bn.running_var[:c],
        }


class ElasticLinear(nn.Module):
    """Fully connected layer over the first `in_features` inputs of its weight."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.linear.weight
        return F.linear(x, w if x.shape[1] == w.shape[1] else w[:, : x.shape[1]], self.linear.bias)
