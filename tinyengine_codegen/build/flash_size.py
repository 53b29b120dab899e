"""Exact flash of the deployable firmware: the generated model linked with the firmware runtime for a board.

`deployable_size` compiles a generated model folder together with the firmware's runtime sources (startup, the
board port, the test main) with the same compiler, flags and linker script as the PlatformIO build
(firmware/platform/builder/main.py and platformio.ini.tmpl), but without the bench harness's parts: no
instruction-count markers (TINYML_HOOKS, TINYML_TCMARK, tcmark.S) and the embedded test input's bytes not counted.
Its text + data is what the model costs in flash on that board. `tinyml bench` and `tinyml simulate` both report
it, so the two agree by construction on the same generated code.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from tinyengine_codegen.boards import Board
from tinyengine_codegen.build import firmware_files as ff
from tinyengine_codegen.build.platformio import _input_header, _ldscript_text, _model_name, app_header, section_sizes
from tinyengine_codegen.build.setup_tools import FIRMWARE_DIR
from tinyengine_codegen.errors import TinyMLError

COMPILE_FLAGS = ("-O2", "-std=gnu11", "-ffunction-sections", "-fdata-sections", "-ffreestanding")
LINK_FLAGS = ("-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections", "-lm")
_MARKERS = ("src/tcmark.S",)  # the bench harness's instruction-count markers: not part of the deployable image
_INPUT_SYMBOL = "tinyml_test_input"
_FLASH_SECTIONS = (".isr_vector", ".text", ".rodata", ".ARM.exidx")
TIMEOUT_S = 600
SIZING_REGION = 1 << 27  # bytes of flash and of RAM in the sizing link


@dataclass(frozen=True, slots=True)
class FlashSize:
    """text: code and constants in flash; data: the load image of initialised RAM (also in flash)."""

    text: int
    data: int

    @property
    def total(self) -> int:
        return self.text + self.data


def toolchain_available() -> bool:
    return all(shutil.which(t) for t in ("arm-none-eabi-gcc", "arm-none-eabi-size", "arm-none-eabi-nm"))


def symbol_size(elf: Path, name: str) -> int:
    """Size in bytes of one symbol of the ELF (0 when absent)."""
    proc = subprocess.run(["arm-none-eabi-nm", "-S", str(elf)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise TinyMLError(f"arm-none-eabi-nm failed on {elf}: {proc.stderr.strip()}")
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] == name:
            return int(parts[1], 16)
    return 0


def deployable_size(model_dir: Path, board: Board) -> FlashSize:
    """Compile and link `model_dir` (a generated model folder) with the firmware runtime for `board`."""
    if not toolchain_available():
        raise TinyMLError("arm-none-eabi-gcc not found; run `python -m tinyengine_codegen.build.setup_tools`")
    model_dir = Path(model_dir)
    with tempfile.TemporaryDirectory(prefix="tinyml-flash-") as tmp:
        work = Path(tmp)
        (work / "input_data.h").write_text(_input_header(model_dir, None))
        (work / "tinyml_app.h").write_text(app_header(model_dir))
        config = ff.board_config_h(board, _model_name(model_dir), ff.model_id(model_dir))
        (work / "board_config.h").write_text(config)
        # memory regions widened so that a model too large for the board is still measured (fits is decided later)
        roomy = replace(board, memory=replace(board.memory, flash_length=SIZING_REGION, ram_length=SIZING_REGION))
        (work / "ldscript.ld").write_text(_ldscript_text(roomy))
        runtime = [s for s in ff.firmware_sources(board, "test") if s not in _MARKERS]
        sources = [FIRMWARE_DIR / s for s in runtime] + sorted(model_dir.glob("*.c"))
        defines = [d for d in ff.build_defines(board, "test").split() if d != "-DTINYML_TCMARK"]
        elf = work / "firmware.elf"
        cmd = [
            "arm-none-eabi-gcc",
            *board.machine_flags,
            *COMPILE_FLAGS,
            *defines,
            f"-I{work}",
            f"-I{model_dir}",
            f"-I{FIRMWARE_DIR / 'include'}",
            *map(str, sources),
            *LINK_FLAGS,
            f"-T{work / 'ldscript.ld'}",
            "-o",
            str(elf),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired as err:
            raise TinyMLError(f"compiling {model_dir} for {board.id} took over {TIMEOUT_S} s") from err
        if proc.returncode != 0:
            tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
            raise TinyMLError(f"compiling {model_dir} for {board.id} (flash size) failed: {tail}")
        sizes = section_sizes(elf)
        text = sum(sizes.get(s, 0) for s in _FLASH_SECTIONS) - symbol_size(elf, _INPUT_SYMBOL)
        return FlashSize(text=text, data=sizes.get(".data", 0))
