"""Batch-norm recalibration: recompute running statistics of a network on a few training batches."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..data import resize_uint8, to_input


@torch.no_grad()
def recalibrate(
    net: nn.Module, images: np.ndarray, batch_size: int = 256, forward=None, device: str | torch.device = "cpu"
) -> nn.Module:
    """Reset every BatchNorm's running stats and re-estimate them (exact averages) from uint8 NHWC `images`.

    `forward(net, x)` runs the network (default `net(x)`); pass one that gives the arch to a supernet. The images
    must already be at the network's input resolution. Returns `net` in eval mode.
    """
    net = net.to(device)
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over the calibration batches
    net.train()
    run = forward or (lambda n, x: n(x))
    for i in range(0, len(images), batch_size):
        run(net, to_input(images[i : i + batch_size]).to(device))
    for m, mom in zip(bns, saved):
        m.momentum = mom
    return net.eval()


def calibration_images(images: np.ndarray, resolution: int, count: int, seed: int = 0) -> np.ndarray:
    """A deterministic random subset of `count` images, resized to the resolution."""
    idx = np.random.default_rng(seed).permutation(len(images))[:count]
    return resize_uint8(images[np.sort(idx)], resolution)
