"""`train_baseline` and `tinyml baseline` end to end on a small synthetic image folder, on the CPU."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from tinyengine_codegen.boards import load_board
from tinyengine_codegen.emit.project import MANIFEST_NAME
from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.importers.tflite import load_tflite
from tinyengine_codegen.options import CompileOptions
from tinyengine_codegen.reference.run import run_graph
from tinyengine_codegen.simulate import simulate
from tinyml_cli.baseline_cmd import baseline
from tinynas.baselines.train import BaselineConfig, train_baseline
from tinynas.data import load_image_folder
from tinynas.search import cifar_config

REPO = Path(__file__).resolve().parents[3]


def make_folder(root: Path, train: int = 16, test: int = 6, classes: int = 3, seed: int = 0) -> Path:
    """train/<class>/*.png and test/<class>/*.png: 32x32 noisy images of one colour per class."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    colours = np.array([[200, 40, 40], [40, 200, 40], [40, 40, 200]])[:classes]
    for split, n in (("train", train), ("test", test)):
        for c in range(classes):
            d = root / split / f"class{c}"
            d.mkdir(parents=True)
            for i in range(n):
                img = np.clip(colours[c] + rng.normal(0, 40, (32, 32, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(img).save(d / f"{i}.png")
    return root


def _cfg(data: Path, **kw) -> BaselineConfig:
    return BaselineConfig(dataset="folder", data=data, epochs=1, batch_size=16, calib_images=16, **kw)


def test_defaults_are_the_cifar_search_recipe():
    search, base = cifar_config(Path("x")), BaselineConfig()
    assert (base.batch_size, base.lr, base.warmup_epochs, base.calib_images, base.val_fraction, base.quant) == (
        search.batch_size,
        search.lr,
        search.warmup_epochs,
        search.calib_images,
        search.val_fraction,
        search.quant,
    )


def test_one_epoch_end_to_end(tmp_path):
    data = make_folder(tmp_path / "data")
    events = []
    report = train_baseline("resnet8", _cfg(data), tmp_path / "run", events.append)
    written = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert written == sorted(["model.tflite", "report.json", MANIFEST_NAME])
    assert json.loads((tmp_path / "run" / "report.json").read_text()) == report
    assert [e["epoch"] for e in events if e.get("stage") == "train"] == [1]
    ds = load_image_folder(data)
    assert report["train_images"] == len(ds.y_train) - round(0.15 * len(ds.y_train)) == 41
    assert (
        report["epochs"] == 1 and report["test_images"] == 18 and report["macs"] == 12_501_632 - 64 * 7
    )  # 3 classes, not 10
    graph = load_tflite(tmp_path / "run" / "model.tflite")
    preds = [int(np.argmax(run_graph(graph, [(x[None].astype(np.int16) - 128).astype(np.int8)])[0])) for x in ds.x_test]
    assert report["accuracy"] == np.mean(np.array(preds) == ds.y_test)
    sim = simulate(graph, load_board("qemu-m4"), CompileOptions(target="qemu-m4"))
    assert (report["peak_sram_bytes"], report["flash_bytes"]) == (sim.peak_sram_bytes, sim.flash_bytes)
    assert 0.0 <= report["float_accuracy"] <= 1.0 and not list(tmp_path.glob(".run.*"))


def test_unknown_arch_is_a_user_error(tmp_path):
    with pytest.raises(TinyMLError, match="unknown baseline 'resnet9'"):
        train_baseline("resnet9", _cfg(tmp_path), tmp_path / "run")


def test_cli_json(tmp_path):
    data = make_folder(tmp_path / "data", train=8, test=2)
    app = typer.Typer()
    app.command("baseline")(baseline)
    app.command("noop")(lambda: None)  # keep `baseline` a subcommand
    res = CliRunner().invoke(
        app,
        [
            "baseline",
            "resnet8",
            "--dataset",
            "folder",
            "--data",
            str(data),
            "--epochs",
            "1",
            "--out",
            str(tmp_path / "run"),
            "--device",
            "cpu",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["arch"] == "resnet8" and report["epochs"] == 1 and report["board"] == "qemu-m4"


BLOCKED = textwrap.dedent("""
    import importlib.util, sys
    class Block:
        \"\"\"Finds the blocked packages (so probes see them) but fails to load them, as if not installed.\"\"\"
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("matplotlib", "sklearn", "ai_edge_litert"):
                return importlib.util.spec_from_loader(name, self)
        def create_module(self, spec):
            raise ImportError(f"blocked: {spec.name}")
        def exec_module(self, module):
            pass
    sys.meta_path.insert(0, Block())
""")


def test_baseline_and_search_run_without_matplotlib_sklearn_or_litert(tmp_path):
    data = make_folder(tmp_path / "data", train=8, test=2)
    code = BLOCKED + textwrap.dedent(f"""
        from pathlib import Path
        import tinyml_cli.main, tinyml_cli.search_cmd, tinynas.pipeline, tinynas.search
        from tinynas.baselines.train import BaselineConfig, train_baseline
        cfg = BaselineConfig(dataset="folder", data=Path({str(data)!r}), epochs=1, batch_size=8, calib_images=8)
        r = train_baseline("resnet8", cfg, Path({str(tmp_path / "run")!r}))
        assert r["test_images"] == 6
        from tinynas.evolution import EvolutionBudget
        from tinynas.pipeline import board_budget, run_to_folder
        from tinynas.search import quick_config
        scfg = quick_config(dataset="folder", data=cfg.data, full_epochs=1, phase_epochs=1, finetune_epochs=1,
                            space_samples=6, measured_subnets=4, evolution=EvolutionBudget(population=6, generations=2),
                            calib_images=8, batch_size=8)
        s = run_to_folder(scfg, board_budget("qemu-m4"), Path({str(tmp_path / "search")!r}))
        assert s["notes"] == ["plots skipped: matplotlib is not installed"] and s["epochs"] == 5
        assert not [m for m in sys.modules if m.split(".")[0] in ("matplotlib", "sklearn", "ai_edge_litert")]
        print("ok")
    """)
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and res.stdout.strip().endswith("ok"), res.stderr[-2000:]
