"""One training loop for every progressive-shrinking phase.

Each step trains the largest network of the phase on the labels, then `subnets_per_step` random sub-networks on the
largest network's predictions (in-place distillation). Sub-networks are drawn from a numpy Generator seeded by
(seed, phase, epoch, step), so every process of a distributed run trains the same sub-networks and a resumed run
draws what the interrupted one would have. Under torch.distributed each process reads its own DistributedSampler
shard and gradients are averaged with all_reduce before the optimizer step. Checkpoints are written after every
epoch (rank 0, atomically) and a run resumes from the epoch after the last one saved.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data import DistributedSampler

from ..data import Dataset, augment, resize_uint8, to_input
from ..space import sample
from ..supernet.mbv2 import Supernet
from .bn_calib import recalibrate
from .schedule import Phase, restrict

Progress = Callable[[dict], None]


@dataclass(frozen=True, slots=True)
class TrainConfig:
    resolution: int
    batch_size: int = 128            # per process
    weight_decay: float = 4e-5
    momentum: float = 0.9
    label_smoothing: float = 0.1
    augment_pad: int = 2
    seed: int = 0
    amp: bool = True                 # bfloat16 autocast, on CUDA only
    checkpoint: Path | None = None


def device_name(device: str | torch.device) -> str:
    """What a run trained on, for reports: the GPU's name, or the CPU architecture."""
    d = torch.device(device)
    if d.type == "cuda" and torch.cuda.is_available():
        return torch.cuda.get_device_name(d)
    import platform

    return f"cpu ({platform.machine() or 'unknown'})"


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _optimizer(net: Supernet, cfg: TrainConfig) -> torch.optim.Optimizer:
    decay = [p for n, p in net.named_parameters() if p.ndim >= 2 and "transforms" not in n]
    rest = [p for n, p in net.named_parameters() if not (p.ndim >= 2 and "transforms" not in n)]
    return torch.optim.SGD([{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0}],
                           lr=0.0, momentum=cfg.momentum, nesterov=True)


def _sync_grads(net: Supernet, world: int) -> None:
    if world == 1:
        return
    params = list(net.parameters())
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    dist.all_reduce(flat)
    flat /= world
    i = 0
    for p in params:
        p.grad.copy_(flat[i:i + p.numel()].view_as(p))
        i += p.numel()


def _step(net: Supernet, phase: Phase, x: torch.Tensor, y: torch.Tensor, rng: np.random.Generator,
          cfg: TrainConfig, amp: bool) -> torch.Tensor:
    """Backward of the largest network and the sampled sub-networks; returns their mean loss (on the device: no
    host synchronisation per step)."""
    space = restrict(net.space, phase)
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
        logits = net(x, space.largest(net.width, cfg.resolution))
        loss = F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)
    loss.backward()
    total = loss.detach()
    soft = logits.detach().float().softmax(1)
    for _ in range(phase.subnets_per_step):
        arch = sample(space, rng, width=net.width, resolution=cfg.resolution)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            out = net(x, arch).float()
        if phase.distill:
            sub = -(soft * out.log_softmax(1)).sum(1).mean()
        else:
            sub = F.cross_entropy(out, y, label_smoothing=cfg.label_smoothing)
        sub.backward()
        total = total + sub.detach()
    return total / (1 + phase.subnets_per_step)


def _save(path: Path, net: Supernet, opt, phase_idx: int, epoch: int, cfg: TrainConfig) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "phase": phase_idx, "epoch": epoch,
                "config": {k: str(v) for k, v in asdict(cfg).items()}}, tmp)
    tmp.replace(path)


def _resume(path: Path | None, net: Supernet, opt, device) -> tuple[int, int]:
    if path is None or not Path(path).is_file():
        return 0, 0
    state = torch.load(path, map_location=device, weights_only=False)
    net.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    return int(state["phase"]), int(state["epoch"])


def train_supernet(net: Supernet, data: Dataset, phases: tuple[Phase, ...], cfg: TrainConfig,
                   device: str | torch.device = "cpu", progress: Progress | None = None) -> list[dict]:
    """Train `net` through `phases` on the training split of `data`; returns one record per epoch."""
    rank, world = _world()
    device = torch.device(device)
    amp = cfg.amp and device.type == "cuda"
    net.to(device)
    x_all = torch.from_numpy(resize_uint8(data.x_train, cfg.resolution)).to(device)
    y_all = torch.from_numpy(data.y_train).to(device)
    opt = _optimizer(net, cfg)
    start_phase, start_epoch = _resume(cfg.checkpoint, net, opt, device)
    sampler = DistributedSampler(range(len(y_all)), num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed)
    history = []
    for pi, phase in enumerate(phases):
        for epoch in range(phase.epochs):
            if (pi, epoch) < (start_phase, start_epoch):
                continue
            t0 = time.time()
            net.train()
            sampler.set_epoch(pi * 10_000 + epoch)
            order = torch.tensor(list(sampler), device=device)
            steps = max(1, len(order) // cfg.batch_size)
            gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + pi * 10_007 + epoch * 101 + rank)
            losses = []
            for s in range(steps):
                t = (epoch * steps + s) / (phase.epochs * steps)
                for g in opt.param_groups:
                    g["lr"] = 0.5 * phase.lr * (1 + math.cos(math.pi * t))
                idx = order[s * cfg.batch_size:(s + 1) * cfg.batch_size]
                x = augment(to_input(x_all[idx]), gen, cfg.augment_pad, data.flip)
                opt.zero_grad(set_to_none=True)
                rng = np.random.default_rng([cfg.seed, pi, epoch, s])
                losses.append(_step(net, phase, x, y_all[idx], rng, cfg, amp))
                _sync_grads(net, world)
                opt.step()
            rec = {"phase": phase.name, "epoch": epoch + 1, "epochs": phase.epochs,
                   "loss": float(torch.stack(losses).mean()),
                   "seconds": time.time() - t0}
            history.append(rec)
            if cfg.checkpoint is not None and rank == 0:
                _save(Path(cfg.checkpoint), net, opt, pi, epoch + 1, cfg)
            if progress:
                progress(rec)
    return history


@torch.no_grad()
def evaluate(forward: Callable[[torch.Tensor], torch.Tensor], images: np.ndarray, labels: np.ndarray,
             batch_size: int = 512, device: str | torch.device = "cpu") -> float:
    """Top-1 accuracy of `forward` on uint8 NHWC images already at the network's resolution."""
    correct = 0
    for i in range(0, len(labels), batch_size):
        out = forward(to_input(images[i:i + batch_size]).to(device))
        correct += int((out.argmax(1).cpu() == torch.as_tensor(labels[i:i + batch_size])).sum())
    return correct / max(1, len(labels))


def finetune(net: torch.nn.Module, data: Dataset, cfg: TrainConfig, epochs: int, lr: float,
             device: str | torch.device = "cpu", progress: Progress | None = None) -> torch.nn.Module:
    """Plain training of a static network (cosine rate from `lr`, bfloat16 autocast on CUDA), single process;
    batch norm is recalibrated on the (unaugmented) training images at the end. Returns the network in eval mode.
    Progress records carry the epoch's mean loss and seconds."""
    device = torch.device(device)
    amp = cfg.amp and device.type == "cuda"
    net.to(device).train()
    x_all = torch.from_numpy(resize_uint8(data.x_train, cfg.resolution)).to(device)
    y_all = torch.from_numpy(data.y_train).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=cfg.momentum, nesterov=True,
                          weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed + 7)
    steps = max(1, len(y_all) // cfg.batch_size)
    for epoch in range(epochs):
        t0 = time.time()
        order = torch.randperm(len(y_all), generator=gen).to(device)
        losses = []
        for s in range(steps):
            for g in opt.param_groups:
                g["lr"] = 0.5 * lr * (1 + math.cos(math.pi * (epoch * steps + s) / (epochs * steps)))
            idx = order[s * cfg.batch_size:(s + 1) * cfg.batch_size]
            x = augment(to_input(x_all[idx]), gen, cfg.augment_pad, data.flip)
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                loss = F.cross_entropy(net(x).float(), y_all[idx], label_smoothing=cfg.label_smoothing)
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        if progress:
            progress({"phase": "finetune", "epoch": epoch + 1, "epochs": epochs,
                      "loss": float(torch.stack(losses).mean()), "seconds": time.time() - t0})
    return recalibrate(net, resize_uint8(data.x_train, cfg.resolution), device=device)
