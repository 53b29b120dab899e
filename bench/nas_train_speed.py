"""Supernet training speed: steps per second of one progressive-shrinking phase on synthetic CIFAR-sized data.

    python bench/nas_train_speed.py --device cuda --phase kernel --batch 128 --steps 60 [--channels-last]
        [--cudnn-benchmark] [--json out.json]

Each step is what `train_supernet` runs: the largest network on the labels plus `--subnets` sampled
sub-networks (in-place distillation in the elastic phases), then the optimizer step. Images are random (timing only);
the first `--warmup` steps are not timed. Prints one table row per run and the first losses (for comparing versions).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.append(str(Path(__file__).resolve().parents[1]))  # after PYTHONPATH: compare versions

from tinynas.space import cifar_space
from tinynas.supernet.mbv2 import Supernet
from tinynas.train import loop
from tinynas.train.schedule import progressive_shrinking


def measure(args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    space = cifar_space(3, 10)
    phase = {p.name: p for p in progressive_shrinking(space, 1, 1, 0.1, args.subnets)}[args.phase]
    torch.manual_seed(args.seed)
    net = Supernet(space, args.width).to(device).train()
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    net.to(memory_format=fmt)
    cfg = loop.TrainConfig(args.resolution, args.batch, seed=args.seed)
    opt = loop._optimizer(net, cfg)
    for g in opt.param_groups:
        g["lr"] = 0.01
    gen = torch.Generator().manual_seed(args.seed)
    xs = torch.randn(args.steps, args.batch, 3, args.resolution, args.resolution, generator=gen)
    ys = torch.randint(0, 10, (args.steps, args.batch), generator=gen)
    amp = device.type == "cuda" and not args.no_amp
    losses, times = [], []
    with torch.backends.cudnn.flags(enabled=True, benchmark=args.cudnn_benchmark):
        for s in range(args.steps):
            x, y = xs[s].to(device).contiguous(memory_format=fmt), ys[s].to(device)
            if device.type == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss = loop._step(net, phase, x, y, np.random.default_rng([args.seed, 1, 0, s]), cfg, amp)
            opt.step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t)
            losses.append(float(loss))
    timed = np.asarray(times[args.warmup :])
    return {
        "phase": args.phase,
        "device": loop.device_name(device),
        "batch": args.batch,
        "channels_last": args.channels_last,
        "cudnn_benchmark": args.cudnn_benchmark,
        "ms_per_step": round(1000 * float(np.median(timed)), 2),
        "steps_per_s": round(1 / float(np.median(timed)), 2),
        "first_losses": [round(v, 6) for v in losses[:4]],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--phase", default="kernel", choices=("full", "kernel", "depth", "expand"))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--subnets", type=int, default=2)
    ap.add_argument("--resolution", type=int, default=28)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (torch.set_num_threads)")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--cudnn-benchmark", action="store_true")
    ap.add_argument("--no-amp", action="store_true", help="float32 on CUDA too")
    ap.add_argument("--json", type=Path, default=None, help="append the result as one JSON line")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    row = measure(args)
    print(json.dumps(row))
    if args.json:
        with args.json.open("a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
