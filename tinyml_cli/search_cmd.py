"""`tinyml search`: TinyNAS for a board, then int8 export, exact memory simulation and a run folder."""

from __future__ import annotations

from pathlib import Path

import typer


def search(
    board: str = typer.Option(..., "--board", "-b", help="board id (tinyml boards)"),
    dataset: str = typer.Option(
        None, "--dataset", help="digits (bundled), cifar10, or folder (default: from --data, else digits)"
    ),
    data: Path = typer.Option(None, "--data", help="data folder or file (CIFAR-10 batches/npz, image folder)"),
    out: Path = typer.Option(Path("runs/search"), "--out", "-o", help="run folder (written atomically)"),
    quick: bool = typer.Option(False, "--quick", help="a real but small search: minutes on 2 CPU cores"),
    sram: int = typer.Option(None, "--sram-budget", min=1, help="peak SRAM budget in bytes (default: the board's)"),
    flash: int = typer.Option(None, "--flash-budget", min=1, help="flash budget in bytes (default: the board's)"),
    epochs: int = typer.Option(None, "--epochs", min=0, help="epochs of the full-network phase"),
    phase_epochs: int = typer.Option(None, "--phase-epochs", min=0, help="epochs of each elastic phase"),
    finetune_epochs: int = typer.Option(None, "--finetune-epochs", min=0, help="fine-tuning epochs of the winner"),
    device: str = typer.Option(None, "--device", help="cpu or cuda (default: cuda when available)"),
    checkpoint: Path = typer.Option(
        None,
        "--checkpoint",
        "--state",
        help="state folder: each stage is saved as it completes and a rerun with "
        "the same options resumes there (a .pt file: supernet only)",
    ),
    batch_size: int = typer.Option(None, "--batch-size", min=1, help="training batch size (per process)"),
    measured: int = typer.Option(None, "--measured", min=2, help="sub-networks measured for the predictor"),
    population: int = typer.Option(None, "--population", min=4, help="evolution population"),
    generations: int = typer.Option(None, "--generations", min=1, help="evolution generations"),
    workers: int = typer.Option(None, "--workers", min=1, help="processes evaluating candidates' memory cost"),
    widths: str = typer.Option(None, "--widths", help="width multipliers of the space, e.g. 0.5,0.75,1.0"),
    resolutions: str = typer.Option(None, "--resolutions", help="input resolutions of the space, e.g. 24,28,32"),
    seed: int = typer.Option(0, "--seed", help="random seed (recorded in report.json)"),
    force: bool = typer.Option(False, "--force", help="write into a folder that holds other files (they are kept)"),
    as_json: bool = typer.Option(False, "--json", help="print report.json on stdout"),
) -> None:
    """Search an int8 model that fits BOARD; writes model.tflite, report.json, the search log and plots."""
    from dataclasses import replace

    import torch

    from tinyengine_codegen.emit.project import check_output_folder
    from tinyengine_codegen.errors import TinyMLError
    from tinynas.pipeline import board_budget, check_budget, run_to_folder
    from tinynas.search import cifar_config, quick_config

    from .console import event_progress, print_json, say

    check_output_folder(out, "search", force)
    if dataset is None:
        dataset = "digits" if data is None else infer_dataset(data)
    if dataset not in ("digits", "cifar10", "folder"):
        raise TinyMLError(f"--dataset '{dataset}': use digits, cifar10 or folder")
    if dataset != "digits" and data is None:
        raise TinyMLError(f"--dataset {dataset} needs --data DIR")
    cfg = quick_config(dataset=dataset, data=data) if (quick or dataset == "digits") else cifar_config(data)
    if dataset == "folder":
        cfg = replace(cfg, dataset="folder", space="quick" if quick else "cifar")
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    changes = {"device": dev, "seed": seed, "checkpoint": checkpoint}
    for key, value in (
        ("full_epochs", epochs),
        ("phase_epochs", phase_epochs),
        ("finetune_epochs", finetune_epochs),
        ("batch_size", batch_size),
        ("measured_subnets", measured),
        ("workers", workers),
        ("widths", _numbers("--widths", widths, float)),
        ("resolutions", _numbers("--resolutions", resolutions, int)),
    ):
        if value is not None:
            changes[key] = value
    if population is not None or generations is not None:
        evo = cfg.evolution
        changes["evolution"] = replace(
            evo, population=population or evo.population, generations=generations or evo.generations
        )
    cfg = replace(cfg, **changes)
    budget = board_budget(board, sram, flash)
    check_budget(budget)
    with event_progress() as on_event:
        report = run_to_folder(cfg, budget, out, on_event, force=force)
    if as_json:
        print_json(report)
        return
    if "winner" in report:
        say(
            f"winner from {report['winner']}: validation {max(report['evolution_best'], report['random_best']):.2%} "
            f"(evolution {report['evolution_best']:.2%}, random search {report['random_best']:.2%}); predictor "
            f"Spearman {report['predictor_spearman']:.3f} (MACs alone {report['macs_spearman']:.3f})"
        )
    say(
        f"{out}/model.tflite: int8 accuracy {report['accuracy']:.2%} (float {report['float_accuracy']:.2%}), "
        f"peak SRAM {report['peak_sram_bytes']:,} B of {budget.sram_bytes:,}, flash {report['flash_bytes']:,} B "
        f"of {budget.flash_bytes:,}, {report['macs']:,} MACs, {report['resolution']}px width "
        f"{report['width_multiplier']:g}; {report['wall_s']:.0f} s"
    )
    if report["resume"]["stages_resumed"]:
        say(
            f"resumed from {report['resume']['state']} (run {report['resume']['run']}): "
            f"{', '.join(report['resume']['stages_resumed'])}; {report['epochs_trained']['total']} epochs "
            f"trained in all, {report['epochs_trained']['this_run']} in this run"
        )


def infer_dataset(data: Path) -> str:
    """The dataset kind of a --data path: CIFAR-10 (npz, python batches) or an image folder; refuses anything else."""
    from tinyengine_codegen.errors import TinyMLError

    data = Path(data)
    if data.is_file() and data.suffix == ".npz":
        return "cifar10"
    if data.is_dir():
        if (data / "data_batch_1").exists() or (data / "cifar-10-batches-py").is_dir():
            return "cifar10"
        if any(p.is_dir() for p in data.iterdir()):
            return "folder"
    raise TinyMLError(
        f"--data '{data}': not CIFAR-10 (an .npz or python batches) nor an image folder (class subfolders); "
        "pass --dataset cifar10 or --dataset folder"
    )


def _numbers(flag: str, text: str | None, kind) -> tuple | None:
    """'0.5,0.75' -> (0.5, 0.75); None stays None; anything else is a clear error."""
    from tinyengine_codegen.errors import TinyMLError

    if text is None:
        return None
    try:
        values = tuple(sorted({kind(v) for v in text.split(",") if v.strip()}))
    except ValueError:
        raise TinyMLError(f"{flag} '{text}': give comma-separated numbers, e.g. {flag} 24,28,32") from None
    if not values or min(values) <= 0:
        raise TinyMLError(f"{flag} '{text}': give positive numbers, e.g. {flag} 24,28,32")
    return values
