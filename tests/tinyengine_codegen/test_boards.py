"""Board files: the built-in set, derived compiler flags, user boards and validation errors."""

import pytest

from tinyengine_codegen.boards import Board, list_boards, load_board
from tinyengine_codegen.errors import TinyMLError

REQUIRED = {
    "nucleo-f746zg",
    "stm32f746g-disco",
    "nucleo-h743zi",
    "nucleo-l4r5zi",
    "nucleo-f411re",
    "nucleo-f767zi",
    "nano33ble",
    "pico",
    "qemu-m4",
    "qemu-m7",
}

VALID = """id = "my-board"
name = "My board"
mcu = "STM32F401RE"
core = "cortex-m4"
fpu = "fpv4-sp-d16"
dsp = true
clock_mhz = 84
sram_bytes = 81920
flash_bytes = 491520
platformio_platform = "ststm32"
platformio_board = "nucleo_f401re"
upload_protocol = "stlink"

[memory]
flash_origin = 0x08000000
flash_length = 0x80000
ram_origin = 0x20000000
ram_length = 0x18000
"""


def test_builtin_boards_are_all_present_and_sorted():
    ids = [b.id for b in list_boards()]
    assert set(ids) >= REQUIRED
    assert ids == sorted(ids)


def test_f746_nucleo_values_and_flags():
    b = load_board("nucleo-f746zg")
    assert (b.core, b.fpu, b.dsp, b.clock_mhz) == ("cortex-m7", "fpv5-sp-d16", True, 216)
    assert (b.memory.flash_origin, b.memory.flash_length) == (0x08000000, 1024 * 1024)
    assert (b.memory.ram_origin, b.memory.ram_length) == (0x20000000, 320 * 1024)
    assert b.sram_bytes == 304 * 1024 and b.flash_bytes == 992 * 1024  # 16 KiB / 32 KiB reserve
    assert b.machine_flags == ("-mthumb", "-mcpu=cortex-m7", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16")
    assert (b.platformio_platform, b.platformio_board, b.upload_protocol) == ("ststm32", "nucleo_f746zg", "stlink")
    assert not b.is_virtual and b.local_board_id == "tinyml_nucleo_f746zg"


def test_pico_is_soft_float_without_dsp():
    b = load_board("pico")
    assert (b.core, b.fpu, b.dsp) == ("cortex-m0plus", "none", False)
    assert b.machine_flags == ("-mthumb", "-mcpu=cortex-m0plus", "-mfloat-abi=soft")


@pytest.mark.parametrize(
    "board_id, machine, cpu", [("qemu-m4", "mps2-an386", "cortex-m4"), ("qemu-m7", "mps2-an500", "cortex-m7")]
)
def test_virtual_boards_use_qemu_memory_map_and_stm32_budget(board_id, machine, cpu):
    b = load_board(board_id)
    assert b.is_virtual and b.qemu_machine == machine and b.core == cpu
    assert (b.memory.flash_origin, b.memory.flash_length) == (0, 4 << 20)
    assert (b.memory.ram_origin, b.memory.ram_length) == (0x20000000, 4 << 20)
    assert (b.sram_bytes, b.flash_bytes) == (320 * 1024, 1024 * 1024)


def test_every_board_budget_leaves_a_reserve():
    for b in list_boards():
        assert 0 < b.sram_bytes < b.memory.ram_length, b.id
        assert 0 < b.flash_bytes < b.memory.flash_length, b.id


def test_unknown_board_lists_known_ids():
    with pytest.raises(TinyMLError, match=r"unknown board 'nucleo-f999'.*nucleo-f746zg.*qemu-m4"):
        load_board("nucleo-f999")


def test_board_from_toml_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(VALID)
    b = load_board(path)
    assert isinstance(b, Board) and b.id == "my-board" and b.sram_bytes == 81920 and b.source == path


def test_user_boards_dir_from_env_and_argument(tmp_path, monkeypatch):
    env_dir, arg_dir = tmp_path / "env", tmp_path / "arg"
    env_dir.mkdir()
    arg_dir.mkdir()
    (env_dir / "a.toml").write_text(VALID)
    (arg_dir / "b.toml").write_text(VALID.replace('"my-board"', '"pico"').replace("clock_mhz = 84", "clock_mhz = 7"))
    monkeypatch.setenv("TINYML_BOARDS_DIR", str(env_dir))
    assert load_board("my-board").clock_mhz == 84
    assert load_board("pico").clock_mhz == 133  # built-in until the argument folder overrides it
    assert load_board("pico", boards_dir=arg_dir).clock_mhz == 7
    assert "my-board" in {b.id for b in list_boards(arg_dir)}


def test_missing_boards_dir_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYML_BOARDS_DIR", str(tmp_path / "nope"))
    with pytest.raises(TinyMLError, match="TINYML_BOARDS_DIR"):
        list_boards()


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t.replace('core = "cortex-m4"', 'core = "cortex-m0plus"'), "no DSP extension"),
        (lambda t: t.replace('core = "cortex-m4"', 'core = "cortex-m9"'), "unknown core 'cortex-m9'"),
        (lambda t: t.replace("sram_bytes = 81920", "sram_bytes = 999999"), "sram_bytes 999999"),
        (lambda t: t.replace('mcu = "STM32F401RE"\n', ""), "missing key 'mcu'"),
        (lambda t: t.replace("dsp = true", 'dsp = "yes"'), "'dsp' must be a bool"),
        (lambda t: t.replace("ram_length = 0x18000", ""), r"\[memory\] table"),
        (lambda t: t + 'qemu_machine = "mps2-an500"\n', "does not emulate cortex-m4"),
        (lambda t: t.replace('platformio_board = "nucleo_f401re"\n', ""), "needs platformio_platform"),
        (lambda t: t.replace('"My board"', '"Evil)\\n[env]\\nextra_scripts = x.py"'), "'name'"),
        (lambda t: t.replace('"My board"', '"Evil */ X = 1; /* b"'), "'name'"),
        (lambda t: t.replace('upload_protocol = "stlink"', 'upload_protocol = "stlink\\nextra_scripts = x"'), "upload"),
        (lambda t: t.replace('id = "my-board"', 'id = "My Board"'), "'id'"),
        (lambda t: t.replace("clock_mhz = 84", "clock_mhz = 0"), "clock_mhz 0"),
    ],
)
def test_invalid_board_files_name_the_problem(tmp_path, edit, message):
    text = edit(VALID)
    if "qemu_machine" in text:  # keys after [memory] belong to the table; put it at the top level
        text = 'qemu_machine = "mps2-an500"\n' + text.replace('qemu_machine = "mps2-an500"\n', "")
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(TinyMLError, match=message):
        load_board(path)
