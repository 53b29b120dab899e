"""Load and validate board descriptions (boards/*.toml) into frozen `Board` records.

The built-in boards live in `boards/` at the repository root. Extra user boards are any `*.toml` files in the
folder named by the environment variable `TINYML_BOARDS_DIR` or passed as `boards_dir`; a user board with the
id of a built-in board replaces it. `load_board` also accepts the path of a single `.toml` file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import tomllib

from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.target import CORES, Target, target_of

BUILTIN_BOARDS_DIR = Path(__file__).resolve().parent.parent / "boards"
BOARDS_DIR_ENV = "TINYML_BOARDS_DIR"

FPUS = ("none", "fpv4-sp-d16", "fpv5-sp-d16", "fpv5-d16")
QEMU_MACHINES = {
    "mps2-an385": "cortex-m3",
    "mps2-an386": "cortex-m4",
    "mps2-an500": "cortex-m7",
    "mps2-an505": "cortex-m33",
    "netduinoplus2": "cortex-m4",
}
# firmware bring-up families (firmware/src/board_<family>.c): MCU family -> cores it covers
FAMILIES = {
    "mps2": ("cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33"),
    "stm32f4": ("cortex-m4",),
    "stm32f7": ("cortex-m7",),
    "stm32h7": ("cortex-m7",),
    "stm32l4": ("cortex-m4",),
    "rp2040": ("cortex-m0plus",),
    "nrf52": ("cortex-m4",),
}
_REQUIRED = {
    "id": str,
    "name": str,
    "mcu": str,
    "core": str,
    "fpu": str,
    "dsp": bool,
    "clock_mhz": int,
    "sram_bytes": int,
    "flash_bytes": int,
    "upload_protocol": str,
}
_OPTIONAL = {
    "platformio_platform": str,
    "platformio_board": str,
    "qemu_machine": str,
    "openocd_target": str,
    "family": str,
}
# [console] table: the UART the firmware's console and validation protocol use (pins as the board's manual names
# them; af: the STM32 GPIO alternate function number)
_CONSOLE = {"uart": str, "tx": str, "rx": str, "baud": int, "af": int}
_MEMORY_KEYS = ("flash_origin", "flash_length", "ram_origin", "ram_length")
# Every string of a board file reaches generated files (platformio.ini, linker script, C comments): each key
# has an allowed character set, so no value can end a line, a comment or a string there.
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
_STRING_RULES = {
    "id": (re.compile(r"[a-z0-9][a-z0-9._-]{0,63}"), "lower-case letters, digits, '.', '_' and '-'"),
    "name": (re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._,()+#:-]{0,79}"), "letters, digits, spaces and . _ , ( ) + # : -"),
    "platformio_platform": (re.compile(r"[A-Za-z0-9][A-Za-z0-9._+@/:~-]{0,199}"), "a PlatformIO platform name or URL"),
    "uart": (re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}"), "letters, digits, '_' and '-'"),
}
_TOKEN_TEXT = "letters, digits, '.', '_', '+' and '-'"


@dataclass(frozen=True, slots=True)
class MemoryMap:
    """Linker regions of the firmware image: code and constants in FLASH, data, bss and stack in RAM."""

    flash_origin: int
    flash_length: int
    ram_origin: int
    ram_length: int


@dataclass(frozen=True, slots=True)
class Console:
    """The console UART: peripheral name, TX/RX pins, baud rate, GPIO alternate function (STM32; 0 elsewhere)."""

    uart: str
    tx: str
    rx: str
    baud: int = 115200
    af: int = 0

    def __str__(self) -> str:
        return f"{self.uart} {self.tx}/{self.rx} {self.baud}"


@dataclass(frozen=True, slots=True)
class Board:
    """One target board. sram_bytes/flash_bytes are the budget left to the model after the firmware reserve."""

    id: str
    name: str
    mcu: str
    core: str
    fpu: str
    dsp: bool
    clock_mhz: int
    sram_bytes: int
    flash_bytes: int
    upload_protocol: str
    memory: MemoryMap
    platformio_platform: str | None = None
    platformio_board: str | None = None
    qemu_machine: str | None = None
    openocd_target: str | None = None
    family: str | None = None
    console: Console | None = None
    source: Path | None = None

    @property
    def is_virtual(self) -> bool:
        return self.qemu_machine is not None

    @property
    def machine_flags(self) -> tuple[str, ...]:
        """gcc flags selecting the core and float ABI, for both compile and link steps."""
        flags = ("-mthumb", f"-mcpu={CORES[self.core].mcpu}")
        if self.fpu == "none":
            return flags + ("-mfloat-abi=soft",)
        return flags + ("-mfloat-abi=hard", f"-mfpu={self.fpu}")

    @property
    def target(self) -> Target:
        """This board as a compilation target (core, extensions, clock, memory budget)."""
        return target_of(self)

    @property
    def local_board_id(self) -> str:
        """Board id used with the project's offline PlatformIO platform."""
        return "tinyml_" + self.id.replace("-", "_").replace(".", "_")


def _check_types(data: dict, where: str) -> None:
    for key in _REQUIRED:
        if key not in data:
            raise TinyMLError(f"board file {where}: missing key '{key}'; add it (see boards/qemu-m4.toml)")
    for key, kind in {**_REQUIRED, **_OPTIONAL}.items():
        if key in data and (type(data[key]) is not kind):
            raise TinyMLError(f"board file {where}: '{key}' must be a {kind.__name__}, got {data[key]!r}")
    memory = data.get("memory")
    if not isinstance(memory, dict) or any(type(memory.get(k)) is not int for k in _MEMORY_KEYS):
        raise TinyMLError(f"board file {where}: needs a [memory] table with integer {', '.join(_MEMORY_KEYS)}")
    console = data.get("console", {})
    bad = [k for k in console if type(console[k]) is not _CONSOLE.get(k)] if isinstance(console, dict) else ["?"]
    if bad or (console and not {"uart", "tx", "rx"} <= set(console)):
        raise TinyMLError(
            f"board file {where}: [console] needs strings uart, tx, rx and optional integers baud, af "
            f'(e.g. uart = "USART3", tx = "PD8", rx = "PD9", baud = 115200, af = 7); check {bad or "the keys"}'
        )


def _check_strings(data: dict, where: str) -> None:
    console = data.get("console", {})
    strings = {
        **{k: v for k, v in data.items() if isinstance(v, str)},
        **{k: console[k] for k in ("uart", "tx", "rx") if k in console},
    }
    for key, value in strings.items():
        pattern, allowed = _STRING_RULES.get(key, (_TOKEN, _TOKEN_TEXT))
        if not pattern.fullmatch(value):
            raise TinyMLError(f"board file {where}: '{key}' = {value!r} is not allowed; use {allowed}")


def _check_values(board: Board, where: str) -> None:
    if board.core not in CORES:
        raise TinyMLError(f"board file {where}: unknown core '{board.core}'; known: {', '.join(CORES)}")
    if board.fpu not in FPUS:
        raise TinyMLError(f"board file {where}: unknown fpu '{board.fpu}'; known: {', '.join(FPUS)}")
    if board.dsp and not CORES[board.core].dsp:
        raise TinyMLError(f"board file {where}: dsp = true but {board.core} has no DSP extension; set dsp = false")
    mem = board.memory
    if not 1 <= board.clock_mhz <= 10_000:
        raise TinyMLError(f"board file {where}: clock_mhz {board.clock_mhz} must be in 1..10000")
    for key in _MEMORY_KEYS:
        if not 0 <= getattr(mem, key) < 1 << 32:
            raise TinyMLError(f"board file {where}: [memory] {key} {getattr(mem, key)} must be in 0..0xFFFFFFFF")
    if board.console is not None and not (1 <= board.console.baud <= 20_000_000 and 0 <= board.console.af <= 15):
        raise TinyMLError(f"board file {where}: [console] baud must be in 1..20000000 and af in 0..15")
    if board.sram_bytes <= 0 or board.sram_bytes > mem.ram_length:
        raise TinyMLError(
            f"board file {where}: sram_bytes {board.sram_bytes} must be in 1..ram_length ({mem.ram_length})"
        )
    if board.flash_bytes <= 0 or board.flash_bytes > mem.flash_length:
        raise TinyMLError(
            f"board file {where}: flash_bytes {board.flash_bytes} must be in 1..flash_length ({mem.flash_length})"
        )
    if board.qemu_machine is not None and QEMU_MACHINES.get(board.qemu_machine) != board.core:
        raise TinyMLError(
            f"board file {where}: qemu_machine '{board.qemu_machine}' does not emulate "
            f"{board.core}; known: {QEMU_MACHINES}"
        )
    if board.family is not None and board.core not in FAMILIES.get(board.family, ()):
        raise TinyMLError(
            f"board file {where}: family '{board.family}' does not fit core {board.core}; known families: "
            f"{', '.join(FAMILIES)}"
        )
    if board.qemu_machine is None and not (board.platformio_platform and board.platformio_board):
        raise TinyMLError(f"board file {where}: a real board needs platformio_platform and platformio_board")


def _parse(path: Path) -> Board:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise TinyMLError(f"board file {path}: cannot read it: {err}") from err
    _check_types(data, str(path))
    _check_strings(data, str(path))
    unknown = set(data) - set(_REQUIRED) - set(_OPTIONAL) - {"memory", "console"}
    if unknown:
        raise TinyMLError(f"board file {path}: unknown keys {sorted(unknown)}")
    fields = {k: data[k] for k in (*_REQUIRED, *_OPTIONAL) if k in data}
    console = Console(**data["console"]) if "console" in data else None
    memory = MemoryMap(**{k: data["memory"][k] for k in _MEMORY_KEYS})
    board = Board(**fields, memory=memory, console=console, source=path)
    _check_values(board, str(path))
    return board


def _search_dirs(boards_dir: Path | str | None) -> tuple[Path, ...]:
    dirs = [BUILTIN_BOARDS_DIR]
    env_dir = os.environ.get(BOARDS_DIR_ENV)
    if env_dir:
        dirs.append(Path(env_dir))
    if boards_dir is not None:
        dirs.append(Path(boards_dir))
    for d in dirs[1:]:
        if not d.is_dir():
            raise TinyMLError(f"boards folder {d} does not exist; check {BOARDS_DIR_ENV} or the boards path")
    return tuple(dirs)


def list_boards(boards_dir: Path | str | None = None) -> tuple[Board, ...]:
    """All known boards sorted by id: built-in, then TINYML_BOARDS_DIR, then boards_dir (later ids win)."""
    by_id: dict[str, Board] = {}
    for folder in _search_dirs(boards_dir):
        for path in sorted(folder.glob("*.toml")):
            board = _parse(path)
            by_id[board.id] = board
    return tuple(by_id[k] for k in sorted(by_id))


def load_board(id_or_path: str | Path, boards_dir: Path | str | None = None) -> Board:
    """The board with this id, or the board described by this .toml file."""
    text = str(id_or_path)
    if text.endswith(".toml") or Path(text).is_file():
        if not Path(text).is_file():
            raise TinyMLError(f"board file {text} does not exist")
        return _parse(Path(text))
    boards = list_boards(boards_dir)
    for board in boards:
        if board.id == text:
            return board
    known = ", ".join(b.id for b in boards)
    raise TinyMLError(f"unknown board '{text}'; known boards: {known} (or pass a .toml file, or set {BOARDS_DIR_ENV})")
