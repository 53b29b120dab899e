"""Firmware in QEMU: output round trip, exact per-layer instruction counts, determinism, error paths."""

import shutil

import numpy as np
import pytest

from tests.tinyengine_codegen.conftest import FAKE_INPUT_SIZE, write_fake_model
from tinyengine_codegen.boards import load_board
from tinyengine_codegen.build.platformio import build, prepare_project
from tinyengine_codegen.build.setup_tools import compile_plugin, plugin_path
from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.run.qemu import fnv1a32, parse_counts, run_qemu

needs_qemu = pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None or not plugin_path().is_file(),
    reason="needs qemu-system-arm, arm-none-eabi-gcc and setup_tools' plugin",
)


def _firmware(tmp_path_factory, board_id, x, **model_kw):
    board = load_board(board_id)
    root = tmp_path_factory.mktemp(board_id)
    model = write_fake_model(root / "model", **model_kw)
    return build(prepare_project(model, board, root / "proj", x), board).elf_path, board


@pytest.fixture(scope="module", params=["qemu-m4", "qemu-m7"])
def firmware(request, tmp_path_factory):
    x = np.random.default_rng(7).integers(-128, 128, FAKE_INPUT_SIZE).astype(np.int8)
    elf, board = _firmware(tmp_path_factory, request.param, x)
    return elf, board, x


@needs_qemu
@pytest.mark.qemu
def test_output_round_trips_and_layer_counts_are_exact(firmware):
    elf, board, x = firmware
    result = run_qemu(elf, board)
    assert result.exit_code == 0 and result.status == 0
    assert np.array_equal(np.frombuffer(result.output_bytes, np.int8), (x.astype(np.int16) + 1).astype(np.int8))
    assert result.checksum == fnv1a32(result.output_bytes)
    layers = result.layer_instructions
    assert len(layers) == 5
    assert (layers[1], layers[2], layers[4]) == (2001, 0, 6001)  # 1 + 2*1000, empty, 1 + 2*3000
    assert 37 * 3 <= layers[0] < 37 * 8 and 37 * 2 <= layers[3] < 37 * 8  # a few instructions per element
    assert sum(layers) < result.instructions < sum(layers) + 64  # invoke's own prologue/epilogue


@needs_qemu
@pytest.mark.qemu
def test_counts_are_deterministic_and_optional(firmware):
    elf, board, _ = firmware
    first, second = run_qemu(elf, board), run_qemu(elf, board)
    assert (first.instructions, first.layer_instructions) == (second.instructions, second.layer_instructions)
    plain = run_qemu(elf, board, count=False)
    assert plain.instructions is None and plain.layer_instructions == ()
    assert plain.output_bytes == first.output_bytes


@needs_qemu
@pytest.mark.qemu
def test_plugin_built_from_project_declarations_counts_the_same(firmware, tmp_path):
    elf, board, _ = firmware
    builtin = compile_plugin(tmp_path / "libtcount-builtin.so", None)
    assert run_qemu(elf, board, plugin=builtin) == run_qemu(elf, board)


@needs_qemu
@pytest.mark.qemu
def test_fault_is_reported_with_its_registers(tmp_path_factory):
    elf, board = _firmware(tmp_path_factory, "qemu-m4", None, prologue='__asm__ volatile("udf #0");')
    with pytest.raises(TinyMLError, match=r"faulted on qemu-m4: TINYML_FAULT PC=[0-9a-f]{8} CFSR=00010000 "):
        run_qemu(elf, board)  # CFSR.UNDEFINSTR


@needs_qemu
@pytest.mark.qemu
def test_hang_times_out(tmp_path_factory):
    elf, board = _firmware(tmp_path_factory, "qemu-m7", None, prologue='for (;;) { __asm__ volatile(""); }')
    with pytest.raises(TinyMLError, match="did not exit within 1 s"):
        run_qemu(elf, board, timeout_s=1)


@needs_qemu
@pytest.mark.qemu
def test_invoke_error_raises_or_is_returned(tmp_path_factory):
    elf, board = _firmware(tmp_path_factory, "qemu-m4", None, prologue="return -3;")
    with pytest.raises(TinyMLError, match=r"tinyml_invoke\(\) returned an error \(exit 2, status -3\)"):
        run_qemu(elf, board)
    result = run_qemu(elf, board, check=False)
    assert (result.exit_code, result.status, result.output_bytes) == (2, -3, b"")


@needs_qemu
@pytest.mark.qemu
def test_image_for_another_memory_map_locks_up(fake_model_dir, tmp_path):
    stm32 = load_board("nucleo-f746zg")
    elf = build(prepare_project(fake_model_dir, stm32, tmp_path / "p", None), stm32).elf_path
    with pytest.raises(TinyMLError, match=r"locked up .*exit 134"):
        run_qemu(elf, load_board("qemu-m7"), count=False)
    with pytest.raises(TinyMLError, match="real board"):
        run_qemu(elf, stm32)


def test_parse_counts_subtracts_the_marker_cost():
    text = "mark 0 100\nmark 1 109\nmark 2 500\nmark 4 520\nmark 5 629\nmark 6 640\nmark 7 649\nmark 3 700\ntotal 9\n"
    # cost 9; layer 0: 629-520-9 = 100; layer 1: 649-640-9 = 0; invoke: 700-500 - 5*9 = 155
    assert parse_counts(text) == (155, (100, 0))


@pytest.mark.parametrize(
    "text, message",
    [
        ("mark 0 1\nmark 1 9\nmark 2 20\n", "incomplete"),
        ("mark 0 1\nmark 1 9\nmark 2 20\nmark 6 30\nmark 7 40\nmark 3 50\n", "out of order at layer 0"),
        ("mark 0 1\nmark 1 9\nmark 2 20\nmark 4 30\nmark 3 50\n", "unpaired layer marker 4"),
    ],
)
def test_parse_counts_rejects_broken_marker_streams(text, message):
    with pytest.raises(TinyMLError, match=message):
        parse_counts(text)
