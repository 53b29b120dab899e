"""bench_model: estimated cycles per inference and per layer under the board core's model, ms at each clock, and
the deployable flash (the measured firmware without its embedded input and markers)."""

import shutil

import pytest

from tests.conftest import mlperf_path
from tinyengine_codegen.build.setup_tools import plugin_path
from tinyengine_codegen.model_io import load_model
from tinyengine_codegen.run.measure import bench_model

needs_qemu = pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None or not plugin_path().is_file(),
    reason="needs qemu-system-arm, arm-none-eabi-gcc and setup_tools' plugin",
)


@needs_qemu
@pytest.mark.qemu
def test_bench_reports_cycles_ms_and_deployable_flash():
    graph = load_model(mlperf_path("ad"))
    r = bench_model(graph, "qemu-m4")
    assert r.output_matches_reference and r.cycle_model == "m4-trm-v1"
    layer_cycles = [layer.cycles for layer in r.layers]
    # every layer costs at least one cycle per instruction; invoke adds only its own glue
    assert all(c >= layer.instructions for c, layer in zip(layer_cycles, r.layers))
    assert sum(layer_cycles) < r.cycles < sum(layer_cycles) + 100 * len(layer_cycles)
    assert r.ms == pytest.approx(r.cycles / 25e3) and r.ms_at_clock["nucleo-f411re"] == pytest.approx(r.cycles / 100e3)
    assert {layer.op for layer in r.layers} == {"FULLY_CONNECTED"}
    # deployable = measured image - embedded input (640 B) - marker table (2 KiB) - tc_mark - the marker calls
    harness = 640 + 2048 + 12
    measured = r.text_bytes + r.data_bytes
    assert measured - harness - 12 * (2 * len(r.layers) + 4) <= r.flash_bytes <= measured - harness
