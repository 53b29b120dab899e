"""PlatformIO project generation and offline firmware builds for every board."""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from tests.tinyengine_codegen.conftest import FAKE_INPUT_SIZE, write_fake_model
from tinyengine_codegen.boards import list_boards, load_board
from tinyengine_codegen.build.firmware_files import crc32_mpeg2
from tinyengine_codegen.build.platformio import build, prepare_project, read_model_io
from tinyengine_codegen.errors import TinyMLError

needs_arm_gcc = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc missing")
REAL_BOARDS = [b.id for b in list_boards() if not b.is_virtual]


def test_prepare_writes_a_complete_project(fake_model_dir, tmp_path):
    board = load_board("nucleo-f746zg")
    x = np.arange(FAKE_INPUT_SIZE, dtype=np.int8) - 5
    proj = prepare_project(fake_model_dir, board, tmp_path / "p", x)
    for rel in (
        "platformio.ini",
        "ldscript.ld",
        "fpu_link.py",
        "src/validate_main.c",
        "src/board_stm32f7.c",
        "src/stm32_console.c",
        "include/board_config.h",
        "src/startup.c",
        "src/tcmark.S",
        "src/tinyml.c",
        "src/tinyml.h",
        "src/tinyml_app.h",
        "src/input_data.h",
        "include/tinyml_hooks.h",
        "boards/tinyml_nucleo_f746zg.json",
    ):
        assert (proj / rel).is_file(), rel
    ld = (proj / "ldscript.ld").read_text()
    assert "ORIGIN = 0x08000000, LENGTH = 0x00100000" in ld and "ORIGIN = 0x20000000, LENGTH = 0x00050000" in ld
    values = re.search(r"\{\s*([^}]*)\}", (proj / "src/input_data.h").read_text()).group(1)
    assert [int(v) for v in values.replace("\n", " ").split(",")] == list(x.tobytes())
    ini = (proj / "platformio.ini").read_text()
    assert "default_envs = nucleo-f746zg-official\n" in ini and "[env:nucleo-f746zg]" in ini
    assert str(tmp_path) not in ini and "/" not in ini.split("platform = symlink://")[1].split("\n")[0]
    config = (proj / "include/board_config.h").read_text()
    assert "#define TINYML_CLOCK_HZ 216000000u" in config and "#define TINYML_CONSOLE_UART_USART3 1" in config
    assert "#define TINYML_CONSOLE_TX_PORT 3u" in config and "#define TINYML_CONSOLE_RX_PIN 9u" in config
    assert not (proj / "src/main.c").exists()
    assert "platform = ststm32" in ini and "custom_machine_flags = -mthumb -mcpu=cortex-m7 -mfloat-abi=hard" in ini
    assert "-DTINYML_TCMARK" not in ini  # markers only on virtual boards


def test_official_env_is_the_default_only_for_real_boards(fake_model_dir, tmp_path):
    ini = (prepare_project(fake_model_dir, load_board("pico"), tmp_path / "p", None) / "platformio.ini").read_text()
    assert "default_envs = pico-official" in ini and "board = pico\n" in ini and "platform = raspberrypi" in ini
    with pytest.raises(TinyMLError, match="virtual board"):
        prepare_project(fake_model_dir, load_board("qemu-m4"), tmp_path / "q", None, official=True)


def test_virtual_board_project_enables_semihosting_and_markers(fake_model_dir, tmp_path):
    proj = prepare_project(fake_model_dir, load_board("qemu-m7"), tmp_path / "p", None)
    ini = (proj / "platformio.ini").read_text()
    assert "-DTINYML_SEMIHOSTING -DTINYML_TCMARK" in ini and "-official" not in ini
    assert "{\n    " + ", ".join(["0"] * 24) in (proj / "src/input_data.h").read_text()  # None -> zeros
    assert '#include "tinyml.h"' in (proj / "src/tinyml_app.h").read_text()


def test_float_input_is_written_exactly(tmp_path):
    model = write_fake_model(tmp_path / "m", size=3)
    man = json.loads((model / "manifest.json").read_text())
    man["inputs"][0].update(dtype="float32", bytes=12)
    (model / "manifest.json").write_text(json.dumps(man))
    assert read_model_io(model).inputs == ((3, np.dtype(np.float32)),)
    x = np.array([0.1, -2.5, 1e-30], dtype=np.float32)
    text = (prepare_project(model, load_board("qemu-m4"), tmp_path / "p", x) / "src/input_data.h").read_text()
    body = re.search(r"tinyml_test_input\[12\] = \{([^}]*)\}", text).group(1)
    data = bytes(int(v) for v in body.replace("\n", " ").split(","))
    assert np.array_equal(np.frombuffer(data, "<f4"), x)


def test_input_errors(fake_model_dir, tmp_path):
    board = load_board("qemu-m4")
    with pytest.raises(TinyMLError, match=f"has 5 elements.*expects {FAKE_INPUT_SIZE} \\(TINYML_INPUT0_ELEMENTS\\)"):
        prepare_project(fake_model_dir, board, tmp_path / "p", np.zeros(5, np.int8))
    with pytest.raises(TinyMLError, match="do not fit the model's input type int8"):
        prepare_project(fake_model_dir, board, tmp_path / "p", np.full(FAKE_INPUT_SIZE, 200))
    with pytest.raises(TinyMLError, match="not a generated model folder"):
        prepare_project(tmp_path, board, tmp_path / "p", None)
    assert not (tmp_path / "p").exists()  # nothing half-written


def test_reprepare_keeps_build_cache_and_replaces_sources(fake_model_dir, tmp_path):
    board = load_board("qemu-m4")
    proj = prepare_project(fake_model_dir, board, tmp_path / "p", None)
    (proj / ".pio").mkdir()
    (proj / ".pio" / "marker").write_text("x")
    before = (proj / "src" / "input_data.h").read_text()
    prepare_project(fake_model_dir, board, proj, np.ones(FAKE_INPUT_SIZE, np.int8))
    assert (proj / ".pio" / "marker").is_file() and (proj / "src" / "input_data.h").read_text() != before
    (proj / "src" / "mine.c").write_text("int mine;")  # a file the toolchain did not write is never deleted
    with pytest.raises(TinyMLError, match="mine.c"):
        prepare_project(fake_model_dir, board, proj, None)
    assert (proj / "src" / "mine.c").read_text() == "int mine;"


def _elf_attributes(elf):
    out = subprocess.run(["arm-none-eabi-readelf", "-A", "-h", str(elf)], capture_output=True, text=True).stdout
    syms = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True).stdout
    addr = {parts[2]: int(parts[0], 16) for parts in map(str.split, syms.splitlines()) if len(parts) == 3}
    return out, addr


def _alloc_sections(elf):
    """(name, address, size) of every section the image occupies in memory."""
    out = subprocess.run(["arm-none-eabi-readelf", "-S", "-W", str(elf)], capture_output=True, text=True).stdout
    found = []
    for m in re.finditer(r"\]\s+(\S+)\s+\S+\s+([0-9a-f]{8})\s+[0-9a-f]+\s+([0-9a-f]+)\s+\S+\s+(\S*A\S*)", out):
        if int(m.group(3), 16):
            found.append((m.group(1), int(m.group(2), 16), int(m.group(3), 16)))
    assert found
    return found


def _section_bytes(elf, name):
    out = elf.parent / "section.bin"
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", "-j", name, str(elf), str(out)], check=True)
    return out.read_bytes()


@needs_arm_gcc
@pytest.mark.qemu
@pytest.mark.parametrize("board_id", REAL_BOARDS)
def test_firmware_links_offline_for_every_real_board(fake_model_dir, tmp_path_factory, board_id):
    board = load_board(board_id)
    result = build(prepare_project(fake_model_dir, board, tmp_path_factory.mktemp(board_id), None), board)
    assert result.elf_path.is_file() and 1000 < result.text_bytes < 8192
    assert result.bss_bytes >= FAKE_INPUT_SIZE * 2  # model arena + output buffer
    attrs, addr = _elf_attributes(result.elf_path)
    assert addr["tinyml_vectors"] == board.memory.flash_origin
    assert addr["__StackTop"] == board.memory.ram_origin + board.memory.ram_length
    assert "tc_mark_slots" not in addr
    regions = [(m.flash_origin, m.flash_length), (m.ram_origin, m.ram_length)] if (m := board.memory) else []
    if board.family == "rp2040":
        regions.append((m.flash_origin - 256, 256))
        block = _section_bytes(result.elf_path, ".boot2")
        assert len(block) == 256 and addr["tinyml_boot2"] == 0x10000000
        assert int.from_bytes(block[252:], "little") == crc32_mpeg2(block[:252])
    for name, start, size in _alloc_sections(result.elf_path):
        assert any(o <= start and start + size <= o + n for o, n in regions), (name, hex(start), size)
    if board.fpu == "none":
        assert "Tag_CPU_arch: v6S-M" in attrs and "hard-float ABI" not in attrs and "Tag_FP_arch" not in attrs
    else:
        assert "hard-float ABI" in attrs and "Tag_CPU_arch: v7E-M" in attrs
        assert ("SP only" in attrs) == ("-sp-" in board.fpu)


@needs_arm_gcc
@pytest.mark.qemu
def test_ram_overflow_names_board_and_excess(tmp_path):
    board = load_board("nucleo-f411re")
    model = write_fake_model(tmp_path / "big", arena_bytes=200_000)
    with pytest.raises(TinyMLError, match=r"does not fit board nucleo-f411re: RAM \(131,072 B\) overflowed by") as err:
        build(prepare_project(model, board, tmp_path / "p", None, app="test"), board)
    excess = int(re.search(r"overflowed by ([\d,]+) B", str(err.value)).group(1).replace(",", ""))
    # arena (inputs and outputs inside it) + 8 KiB stack reserve - 128 KiB RAM, plus a few bytes of firmware state
    assert 0 <= excess - (200_000 + 8192 - 131_072) < 256


@needs_arm_gcc
@pytest.mark.qemu
def test_compile_error_reports_the_compiler_line(tmp_path):
    model = write_fake_model(tmp_path / "m", prologue="this is not C;")
    board = load_board("qemu-m4")
    with pytest.raises(TinyMLError, match=r"firmware build for qemu-m4 failed: .*tinyml\.c:\d+:\d+: error:"):
        build(prepare_project(model, board, tmp_path / "p", None), board)
