"""`tinyml baseline resnet8`: train a reference network with the search's recipe, export and measure it."""

from __future__ import annotations

from pathlib import Path

import typer


def baseline(
    arch: str = typer.Argument("resnet8", help="baseline network: resnet8 (MLPerf Tiny IC)"),
    dataset: str = typer.Option("cifar10", "--dataset", help="cifar10 or folder"),
    data: Path = typer.Option(..., "--data", help="data folder or file (CIFAR-10 batches/npz, image folder)"),
    epochs: int = typer.Option(30, "--epochs", help="training epochs (use the searched model's total)"),
    board: str = typer.Option("qemu-m4", "--board", "-b", help="board id for peak SRAM and flash"),
    out: Path = typer.Option(Path("runs/baseline"), "--out", "-o", help="run folder (written atomically)"),
    device: str = typer.Option(None, "--device", help="cpu or cuda (default: cuda when available)"),
    seed: int = typer.Option(0, "--seed", help="random seed (recorded in report.json)"),
    as_json: bool = typer.Option(False, "--json", help="print report.json on stdout"),
) -> None:
    """Train ARCH like the searched winner; writes model.tflite and report.json (int8 accuracy, SRAM, flash)."""
    import torch

    from tinyengine_codegen.errors import TinyMLError
    from tinynas.baselines.train import BaselineConfig, train_baseline

    from .console import print_json, progress, say

    if dataset not in ("cifar10", "folder"):
        raise TinyMLError(f"--dataset '{dataset}': use cifar10 or folder")
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    cfg = BaselineConfig(dataset=dataset, data=data, epochs=epochs, board=board, seed=seed, device=dev)
    with progress(transient=False) as bar:
        task = bar.add_task(arch, total=epochs)

        def on_event(e: dict) -> None:
            if e.get("stage") == "train":
                bar.update(task, completed=e["epoch"], description=f"{arch} loss={e['loss']:.3f}")
            else:
                bar.update(task, description=f"{arch} {e.get('stage', '')}")

        report = train_baseline(arch, cfg, out, on_event)
    if as_json:
        print_json(report)
        return
    say(
        f"{out}/model.tflite: int8 accuracy {report['accuracy']:.2%} (float "
        f"{report['float_accuracy']:.2%}), peak SRAM {report['peak_sram_bytes']:,} B, flash "
        f"{report['flash_bytes']:,} B on {report['board']}, {report['macs']:,} MACs, {epochs} epochs on "
        f"{report['train_images']:,} images; {report['wall_s']:.0f} s"
    )
