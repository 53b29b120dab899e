"""Train a baseline network with the searched winner's recipe, quantize it the same way, measure it the same way.

Same data (the training split minus the search's validation part), the same loop (`finetune`: SGD with Nesterov
momentum, cosine rate, label smoothing, weight decay, random crop after padding and flips, bfloat16 autocast on
CUDA, batch-norm recalibration at the end), the same calibration images and int8 conventions, and the same
measurements: int8 accuracy of the exported .tflite by the reference executor on the whole test split, peak SRAM
and flash by `tinyengine_codegen.simulate` for the board. The run folder is written atomically.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from tinyengine_codegen.errors import TinyMLError

from ..quantize import QuantConfig
from ..train.loop import device_name
from .resnet8 import quantize_resnet8, resnet8

Progress = Callable[[dict], None]
ARCHS = {"resnet8": (resnet8, quantize_resnet8)}


@dataclass(frozen=True, slots=True)
class BaselineConfig:
    """Defaults are the CIFAR-10 search's (tinynas.search.cifar_config): batch size, rate, calibration, split."""

    dataset: str = "cifar10"
    data: Path | None = None
    epochs: int = 30
    resolution: int = 32
    lr: float = 0.5  # from scratch: the rate of the supernet's first (full-network) phase
    batch_size: int = 1024
    warmup_epochs: float = 2
    calib_images: int = 1000
    quant: QuantConfig = QuantConfig()
    val_fraction: float = 0.15  # held out as in the search, so both train on the same images
    board: str = "qemu-m4"
    seed: int = 0
    device: str = "cpu"


def train_baseline(arch: str, cfg: BaselineConfig, out_dir: Path, progress: Progress | None = None) -> dict:
    """Train, quantize, export and measure `arch`; writes model.tflite and report.json into `out_dir`."""
    from tinyengine_codegen.boards import load_board

    if arch not in ARCHS:
        raise TinyMLError(f"unknown baseline '{arch}'; use one of {', '.join(ARCHS)}")
    if cfg.epochs < 1:
        raise TinyMLError(f"--epochs {cfg.epochs}: train for at least one epoch")
    board = load_board(cfg.board)
    note = progress or (lambda e: None)
    t0 = time.time()
    _net, graph, data, train_images, f_acc = _train_and_quantize(arch, cfg, note)
    timings = {"train_and_quantize": time.time() - t0}
    from tinyengine_codegen.emit.project import atomic_folder

    with atomic_folder(out_dir, make_parents=True, command="baseline") as tmp:
        note({"stage": "measure"})
        t1 = time.time()
        report = _measure(graph, data, board, tmp)
        timings["measure"] = time.time() - t1
        report.update(
            arch=arch,
            dataset=data.name,
            float_accuracy=f_acc,
            epochs=cfg.epochs,
            train_images=train_images,
            hardware=device_name(cfg.device),
            seed=cfg.seed,
            timings_s={k: round(v, 2) for k, v in timings.items()},
            wall_s=round(time.time() - t0, 2),
            config=_config_dict(cfg),
        )
        (tmp / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def _train_and_quantize(arch: str, cfg: BaselineConfig, note: Progress):
    from ..data import load_dataset, resize_uint8
    from ..train.bn_calib import calibration_images
    from ..train.loop import TrainConfig, evaluate, finetune

    build, quantize = ARCHS[arch]
    data = load_dataset(cfg.dataset, cfg.data)
    train, _ = data.split_validation(cfg.val_fraction, cfg.seed)
    torch.manual_seed(cfg.seed)
    net = build(cfg.resolution, data.channels, data.num_classes)
    cuda = str(cfg.device).startswith("cuda")
    tcfg = TrainConfig(
        cfg.resolution, cfg.batch_size, seed=cfg.seed, warmup_epochs=cfg.warmup_epochs, channels_last=cuda
    )
    net = finetune(net, train, tcfg, cfg.epochs, cfg.lr, cfg.device, lambda e: note({**e, "stage": "train"}))
    net = net.cpu().eval()
    calib = calibration_images(train.x_train, cfg.resolution, cfg.calib_images, cfg.seed)
    graph = quantize(net, calib, cfg.quant, name=f"{arch}_{data.name}")
    test = replace(data, x_test=resize_uint8(data.x_test, cfg.resolution))
    f_acc = evaluate(net, test.x_test, test.y_test)
    return net, graph, test, len(train.y_train), f_acc


def _measure(graph, data, board, folder: Path) -> dict:
    from tinyengine_codegen.exporters.tflite import save_tflite
    from tinyengine_codegen.ir.cost import graph_macs
    from tinyengine_codegen.model_io import load_model
    from tinyengine_codegen.options import CompileOptions
    from tinyengine_codegen.simulate import simulate

    from ..pipeline import int8_accuracy

    path = save_tflite(graph, folder / "model.tflite")
    q_acc = int8_accuracy(path, data.x_test, data.y_test)
    sim = simulate(load_model(path), board, CompileOptions(target=board))
    return {
        "board": board.id,
        "accuracy": q_acc,
        "int8_accuracy_method": "exported model.tflite re-imported and run by the bit-exact reference executor",
        "test_images": int(len(data.y_test)),
        "peak_sram_bytes": sim.peak_sram_bytes,
        "flash_bytes": sim.flash_bytes,
        "fits": bool(sim.fits),
        "macs": graph_macs(graph),
        "resolution": graph.tensor(graph.inputs[0]).shape[1],
    }


def _config_dict(cfg: BaselineConfig) -> dict:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}
