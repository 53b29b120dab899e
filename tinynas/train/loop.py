"""One training loop for every progressive-shrinking phase.

Each step of an elastic phase trains `subnets_per_step` random sub-networks of the phase's space. With a frozen
teacher (once-for-all), a copy of the full network taken when the first elastic phase starts gives soft targets
and every sub-network learns from the labels and the teacher; with in-place distillation (BigNAS), the largest
network is trained on the labels in the same step and the sub-networks learn from its predictions.
Sub-networks are drawn from a numpy Generator seeded by (seed, phase, epoch, step), so every process of a
distributed run trains the same sub-networks and a resumed run draws what the interrupted one would have.
Augmentation draws its random numbers on the training device (no host synchronisation per step). The rate follows
a cosine per phase after a linear warm-up. Under torch.distributed each process reads its own DistributedSampler
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
    warmup_epochs: float = 0.0  # linear warm-up of the rate at the start of every phase (at most a fifth of it)
    distill_weight: float = 1.0  # weight of the teacher's soft targets beside the labels (frozen teacher)


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


def lr_at(peak: float, step: int, steps: int, warmup_steps: int) -> float:
    """Linear warm-up over `warmup_steps`, then a cosine from `peak` to zero at `steps`."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    t = (step - warmup_steps) / max(1, steps - warmup_steps)
    return 0.5 * peak * (1 + math.cos(math.pi * t))


def _warmup_steps(cfg: TrainConfig, steps_per_epoch: int, epochs: int) -> int:
    return int(min(cfg.warmup_epochs * steps_per_epoch, 0.2 * epochs * steps_per_epoch))


def soft_cross_entropy(logits: torch.Tensor, target_probs: torch.Tensor) -> torch.Tensor:
    return -(target_probs * logits.log_softmax(1)).sum(1).mean()


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
    net: Supernet,
    phase: Phase,
    x: torch.Tensor,
    y: torch.Tensor,
    rng: np.random.Generator,
    cfg: TrainConfig,
    amp: bool,
    teacher: Supernet | None = None,
) -> torch.Tensor:
    """Gradients of one step of `phase`; returns the mean loss of the trained networks (on the device: no host
    sync).

    Full phase: the largest network on the labels. Frozen teacher: the sampled sub-networks on the labels plus the
    teacher's soft targets (the teacher runs without gradients). In-place distillation: the largest network on the
    labels, the sub-networks on its detached predictions. All losses go through one backward (the gradient of the
    sum is the sum of the gradients), so the depthwise kernel transforms are computed once per step and shared by
    the sub-networks (`cache`)."""
    space = restrict(net.space, phase)
    archs = [sample(space, rng, width=net.width, resolution=cfg.resolution) for _ in range(phase.subnets_per_step)]
    largest = space.largest(net.width, cfg.resolution)
    cache: dict = {}
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
        if phase.frozen_teacher and phase.distill and archs:
            if teacher is None:
                raise ValueError(f"phase '{phase.name}' distils from a frozen teacher; pass one")
            with torch.no_grad():
                soft = teacher(x, net.space.largest(net.width, cfg.resolution)).float().softmax(1)
            losses = []
            for arch in archs:
                out = net(x, arch, cache=cache).float()
                ce = F.cross_entropy(out, y, label_smoothing=cfg.label_smoothing)
                losses.append(ce + cfg.distill_weight * soft_cross_entropy(out, soft))
        else:
            logits = net(x, largest, cache=cache).float()
            losses = [F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)]
            soft = logits.detach().softmax(1)
            for arch in archs:
                out = net(x, arch, cache=cache).float()
                if phase.distill:
                    losses.append(soft_cross_entropy(out, soft))
                else:
                    losses.append(F.cross_entropy(out, y, label_smoothing=cfg.label_smoothing))
    total = losses[0] if len(losses) == 1 else torch.stack(losses).sum()
    total.backward()
    return total.detach() / len(losses)


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
    start, done, teacher = (0, 0), [], None
    if state is not None:
        with saved_file(cfg.checkpoint, "training checkpoint"):
            _restore(net, opt, state)
            start, done = (int(state["phase"]), int(state["epoch"])), list(state.get("history", ()))
            if state.get("teacher") is not None:
                teacher = _frozen_copy(net, device, fmt)
                teacher.load_state_dict(state["teacher"])
    sampler = DistributedSampler(range(len(y_all)), num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed)
    history = []
    with _cuda_flags(cfg, device):
        for pi, phase in enumerate(phases):
            for epoch in range(phase.epochs):
                if (pi, epoch) < start:
                    continue
                if epoch == 0 and phase.frozen_teacher and phase.subnets_per_step and teacher is None:
                    teacher = _frozen_copy(net, device, fmt)  # the full network as the first elastic phase starts
                if epoch == 0 and phase.sort_channels:
                    sort_expanded_channels(net, opt)
                    if teacher is not None:
                        sort_expanded_channels(teacher)
                t0 = time.time()
                sampler.set_epoch(pi * 10_000 + epoch)
                data_ = (x_all, y_all, data.flip)
                loss = _supernet_epoch(net, opt, phase, (pi, epoch), data_, sampler, cfg, fmt, teacher)
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
                            "teacher": teacher.state_dict() if teacher is not None else None,
                            "phase": pi,
                            "epoch": epoch + 1,
                            "history": done + history,
                            "config": {k: str(v) for k, v in asdict(cfg).items()},
                        },
                    )
                if progress:
                    progress(rec)
    net.teacher_state = teacher.state_dict() if teacher is not None else None
    return history


def _frozen_copy(net: Supernet, device, fmt) -> Supernet:
    import copy

    t = copy.deepcopy(net).to(device, memory_format=fmt)
    t.teacher_state = None
    for p in t.parameters():
        p.requires_grad_(False)
    return t.eval()


def _supernet_epoch(
    net: Supernet,
    opt,
    phase: Phase,
    at: tuple[int, int],
    data: tuple,
    sampler,
    cfg: TrainConfig,
    fmt: torch.memory_format,
    teacher: Supernet | None = None,
) -> float:
    """One epoch of `phase` (index, epoch) = `at`; returns its mean loss."""
    (pi, epoch), (x_all, y_all, flip) = at, data
    rank, world = _world()
    device = x_all.device
    amp = cfg.amp and device.type == "cuda"
    net.train()
    order = torch.tensor(list(sampler), device=device)
    steps = max(1, len(order) // cfg.batch_size)
    warm = _warmup_steps(cfg, steps, phase.epochs)
    gen = torch.Generator(device=device).manual_seed(cfg.seed * 1_000_003 + pi * 10_007 + epoch * 101 + rank)
    losses = []
    for s in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(phase.lr, epoch * steps + s, phase.epochs * steps, warm)
        idx = order[s * cfg.batch_size : (s + 1) * cfg.batch_size]
        x = augment(to_input(x_all[idx]), gen, cfg.augment_pad, flip).contiguous(memory_format=fmt)
        opt.zero_grad(set_to_none=True)
        rng = np.random.default_rng([cfg.seed, pi, epoch, s])
        losses.append(_step(net, phase, x, y_all[idx], rng, cfg, amp, teacher))
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
    teacher: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.nn.Module:
    """Plain training of a static network (cosine rate from `lr` after the warm-up, bfloat16 autocast on CUDA),
    single process; with `teacher` (a frozen network's forward), the loss adds its soft targets to the labels;
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
    gen = torch.Generator(device=device).manual_seed(cfg.seed + 7)
    steps = max(1, len(y_all) // cfg.batch_size)
    warm = _warmup_steps(cfg, steps, epochs)
    state, done = load_checkpoint(cfg.checkpoint, device), []
    if state is not None:
        with saved_file(cfg.checkpoint, "fine-tuning checkpoint"):
            _restore(net, opt, state)
            gen.set_state(state["generator"].cpu())  # a generator's state is a CPU byte tensor on every device
            done = list(state["history"])
    with _cuda_flags(cfg, device):
        for epoch in range(len(done), epochs):
            t0 = time.time()
            order = torch.randperm(len(y_all), generator=gen, device=device)
            losses = []
            for s in range(steps):
                for g in opt.param_groups:
                    g["lr"] = lr_at(lr, epoch * steps + s, epochs * steps, warm)
                idx = order[s * cfg.batch_size : (s + 1) * cfg.batch_size]
                x = augment(to_input(x_all[idx]), gen, cfg.augment_pad, data.flip).contiguous(memory_format=fmt)
                opt.zero_grad(set_to_none=True)
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                    out = net(x).float()
                    loss = F.cross_entropy(out, y_all[idx], label_smoothing=cfg.label_smoothing)
                    if teacher is not None:
                        with torch.no_grad():
                            soft = teacher(x).float().softmax(1)
                        loss = loss + cfg.distill_weight * soft_cross_entropy(out, soft)
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
