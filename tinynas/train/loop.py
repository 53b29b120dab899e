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
import pickle
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data import DistributedSampler

from ..data import Dataset, augment, resize_uint8, to_input
from ..space import sample
from ..state import saved_file
from ..supernet.mbv2 import Supernet
from .bn_calib import recalibrate
from .schedule import Phase, restrict

Progress = Callable[[dict], None]


@dataclass(frozen=True, slots=True)
class TrainConfig:
    resolution: int
    batch_size: int = 128  # per process
    weight_decay: float = 4e-5
    momentum: float = 0.9
    label_smoothing: float = 0.1
    augment_pad: int = 2
    seed: int = 0
    amp: bool = True  # bfloat16 autocast, on CUDA only
    checkpoint: Path | None = None  # per-epoch checkpoint file: written atomically, resumed from when present
    cudnn_benchmark: bool = True  # CUDA: let cuDNN time its algorithms per shape (not a training semantic)
    channels_last: bool = False  # CUDA: NHWC activations and weights (same results, other kernels)


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
    return torch.optim.SGD(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0}],
        lr=0.0,
        momentum=cfg.momentum,
        nesterov=True,
    )


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
        p.grad.copy_(flat[i : i + p.numel()].view_as(p))
        i += p.numel()


def _step(
    net: Supernet, phase: Phase, x: torch.Tensor, y: torch.Tensor, rng: np.random.Generator, cfg: TrainConfig, amp: bool
) -> torch.Tensor:
    """Gradients of the largest network (on the labels) and of the sampled sub-networks (on the largest one's
    predictions, or the labels without distillation); returns their mean loss (on the device: no host sync).

    The largest network is trained, so its forward keeps its graph; its detached output is the teacher. All
    losses go through one backward (the gradient of the sum is the sum of the gradients), so the depthwise kernel
    transforms are computed once per step and shared by the sub-networks (`cache`)."""
    space = restrict(net.space, phase)
    archs = [sample(space, rng, width=net.width, resolution=cfg.resolution) for _ in range(phase.subnets_per_step)]
    cache: dict = {}
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
        logits = net(x, space.largest(net.width, cfg.resolution), cache=cache).float()
        losses = [F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)]
        soft = logits.detach().softmax(1)
        for arch in archs:
            out = net(x, arch, cache=cache).float()
            if phase.distill:
                losses.append(-(soft * out.log_softmax(1)).sum(1).mean())
            else:
                losses.append(F.cross_entropy(out, y, label_smoothing=cfg.label_smoothing))
    total = losses[0] if len(losses) == 1 else torch.stack(losses).sum()
    total.backward()
    return total.detach() / len(losses)


def save_checkpoint(path: Path, state: dict) -> None:
    """torch.save to a temporary sibling, then rename: a killed process leaves the previous checkpoint intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path | None, device) -> dict | None:
    if path is None or not Path(path).is_file():
        return None
    with saved_file(path, "training checkpoint"):
        try:
            state = torch.load(path, map_location=device, weights_only=False)
        except (RuntimeError, pickle.UnpicklingError, OSError) as exc:  # a truncated or foreign file
            raise ValueError(str(exc)) from None
        if not isinstance(state, dict):
            raise TypeError("not a checkpoint")
        return state


def _restore(net, opt, state: dict) -> None:
    """Weights and optimizer state from a checkpoint; tensors of the wrong shape raise ValueError."""
    try:
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
    except RuntimeError as exc:
        raise ValueError(str(exc)) from None


def saved_history(path: Path | None) -> list[dict]:
    """The per-epoch records kept in a checkpoint of `train_supernet` or `finetune`, from every run that added to
    it ([] without one). Older supernet checkpoints have no records: one placeholder per completed epoch then."""
    state = load_checkpoint(path, "cpu")
    if state is None:
        return []
    if "history" in state:
        return list(state["history"])
    return [{"epoch": None}] * int(state.get("epochs_done", 0))


def _cuda_flags(cfg: TrainConfig, device: torch.device):
    return torch.backends.cudnn.flags(
        enabled=torch.backends.cudnn.enabled, benchmark=cfg.cudnn_benchmark and device.type == "cuda"
    )


def _memory_format(cfg: TrainConfig, device: torch.device) -> torch.memory_format:
    return torch.channels_last if cfg.channels_last and device.type == "cuda" else torch.contiguous_format


def train_supernet(
    net: Supernet,
    data: Dataset,
    phases: tuple[Phase, ...],
    cfg: TrainConfig,
    device: str | torch.device = "cpu",
    progress: Progress | None = None,
) -> list[dict]:
    """Train `net` through `phases` on the training split of `data`; returns one record per epoch run by this
    call (epochs restored from `cfg.checkpoint` are skipped; `saved_history` lists all of them)."""
    rank, world = _world()
    device = torch.device(device)
    fmt = _memory_format(cfg, device)
    net.to(device, memory_format=fmt)
    x_all = torch.from_numpy(resize_uint8(data.x_train, cfg.resolution)).to(device)
    y_all = torch.from_numpy(data.y_train).to(device)
    opt = _optimizer(net, cfg)
    state = load_checkpoint(cfg.checkpoint, device)
    start, done = (0, 0), []
    if state is not None:
        with saved_file(cfg.checkpoint, "training checkpoint"):
            _restore(net, opt, state)
            start, done = (int(state["phase"]), int(state["epoch"])), list(state.get("history", ()))
    sampler = DistributedSampler(range(len(y_all)), num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed)
    history = []
    with _cuda_flags(cfg, device):
        for pi, phase in enumerate(phases):
            for epoch in range(phase.epochs):
                if (pi, epoch) < start:
                    continue
                t0 = time.time()
                sampler.set_epoch(pi * 10_000 + epoch)
                loss = _supernet_epoch(net, opt, phase, (pi, epoch), (x_all, y_all, data.flip), sampler, cfg, fmt)
                rec = {
                    "phase": phase.name,
                    "epoch": epoch + 1,
                    "epochs": phase.epochs,
                    "loss": loss,
                    "seconds": time.time() - t0,
                }
                history.append(rec)
                if cfg.checkpoint is not None and rank == 0:
                    save_checkpoint(
                        cfg.checkpoint,
                        {
                            "model": net.state_dict(),
                            "optimizer": opt.state_dict(),
                            "phase": pi,
                            "epoch": epoch + 1,
                            "history": done + history,
                            "config": {k: str(v) for k, v in asdict(cfg).items()},
                        },
                    )
                if progress:
                    progress(rec)
    return history


def _supernet_epoch(
    net: Supernet,
    opt,
    phase: Phase,
    at: tuple[int, int],
    data: tuple,
    sampler,
    cfg: TrainConfig,
    fmt: torch.memory_format,
) -> float:
    """One epoch of `phase` (index, epoch) = `at`; returns its mean loss."""
    (pi, epoch), (x_all, y_all, flip) = at, data
    rank, world = _world()
    device = x_all.device
    amp = cfg.amp and device.type == "cuda"
    net.train()
    order = torch.tensor(list(sampler), device=device)
    steps = max(1, len(order) // cfg.batch_size)
    gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + pi * 10_007 + epoch * 101 + rank)
    losses = []
    for s in range(steps):
        t = (epoch * steps + s) / (phase.epochs * steps)
        for g in opt.param_groups:
            g["lr"] = 0.5 * phase.lr * (1 + math.cos(math.pi * t))
        idx = order[s * cfg.batch_size : (s + 1) * cfg.batch_size]
        x = augment(to_input(x_all[idx]), gen, cfg.augment_pad, flip).contiguous(memory_format=fmt)
        opt.zero_grad(set_to_none=True)
        rng = np.random.default_rng([cfg.seed, pi, epoch, s])
        losses.append(_step(net, phase, x, y_all[idx], rng, cfg, amp))
        _sync_grads(net, world)
        opt.step()
    return float(torch.stack(losses).mean())


@torch.no_grad()
def evaluate(
    forward: Callable[[torch.Tensor], torch.Tensor],
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int = 512,
    device: str | torch.device = "cpu",
) -> float:
    """Top-1 accuracy of `forward` on uint8 NHWC images already at the network's resolution."""
    correct = 0
    for i in range(0, len(labels), batch_size):
        out = forward(to_input(images[i : i + batch_size]).to(device))
        correct += int((out.argmax(1).cpu() == torch.as_tensor(labels[i : i + batch_size])).sum())
    return correct / max(1, len(labels))


def finetune(
    net: torch.nn.Module,
    data: Dataset,
    cfg: TrainConfig,
    epochs: int,
    lr: float,
    device: str | torch.device = "cpu",
    progress: Progress | None = None,
) -> torch.nn.Module:
    """Plain training of a static network (cosine rate from `lr`, bfloat16 autocast on CUDA), single process;
    batch norm is recalibrated on the (unaugmented) training images at the end. Returns the network in eval mode.
    Progress records carry the epoch's mean loss and seconds. With `cfg.checkpoint`, the weights, optimizer,
    random generator and epoch are saved after every epoch, and a later call resumes after the last saved epoch
    (the result equals an uninterrupted run's)."""
    device = torch.device(device)
    amp = cfg.amp and device.type == "cuda"
    fmt = _memory_format(cfg, device)
    net.to(device, memory_format=fmt).train()
    x_all = torch.from_numpy(resize_uint8(data.x_train, cfg.resolution)).to(device)
    y_all = torch.from_numpy(data.y_train).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=cfg.momentum, nesterov=True, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed + 7)
    steps = max(1, len(y_all) // cfg.batch_size)
    state, done = load_checkpoint(cfg.checkpoint, device), []
    if state is not None:
        with saved_file(cfg.checkpoint, "fine-tuning checkpoint"):
            _restore(net, opt, state)
            gen.set_state(state["generator"].cpu())
            done = list(state["history"])
    with _cuda_flags(cfg, device):
        for epoch in range(len(done), epochs):
            t0 = time.time()
            order = torch.randperm(len(y_all), generator=gen).to(device)
            losses = []
            for s in range(steps):
                for g in opt.param_groups:
                    g["lr"] = 0.5 * lr * (1 + math.cos(math.pi * (epoch * steps + s) / (epochs * steps)))
                idx = order[s * cfg.batch_size : (s + 1) * cfg.batch_size]
                x = augment(to_input(x_all[idx]), gen, cfg.augment_pad, data.flip).contiguous(memory_format=fmt)
                opt.zero_grad(set_to_none=True)
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                    loss = F.cross_entropy(net(x).float(), y_all[idx], label_smoothing=cfg.label_smoothing)
                loss.backward()
                opt.step()
                losses.append(loss.detach())
            rec = {
                "phase": "finetune",
                "epoch": epoch + 1,
                "epochs": epochs,
                "loss": float(torch.stack(losses).mean()),
                "seconds": time.time() - t0,
            }
            done.append(rec)
            if cfg.checkpoint is not None:
                save_checkpoint(
                    cfg.checkpoint,
                    {
                        "model": net.state_dict(),
                        "optimizer": opt.state_dict(),
                        "generator": gen.get_state(),
                        "history": done,
                    },
                )
            if progress:
                progress(rec)
    return recalibrate(net, resize_uint8(data.x_train, cfg.resolution), device=device)
