"""Fill the firmware/ PlatformIO template with a generated model and build it with `pio run`.

`prepare_project` writes a self-contained PlatformIO project: the model sources and the test firmware in src/,
the embedded test input (input_data.h), a linker script from the board's memory map, a board manifest for the
project's offline platform and platformio.ini. `build` runs `pio run` on it and returns the ELF and its sizes.
Only the public model API (docs/c_api.md) is used, under the names of the generated tinyml_app.h (APP_INIT ...
for the model's prefix); the model's inputs come from its manifest.json.
"""

from __future__ import annotations

import configparser
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from string import Template

import numpy as np

from tinyengine_codegen.boards import Board
from tinyengine_codegen.build import firmware_files as ff
from tinyengine_codegen.build.setup_tools import FIRMWARE_DIR, ensure_tool_scons, pio_command, pio_env, tools_dir
from tinyengine_codegen.emit.project import atomic_folder
from tinyengine_codegen.errors import TinyMLError

STACK_BYTES = 8192
BUILD_TIMEOUT_S = 600
PLATFORM_ENV = "TINYML_PIO_PLATFORM"  # the offline env's platform folder, passed to `pio` by the project's commands
_NP_TYPES = {"int8": np.int8, "uint8": np.uint8, "int16": np.int16, "int32": np.int32, "float32": np.float32}


@dataclass(frozen=True, slots=True)
class BuildResult:
    """A linked firmware image. text_bytes: code + constants in flash; data_bytes: initialised RAM (its load
    image also occupies flash); bss_bytes: zeroed RAM, without the stack reserve."""

    elf_path: Path
    text_bytes: int
    data_bytes: int
    bss_bytes: int


@dataclass(frozen=True, slots=True)
class ModelIo:
    """What the firmware needs to know of a generated model folder: its prefix and its inputs' sizes and types."""

    prefix: str
    inputs: tuple[tuple[int, np.dtype], ...]  # (elements, numpy dtype) per input
    outputs: tuple[tuple[int, np.dtype], ...]


def read_model_io(model_dir: Path) -> ModelIo:
    """The model's prefix and I/O from its manifest.json (written by the code generator beside NAME.h)."""
    model_dir = Path(model_dir)
    try:
        man = json.loads((model_dir / "manifest.json").read_text())
        prefix = man["prefix"]
        io = [
            tuple((int(np.prod(t["shape"], dtype=np.int64)), np.dtype(_NP_TYPES[t["dtype"]])) for t in man[k])
            for k in ("inputs", "outputs")
        ]
    except (OSError, ValueError, KeyError, TypeError):
        raise TinyMLError(
            f"{model_dir} is not a generated model folder (manifest.json with inputs and outputs expected); "
            "run `tinyml compile MODEL --out DIR` first"
        ) from None
    if not (model_dir / f"{prefix}.h").is_file() or not (model_dir / f"{prefix}.c").is_file():
        raise TinyMLError(f"{model_dir}: {prefix}.h and {prefix}.c are missing; run `tinyml compile` again")
    return ModelIo(prefix, io[0], io[1])


def app_header(model_dir: Path) -> str:
    """tinyml_app.h: the firmware's names (APP_*) for the model's prefixed API."""
    io = read_model_io(model_dir)
    p, u = io.prefix, io.prefix.upper()
    names = [(f"APP_{f.upper()}", f"{p}_{f}") for f in ("init", "invoke", "input", "output")]
    names += [("APP_INPUT_BYTES", f"{p}_input_bytes"), ("APP_OUTPUT_BYTES", f"{p}_output_bytes")]
    names += [(f"APP_{m}", f"{u}_{m}") for m in ("INPUT_COUNT", "OUTPUT_COUNT", "ARENA_BYTES", "LAYER_COUNT")]
    lines = [f"#define {a} {b}" for a, b in names]
    return (
        "/* The generated model's API under the firmware's names (generated). */\n#ifndef TINYML_APP_H\n"
        f'#define TINYML_APP_H\n#include "{p}.h"\n' + "\n".join(lines) + "\n#endif\n"
    )


def _test_bytes(io: ModelIo, input_array) -> bytes:
    """Every input's bytes, input 0 first (zeros when input_array is None)."""
    if input_array is None:
        arrays = [np.zeros(n, dt) for n, dt in io.inputs]
    else:
        arrays = list(input_array) if isinstance(input_array, (list, tuple)) else [input_array]
        if len(arrays) != len(io.inputs):
            raise TinyMLError(f"{len(arrays)} test input arrays given; the model has {len(io.inputs)} inputs")
    out = []
    for i, (arr, (size, dtype)) in enumerate(zip(arrays, io.inputs)):
        arr = np.asarray(arr)
        if arr.size != size:
            raise TinyMLError(
                f"test input {i} has {arr.size} elements (shape {arr.shape}) but the model expects "
                f"{size} ({io.prefix.upper()}_INPUT{i}_ELEMENTS); pass an array of that size"
            )
        values = arr.reshape(-1).astype(dtype)
        if dtype.kind in "iu" and not np.array_equal(values.astype(np.int64), arr.reshape(-1).astype(np.int64)):
            raise TinyMLError(
                f"test input {i} values do not fit the model's input type {dtype} "
                f"(range {np.iinfo(dtype).min}..{np.iinfo(dtype).max}); quantize the input first"
            )
        out.append(values.astype(dtype.newbyteorder("<")).tobytes())
    return b"".join(out)


def _input_header(model_dir: Path, input_array) -> str:
    io = read_model_io(model_dir)
    data = _test_bytes(io, input_array)
    sizes = [n * dt.itemsize for n, dt in io.inputs]
    items = [str(b) for b in data] or ["0"]
    body = ",\n    ".join(", ".join(items[i : i + 24]) for i in range(0, len(items), 24))
    return (
        "/* Test inputs embedded in the firmware: every input's bytes, input 0 first (generated). */\n"
        '#ifndef INPUT_DATA_H\n#define INPUT_DATA_H\n#include <stdint.h>\n#include "tinyml_app.h"\n'
        f"static const uint8_t tinyml_test_input[{max(len(data), 1)}] = {{\n    {body}\n}};\n"
        f"static const uint32_t tinyml_test_input_bytes[APP_INPUT_COUNT] = {{{', '.join(map(str, sizes))}}};\n"
        "#endif\n"
    )


def _board_manifest(board: Board) -> dict:
    build = {"cpu": board.core, "fpu": board.fpu, "mcu": board.mcu.lower(), "f_cpu": f"{board.clock_mhz * 1_000_000}L"}
    if board.qemu_machine:
        build["qemu_machine"] = board.qemu_machine
    if board.openocd_target:
        build["openocd_target"] = board.openocd_target
    build["jlink_device"] = jlink_device(board)
    upload = {
        "maximum_size": board.memory.flash_length,
        "maximum_ram_size": board.memory.ram_length,
        "protocol": board.upload_protocol,
        "protocols": sorted(
            {board.upload_protocol, "jlink", "cmsis-dap"} - ({"jlink", "cmsis-dap"} if board.is_virtual else set())
        ),
    }
    return {"build": build, "frameworks": [], "name": board.name, "upload": upload, "url": "", "vendor": "tinyml"}


def jlink_device(board: Board) -> str:
    """SEGGER's device name for the board's MCU."""
    return {"nrf52": "nRF52840_xxAA", "rp2040": "RP2040_M0_0"}.get(board.family or "", board.mcu)


def project_env() -> dict[str, str]:
    """Environment of the project's own `pio` calls: the PlatformIO core dir, the offline platform's folder, and a
    platforms folder of this checkout's own (PlatformIO records a symlink:// platform under its folder's name, so
    checkouts sharing one core dir would otherwise replace each other's link)."""
    platforms = tools_dir() / "pio-platforms"
    platforms.mkdir(parents=True, exist_ok=True)
    return {**pio_env(), PLATFORM_ENV: str(FIRMWARE_DIR / "platform"), "PLATFORMIO_PLATFORMS_DIR": str(platforms)}


def _ini_text(board: Board, app: str) -> str:
    defines = ff.build_defines(board, app)
    official_env = ""
    if not board.is_virtual:
        official_env = Template((FIRMWARE_DIR / "official_env.ini.tmpl").read_text()).substitute(
            board_id=board.id,
            platform=board.platformio_platform,
            official_board=board.platformio_board,
            upload_protocol=board.upload_protocol,
            machine_flags=" ".join(board.machine_flags),
        )
    return Template((FIRMWARE_DIR / "platformio.ini.tmpl").read_text()).substitute(
        board_id=board.id,
        board_name=board.name,
        default_env=_env_name(board, not board.is_virtual),
        defines=defines,
        platform_env=PLATFORM_ENV,
        local_board=board.local_board_id,
        upload_protocol=board.upload_protocol,
        official_env=official_env,
    )


def _env_name(board: Board, official: bool) -> str:
    return f"{board.id}-official" if official else board.id


def _ldscript_text(board: Board) -> str:
    mem = board.memory
    boot2_memory = boot2_section = ""
    if board.family == "rp2040":  # the boot ROM loads the 256 bytes before the image (RP2040 datasheet 2.8.1)
        boot2_memory = f"BOOT2 (rx)  : ORIGIN = 0x{mem.flash_origin - ff.BOOT2_BYTES:08X}, LENGTH = {ff.BOOT2_BYTES}"
        boot2_section = ".boot2 : { KEEP(*(.boot2)) } > BOOT2"
    return Template((FIRMWARE_DIR / "ldscript.ld.tmpl").read_text()).substitute(
        boot2_memory=boot2_memory,
        boot2_section=boot2_section,
        board_id=board.id,
        board_name=board.name,
        stack_size=STACK_BYTES,
        flash_origin=f"0x{mem.flash_origin:08X}",
        flash_length=f"0x{mem.flash_length:08X}",
        ram_origin=f"0x{mem.ram_origin:08X}",
        ram_length=f"0x{mem.ram_length:08X}",
    )


def _copy_model(model_dir: Path, src: Path) -> None:
    reserved = {Path(p).name for p in (*ff.APP_SOURCES.values(), *ff.COMMON_SOURCES, *ff.HEADERS)}
    reserved |= {"input_data.h", "board_config.h", "boot2.c", "tinyml_app.h"} | {
        f"board_{f}.c" for f in ("none", "stm32f4")
    }
    for path in sorted(Path(model_dir).iterdir()):
        if path.is_file() and path.suffix in (".c", ".h"):
            if path.name in reserved:
                raise TinyMLError(f"{path}: the model folder may not contain {path.name}, a firmware file name")
            shutil.copyfile(path, src / path.name)


def prepare_project(
    model_dir: Path,
    board: Board,
    out_dir: Path,
    input_array: np.ndarray | None,
    *,
    official: bool = False,
    app: str | None = None,
    force: bool = False,
    library: str | None = None,
) -> Path:
    """Write a complete PlatformIO project for `board` into out_dir (replaced atomically); returns out_dir.
    library: put the model's sources in lib/<library>/ (a PlatformIO library) instead of src/.

    input_array is the embedded test input (None: zeros). app: "test" or "validate" (default: validate on real
    boards, test on virtual ones). A real board's project has two environments: the official platform's, the
    default for a user's own `pio run`, and the offline one (env named after the board) that `build` uses.
    official=True is refused for virtual boards, which have no official platform. force: see
    emit.project.atomic_folder.
    """
    if official and board.is_virtual:
        raise TinyMLError(f"{board.id} is a virtual board: it has no official PlatformIO platform")
    app = app or ("test" if board.is_virtual else "validate")
    sources = ff.firmware_sources(board, app)
    out_dir = Path(out_dir).absolute()
    input_h = _input_header(Path(model_dir), input_array)
    config_h = ff.board_config_h(board, _model_name(Path(model_dir)), ff.model_id(Path(model_dir)))
    boot2 = ff.boot2_c(ff.boot2_block()) if board.family == "rp2040" else None
    with atomic_folder(out_dir, make_parents=True, command="compile", force=force, caches=(".pio",)) as tmp:
        for sub in ("src", "include", "boards"):
            (tmp / sub).mkdir()
        for rel in (*sources, *ff.HEADERS):
            shutil.copyfile(FIRMWARE_DIR / rel, tmp / rel)
        shutil.copyfile(FIRMWARE_DIR / "fpu_link.py", tmp / "fpu_link.py")
        if library is None:
            _copy_model(Path(model_dir), tmp / "src")
        else:
            (tmp / "lib" / library).mkdir(parents=True)
            _copy_model(Path(model_dir), tmp / "lib" / library)
            (tmp / "lib" / library / "library.json").write_text(_library_json(library, _model_name(Path(model_dir))))
        (tmp / "src" / "input_data.h").write_text(input_h)
        (tmp / "src" / "tinyml_app.h").write_text(app_header(Path(model_dir)))
        (tmp / "include" / "board_config.h").write_text(config_h)
        if boot2 is not None:
            (tmp / "src" / "boot2.c").write_text(boot2)
        (tmp / "ldscript.ld").write_text(_ldscript_text(board))
        (tmp / "platformio.ini").write_text(_ini_text(board, app))
        manifest = json.dumps(_board_manifest(board), indent=2)
        (tmp / "boards" / f"{board.local_board_id}.json").write_text(manifest)
    return out_dir


def _library_json(name: str, model: str) -> str:
    data = {"name": name, "version": "1.0.0", "description": f"generated C library of model '{model}'"}
    data["build"] = {"srcDir": ".", "includeDir": ".", "flags": "-I$PROJECT_INCLUDE_DIR"}  # the firmware's hooks
    return json.dumps(data, indent=2) + "\n"


def _model_name(model_dir: Path) -> str:
    """The model's name from manifest.json (written by the code generator), else the folder's name."""
    try:
        return str(json.loads((model_dir / "manifest.json").read_text()).get("model") or model_dir.name)
    except (OSError, ValueError, AttributeError):
        return model_dir.name


def default_env(project_dir: Path) -> str:
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(project_dir / "platformio.ini")
    env = ini.get("platformio", "default_envs", fallback="").split(",")[0].strip()
    if not env:
        raise TinyMLError(f"{project_dir}/platformio.ini has no default_envs; prepare the project again")
    return env


def _build_error(output: str, board: Board) -> TinyMLError:
    overflow = re.search(r"region `(\w+)' overflowed by (\d+) bytes", output)
    if overflow:
        region, excess = overflow.group(1), int(overflow.group(2))
        size = board.memory.ram_length if region == "RAM" else board.memory.flash_length
        return TinyMLError(
            f"the model does not fit board {board.id}: {region} ({size:,} B) overflowed by "
            f"{excess:,} B; use a smaller model or a board with more {region}"
        )
    for pattern in (r"^.*\berror:.*$", r"^.*undefined reference to.*$", r"^.*(?:Error|HTTPClientError).*$"):
        line = re.search(pattern, output, flags=re.MULTILINE)
        if line:
            return TinyMLError(f"firmware build for {board.id} failed: {line.group(0).strip()}")
    tail = " | ".join(output.strip().splitlines()[-3:])
    return TinyMLError(f"firmware build for {board.id} failed: {tail}")


def section_sizes(elf: Path) -> dict[str, int]:
    """Section name -> size in bytes of an ELF file (arm-none-eabi-size -A)."""
    proc = subprocess.run(["arm-none-eabi-size", "-A", "-d", str(elf)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise TinyMLError(f"arm-none-eabi-size failed on {elf}: {proc.stderr.strip()}")
    sizes = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


def build(project_dir: Path, board: Board, *, official: bool = False) -> BuildResult:
    """Run `pio run` for the project's offline environment (official=True: the official platform's, which needs
    internet on first use); TinyMLError on compile or link errors."""
    project_dir = Path(project_dir).resolve()
    if not (project_dir / "platformio.ini").is_file():
        raise TinyMLError(f"{project_dir} is not a PlatformIO project; call prepare_project first")
    if shutil.which("arm-none-eabi-gcc") is None:
        raise TinyMLError("arm-none-eabi-gcc not found; run `python -m tinyengine_codegen.build.setup_tools`")
    ensure_tool_scons()
    env_name = _env_name(board, official)
    cmd = [*pio_command(), "run", "-d", str(project_dir), "-e", env_name]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=project_env(), timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired as err:
        raise TinyMLError(
            f"firmware build for {board.id} took over {BUILD_TIMEOUT_S} s; see `pio run` in {project_dir}"
        ) from err
    if proc.returncode != 0:
        raise _build_error(proc.stdout + "\n" + proc.stderr, board)
    elf = project_dir / ".pio" / "build" / env_name / "firmware.elf"
    if not elf.is_file():
        raise TinyMLError(f"pio run succeeded but {elf} is missing")
    sizes = section_sizes(elf)
    text = sum(sizes.get(s, 0) for s in (".boot2", ".isr_vector", ".text", ".rodata", ".ARM.exidx"))
    return BuildResult(elf_path=elf, text_bytes=text, data_bytes=sizes.get(".data", 0), bss_bytes=sizes.get(".bss", 0))
