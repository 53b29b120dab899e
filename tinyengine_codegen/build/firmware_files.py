"""Which firmware files a board's project gets, and the files generated per board and model.

The firmware (firmware/) has an application -- `test` (run the model once on the embedded input, print the output
and exit: the QEMU test runs) or `validate` (boot banner, self-test, then the validation protocol on the console
UART: docs/validate.md) -- common start-up and timing code, and one bring-up file per MCU family
(src/board_<family>.c, chosen by the board file's `family`). `board_config.h` carries the board file's facts into
C: rated clock, console UART and pins, names. On the RP2040 the second-stage boot loader is assembled here and
checksummed as the boot ROM expects.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import zlib
from pathlib import Path

from tinyengine_codegen.boards import Board
from tinyengine_codegen.build.setup_tools import FIRMWARE_DIR
from tinyengine_codegen.errors import TinyMLError

APPS = ("test", "validate")
COMMON_SOURCES = ("src/startup.c", "src/tinyml_port.c", "src/tcmark.S", "src/tinyml_cycles.c")
APP_SOURCES = {"test": "src/main.c", "validate": "src/validate_main.c"}
HEADERS = (
    "include/tinyml_hooks.h",
    "include/tinyml_port.h",
    "include/tinyml_board.h",
    "include/tinyml_cycles.h",
    "include/tinyml_protocol.h",
    "include/stm32_common.h",
)
BOOT2_SOURCE = "src/rp2040_boot2.S"
BOOT2_BYTES = 256
# milliseconds of silence after which a half-received frame is dropped, on virtual boards: QEMU's SysTick follows the
# host clock at the machine's frequency, which may exceed the clock the firmware assumes (netduinoplus2: 168 MHz
# while the firmware keeps the 16 MHz HSI), so the time is scaled up
VIRTUAL_BYTE_TIMEOUT_MS = 3000


def family_sources(board: Board) -> tuple[str, ...]:
    """The bring-up sources of the board's family (none for a board file without `family`)."""
    if board.family is None:
        return ("src/board_none.c",)
    files = (f"src/board_{board.family}.c",)
    if board.family.startswith("stm32"):
        files += ("src/stm32_console.c",)
    return files


def firmware_sources(board: Board, app: str) -> tuple[str, ...]:
    if app not in APPS:
        raise TinyMLError(f"unknown firmware application '{app}'; use one of {', '.join(APPS)}")
    return (APP_SOURCES[app], *COMMON_SOURCES, *family_sources(board))


def build_defines(board: Board, app: str) -> str:
    """-D flags of the project's builds for `board` running `app`."""
    flags = []
    if board.is_virtual:
        flags.append("-DTINYML_SEMIHOSTING")  # the test app prints through it; both exit through it
    if app == "validate" or not board.is_virtual:
        flags.append("-DTINYML_CONSOLE")
    if board.is_virtual:
        flags.append("-DTINYML_TCMARK")
    if app == "validate":
        flags.append("-DTINYML_CYCLES")
        if board.is_virtual:
            flags.append(f"-DTINYML_BYTE_TIMEOUT_MS={VIRTUAL_BYTE_TIMEOUT_MS}u")
    return " ".join(flags)


def c_string(text: str) -> str:
    """A C string literal holding `text` (printable ASCII kept, everything else escaped)."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.extend(f"\\{b:03o}" for b in ch.encode("utf-8"))
    return '"' + "".join(out) + '"'


def pin_number(board: Board, pin: str) -> tuple[int, int]:
    """(port, pin) of a pin name: PD8 -> (3, 8) (STM32), GP0 -> (0, 0) (RP2040), P1.03 -> (1, 3) (nRF52)."""
    for pattern, port in ((r"P([A-K])(\d{1,2})", lambda m: ord(m.group(1)) - ord("A")), (r"GP(\d{1,2})", None)):
        m = re.fullmatch(pattern, pin)
        if m:
            return (port(m), int(m.group(2))) if port else (0, int(m.group(1)))
    m = re.fullmatch(r"P(\d)\.(\d{1,2})", pin)
    if m:
        return int(m.group(1)), int(m.group(2))
    if board.family in (None, "mps2"):
        return 0, 0
    raise TinyMLError(
        f"board {board.id}: console pin '{pin}' is not a pin name the firmware knows (PD8, GP0 or P1.03 style)"
    )


def board_config_h(board: Board, model_name: str, model_id: int) -> str:
    """board_config.h: the board file's clock, console and names as C macros."""
    console = board.console
    lines = [
        f"/* Board configuration of {c_string(board.id)[1:-1]}, generated from its board file. */",
        "#ifndef BOARD_CONFIG_H",
        "#define BOARD_CONFIG_H",
        f"#define TINYML_BOARD_ID {c_string(board.id)}",
        f"#define TINYML_MODEL_NAME {c_string(model_name)}",
        f"#define TINYML_MODEL_ID 0x{model_id:08x}u",
        f"#define TINYML_CLOCK_HZ {board.clock_mhz * 1_000_000}u",
        f"#define TINYML_CONSOLE_NAME {c_string(str(console) if console else 'none')}",
        f"#define TINYML_CONSOLE_BAUD {console.baud if console else 115200}u",
    ]
    if board.core == "cortex-m7":
        lines.append("#define TINYML_CORTEX_M7 1")
    mcu = re.sub(r"[^A-Z0-9]", "_", board.mcu.upper())
    lines.append(f"#define TINYML_MCU_{mcu} 1")
    if mcu.startswith("STM32") and len(mcu) >= 9:
        lines.append(f"#define TINYML_MCU_{mcu[:9]} 1")  # the line, e.g. TINYML_MCU_STM32F411
    if console is not None:
        (tx_port, tx_pin), (rx_port, rx_pin) = pin_number(board, console.tx), pin_number(board, console.rx)
        uart = re.sub(r"[^A-Z0-9]", "_", console.uart.upper())
        lines += [
            f"#define TINYML_CONSOLE_UART_{uart} 1",
            f"#define TINYML_CONSOLE_TX_PORT {tx_port}u",
            f"#define TINYML_CONSOLE_TX_PIN {tx_pin}u",
            f"#define TINYML_CONSOLE_RX_PORT {rx_port}u",
            f"#define TINYML_CONSOLE_RX_PIN {rx_pin}u",
            f"#define TINYML_CONSOLE_AF {console.af}u",
        ]
    return "\n".join([*lines, "#endif", ""])


def model_id(model_dir: Path) -> int:
    """CRC-32 of the model's C sources: the firmware reports it, so the host knows which model a board runs."""
    crc = 0
    for path in sorted(Path(model_dir).glob("*.[ch]")):
        crc = zlib.crc32(path.read_bytes(), crc)
    return crc


def crc32_mpeg2(data: bytes) -> int:
    """CRC-32/MPEG-2 (polynomial 0x04C11DB7, initial 0xFFFFFFFF, no reflection, no final XOR): the RP2040 boot
    ROM's check of the second-stage boot loader."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
    return crc


def boot2_block() -> bytes:
    """The 256-byte RP2040 boot2 block: rp2040_boot2.S assembled, zero-padded to 252 bytes, CRC-32/MPEG-2 appended
    little-endian."""
    src = FIRMWARE_DIR / BOOT2_SOURCE
    with tempfile.TemporaryDirectory(prefix="tinyml-boot2-") as tmp:
        obj, binary = Path(tmp) / "boot2.o", Path(tmp) / "boot2.bin"
        for cmd in (
            ["arm-none-eabi-gcc", "-mcpu=cortex-m0plus", "-mthumb", "-c", str(src), "-o", str(obj)],
            ["arm-none-eabi-objcopy", "-O", "binary", "-j", ".text", str(obj), str(binary)],
        ):
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True)
            except FileNotFoundError as err:
                raise TinyMLError(
                    f"{cmd[0]} not found: it assembles the RP2040 boot2 block; run `tinyml setup`"
                ) from err
            if proc.returncode != 0:
                raise TinyMLError(f"assembling {src.name} failed: {proc.stderr.strip()[:200]}")
        code = binary.read_bytes()
    if len(code) > BOOT2_BYTES - 4:
        raise TinyMLError(f"{src.name} assembles to {len(code)} bytes; the boot ROM loads at most {BOOT2_BYTES - 4}")
    body = code.ljust(BOOT2_BYTES - 4, b"\0")
    return body + crc32_mpeg2(body).to_bytes(4, "little")


def boot2_c(block: bytes) -> str:
    rows = [", ".join(f"0x{b:02x}" for b in block[i : i + 16]) for i in range(0, len(block), 16)]
    return (
        "/* RP2040 second-stage boot loader (firmware/src/rp2040_boot2.S, assembled) with its CRC-32; generated. */\n"
        "#include <stdint.h>\n"
        '__attribute__((section(".boot2"), used)) const uint8_t tinyml_boot2[256] = {\n    '
        + ",\n    ".join(rows)
        + "\n};\n"
    )
