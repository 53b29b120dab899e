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


def same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Zero-pad an NCHW tensor as TFLite's SAME padding does for this kernel and stride."""
    if kernel == 1 and stride == 1:
        return x
    h, w = x.shape[-2:]
    oh, top = conv_out_pad(h, kernel, stride, 1, Padding.SAME)
    ow, left = conv_out_pad(w, kernel, stride, 1, Padding.SAME)
    extra_h = max((oh - 1) * stride + kernel - h, 0)
    extra_w = max((ow - 1) * stride + kernel - w, 0)
    return F.pad(x, (left, extra_w - left, top, extra_h - top))


def crop_kernel(w: torch.Tensor, k: int) -> torch.Tensor:
    start = (w.shape[-1] - k) // 2
    return w[..., start:start + k, start:start + k]


class ElasticDepthwise(nn.Module):
    """Depthwise conv over the first `c` channels with an active kernel size from `kernel_sizes`."""

    def __init__(self, channels: int, kernel_sizes: tuple[int, ...], stride: int):
        super().__init__()
        self.kernel_sizes = tuple(sorted(kernel_sizes, reverse=True))
        self.stride = stride
        kmax = self.kernel_sizes[0]
        self.weight = nn.Parameter(torch.empty(channels, 1, kmax, kmax))
        nn.init.kaiming_normal_(self.weight, mode="fan_out")
        self.transforms = nn.ParameterDict({
            f"{a}to{b}": nn.Parameter(torch.eye(b * b)) for a, b in zip(self.kernel_sizes, self.kernel_sizes[1:])})

    def active_weight(self, channels: int, kernel: int) -> torch.Tensor:
        if kernel not in self.kernel_sizes:
            raise ValueError(f"kernel {kernel} not in {self.kernel_sizes}")
        w = self.weight[:channels]
        for a, b in zip(self.kernel_sizes, self.kernel_sizes[1:]):
            if a == kernel:
                break
            w = crop_kernel(w, b).reshape(channels, b * b) @ self.transforms[f"{a}to{b}"]
            w = w.reshape(channels, 1, b, b)
        return w

    def forward(self, x: torch.Tensor, kernel: int) -> torch.Tensor:
        c = x.shape[1]
        return F.conv2d(same_pad(x, kernel, self.stride), self.active_weight(c, kernel), None, self.stride, 0, 1, c)


class ElasticPointwise(nn.Module):
    """1x1 conv (or a fixed k x k conv) using the first `cin` input and `cout` output channels of its weight."""

    def __init__(self, cin: int, cout: int, kernel: int = 1, stride: int = 1):
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.weight = nn.Parameter(torch.empty(cout, cin, kernel, kernel))
        nn.init.kaiming_normal_(self.weight, mode="fan_out")

    def active_weight(self, cin: int, cout: int) -> torch.Tensor:
        return self.weight[:cout, :cin]

    def forward(self, x: torch.Tensor, cout: int) -> torch.Tensor:
        w = self.active_weight(x.shape[1], cout)
        return F.conv2d(same_pad(x, self.kernel, self.stride), w, None, self.stride)


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
        if bn.training and bn.momentum is None:   # cumulative average, as nn.BatchNorm2d does
            bn.num_batches_tracked += 1
            momentum = 1.0 / float(bn.num_batches_tracked)
        return F.batch_norm(x, bn.running_mean[:c], bn.running_var[:c], bn.weight[:c], bn.bias[:c],
                            use_batch, momentum, bn.eps)

    def active(self, c: int) -> dict[str, torch.Tensor]:
        bn = self.bn
        return {"weight": bn.weight[:c], "bias": bn.bias[:c], "running_mean": bn.running_mean[:c],
                "running_var": bn.running_var[:c]}


class ElasticLinear(nn.Module):
    """Fully connected layer over the first `in_features` inputs of its weight."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.linear.weight[:, :x.shape[1]], self.linear.bias)
