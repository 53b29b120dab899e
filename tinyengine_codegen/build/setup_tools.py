"""Install and prepare the firmware tools: Arm toolchain, QEMU, PlatformIO, tool-scons and the counting plugin.

Every step is idempotent and skips work that is already done:
1. apt: gcc-arm-none-eabi, libnewlib-arm-none-eabi, binutils-arm-none-eabi, qemu-system-arm, g++, clang, cmake
   (root + apt-get only).
2. pip: platformio==6.2.0 and scons==4.11.1.
3. tool-scons: the one PlatformIO core package `pio run` needs, built locally in the core dir
   (`.pio-core/` at the repository root, or $PLATFORMIO_CORE_DIR) so that no registry download happens.
4. The QEMU instruction-counting plugin `.tools/libtcount.so`, built from firmware/qemu_plugin/tcount.c against
   QEMU's own qemu-plugin.h (taken from the Debian source package of the installed QEMU) or, when that cannot be
   fetched, against the project's declarations of the QEMU 7.2 plugin API (version 1).

Run it as `python -m tinyengine_codegen.build.setup_tools`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tinyengine_codegen.errors import TinyMLError

REPO_ROOT = Path(__file__).resolve().parents[2]
FIRMWARE_DIR = REPO_ROOT / "firmware"
PLUGIN_SOURCE_DIR = FIRMWARE_DIR / "qemu_plugin"
# g++, clang and cmake: the generated library's C++17 and CMake packaging are tested with them (docs/c_api.md)
APT_PACKAGES = (
    "gcc-arm-none-eabi",
    "libnewlib-arm-none-eabi",
    "binutils-arm-none-eabi",
    "qemu-system-arm",
    "g++",
    "clang",
    "cmake",
)
PIP_PINS = {"platformio": "6.2.0", "scons": "4.11.1"}
TOOL_SCONS_RANGE = "~4.41101.0"  # what platformio 6.2.0 asks for; read from platformio when it is importable
_HEADER_NAME = "qemu-plugin.h"


@dataclass(frozen=True, slots=True)
class ToolPaths:
    """Where the prepared tools are."""

    core_dir: Path
    tools_dir: Path
    plugin: Path
    plugin_header: str  # "qemu-source" (Debian source package) or "builtin" (project declarations)


def core_dir() -> Path:
    """The PlatformIO core dir: $PLATFORMIO_CORE_DIR, else .pio-core/ at the repository root."""
    env = os.environ.get("PLATFORMIO_CORE_DIR")
    return Path(env).resolve() if env else REPO_ROOT / ".pio-core"


def tools_dir() -> Path:
    return REPO_ROOT / ".tools"


def plugin_path() -> Path:
    return tools_dir() / "libtcount.so"


def pio_env() -> dict[str, str]:
    """Environment for every `pio` call: project core dir, no upgrade check (61 s offline), no telemetry."""
    env = dict(os.environ)
    env.update(
        PLATFORMIO_CORE_DIR=str(core_dir()),
        PLATFORMIO_DISABLE_UPGRADE_CHECK="true",
        PLATFORMIO_SETTING_ENABLE_TELEMETRY="No",
        PLATFORMIO_NO_ANSI="true",
    )
    return env


def pio_command() -> list[str]:
    return [sys.executable, "-m", "platformio"]


def _run(cmd: list[str], what: str, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise TinyMLError(f"{what} failed: {err}") from err
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise TinyMLError(f"{what} failed (exit {proc.returncode}): {' | '.join(tail)}")
    return proc


# ---------------------------------------------------------------- apt
def missing_apt_packages() -> tuple[str, ...]:
    """The required Debian packages that are not installed."""
    if shutil.which("dpkg-query") is None:
        probes = {
            "gcc-arm-none-eabi": "arm-none-eabi-gcc",
            "binutils-arm-none-eabi": "arm-none-eabi-ld",
            "qemu-system-arm": "qemu-system-arm",
            "libnewlib-arm-none-eabi": "arm-none-eabi-gcc",
            "g++": "g++",
            "clang": "clang",
            "cmake": "cmake",
        }
        return tuple(p for p, exe in probes.items() if shutil.which(exe) is None)
    missing = []
    for pkg in APT_PACKAGES:
        proc = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
        if proc.returncode != 0 or "install ok installed" not in proc.stdout:
            missing.append(pkg)
    return tuple(missing)


def ensure_apt_packages() -> tuple[str, ...]:
    """Install the missing Debian packages; returns the ones installed."""
    missing = missing_apt_packages()
    if not missing:
        return ()
    names = " ".join(missing)
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise TinyMLError(
            f"missing system packages: {names}; install them (Debian/Ubuntu: "
            f"sudo apt-get install -y --no-install-recommends {names}) and run setup again"
        )
    install = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(install, capture_output=True, env=env).returncode != 0:
        _run(["apt-get", "update"], "apt-get update", env=env)
        _run(install, f"apt-get install {names}", env=env)
    return missing


# ---------------------------------------------------------------- pip
def ensure_pip_packages() -> tuple[str, ...]:
    """pip-install the pinned platformio and scons when missing or at another version."""
    wrong = []
    for name, version in PIP_PINS.items():
        try:
            if importlib.metadata.version(name) != version:
                wrong.append(f"{name}=={version}")
        except importlib.metadata.PackageNotFoundError:
            wrong.append(f"{name}=={version}")
    if wrong:
        _run([sys.executable, "-m", "pip", "install", *wrong], f"pip install {' '.join(wrong)}")
    return tuple(wrong)


# ---------------------------------------------------------------- tool-scons
def tool_scons_versions() -> tuple[str, str]:
    """(PlatformIO package version, SCons version) that this PlatformIO needs, e.g. ("4.41101.0", "4.11.1")."""
    spec = TOOL_SCONS_RANGE
    try:
        from platformio.dependencies import get_core_dependencies

        spec = get_core_dependencies()["tool-scons"]
    except ImportError:
        pass
    match = re.fullmatch(r"[~^=]*(\d+)\.(\d+)\.(\d+)", spec.strip())
    # "4.41101.0": the middle field packs SCons major, 2-digit minor and 2-digit patch (SCons 4.11.1)
    if not match or len(match.group(2)) < 5:
        raise TinyMLError(f"cannot read the tool-scons version from '{spec}'; pin platformio=={PIP_PINS['platformio']}")
    packed = match.group(2)
    major, minor, patch = int(packed[:-4]), int(packed[-4:-2]), int(packed[-2:])
    return f"{match.group(1)}.{packed}.{match.group(3)}", f"{major}.{minor}.{patch}"


def ensure_tool_scons(core: Path | None = None) -> Path:
    """Build <core>/packages/tool-scons from the installed scons (or pip) unless it is already there."""
    core = core or core_dir()
    pkg_version, scons_version = tool_scons_versions()
    dest = core / "packages" / "tool-scons"
    manifest = dest / "package.json"
    fresh = manifest.is_file() and (dest / "scons.py").is_file()
    if fresh and json.loads(manifest.read_text()).get("version") == pkg_version:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tool-scons-", dir=dest.parent))
    try:
        _fill_tool_scons(tmp, scons_version, pkg_version)
        tmp.chmod(0o755)
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _fill_tool_scons(folder: Path, scons_version: str, pkg_version: str) -> None:
    spec = importlib.util.find_spec("SCons")
    installed = None
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        installed = importlib.metadata.version("scons")
    if spec is not None and spec.submodule_search_locations and installed == scons_version:
        shutil.copytree(
            next(iter(spec.submodule_search_locations)), folder / "SCons", ignore=shutil.ignore_patterns("__pycache__")
        )
    else:
        _run(
            [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(folder), f"scons=={scons_version}"],
            f"pip install scons=={scons_version} into tool-scons",
        )
    (folder / "scons.py").write_text(
        "import os, sys\nsys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))\n"
        "from SCons.Script.Main import main\nsys.exit(main())\n"
    )
    (folder / "package.json").write_text(json.dumps({"name": "tool-scons", "version": pkg_version}))
    piopm = {
        "type": "tool",
        "name": "tool-scons",
        "version": pkg_version,
        "spec": {"owner": "platformio", "id": None, "name": "tool-scons", "requirements": None, "uri": None},
    }
    (folder / ".piopm").write_text(json.dumps(piopm))


# ---------------------------------------------------------------- qemu-plugin.h and the plugin
def _deb_src_entries() -> str:
    """deb-src versions of the system's apt sources (deb822 .sources files and one-line lists)."""
    parts = []
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        parts.append(re.sub(r"(?m)^Types:\s*deb\s*$", "Types: deb-src", path.read_text()))
    for path in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*.list"))]:
        if path.is_file():
            lines = [re.sub(r"^deb\s", "deb-src ", ln) for ln in path.read_text().splitlines() if ln.startswith("deb ")]
            parts.append("\n".join(lines))
    return "\n\n".join(p for p in parts if p.strip())


def fetch_qemu_plugin_header(dest_dir: Path) -> Path | None:
    """Extract qemu-plugin.h from the Debian source package of the installed QEMU; None when that fails."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-query") is None:
        return None
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${source:Version}", "qemu-system-arm"], capture_output=True, text=True
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        return None
    with tempfile.TemporaryDirectory(prefix="qemu-src-") as tmp:
        work = Path(tmp)
        for sub in ("parts", "lists/partial", "cache/archives/partial", "src"):
            (work / sub).mkdir(parents=True)
        (work / "parts" / "deb-src.sources").write_text(_deb_src_entries())
        opts = [
            "-o",
            "Dir::Etc::SourceList=/dev/null",
            "-o",
            f"Dir::Etc::SourceParts={work / 'parts'}",
            "-o",
            f"Dir::State::Lists={work / 'lists'}",
            "-o",
            f"Dir::Cache={work / 'cache'}",
        ]
        steps = (
            ["apt-get", *opts, "update"],
            ["apt-get", *opts, "source", "--download-only", f"qemu={proc.stdout.strip()}"],
        )
        for cmd in steps:
            if subprocess.run(cmd, cwd=work / "src", capture_output=True, timeout=600).returncode != 0:
                return None
        tarballs = sorted((work / "src").glob("qemu_*.orig.tar.*"))
        if not tarballs:
            return None
        cmd = ["tar", "-xf", str(tarballs[0]), "-C", str(work / "src"), "--wildcards", f"*/include/qemu/{_HEADER_NAME}"]
        if subprocess.run(cmd, capture_output=True, timeout=600).returncode != 0:
            return None
        found = sorted((work / "src").glob(f"*/include/qemu/{_HEADER_NAME}"))
        if not found:
            return None
        dest_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(found[0], dest_dir / _HEADER_NAME)
    return dest_dir / _HEADER_NAME


def build_plugin(*, builtin_header: bool = False) -> tuple[Path, str]:
    """Build .tools/libtcount.so; returns (path, header kind). Rebuilds only when an input changed.

    Uses QEMU's qemu-plugin.h (cached in .tools/include, fetched once) unless builtin_header is set or the fetch
    fails; then the project's declarations of the QEMU 7.2 plugin API.
    """
    tools = tools_dir()
    include = tools / "include"
    header = include / _HEADER_NAME
    if not builtin_header and not header.is_file():
        fetch_qemu_plugin_header(include)
    kind = "qemu-source" if header.is_file() and not builtin_header else "builtin"
    source = PLUGIN_SOURCE_DIR / "tcount.c"
    inputs = [source, *(PLUGIN_SOURCE_DIR / n for n in ("tc_plugin_api.h", "t32class.h"))]
    inputs += [header] if header.is_file() else []
    out = plugin_path()
    stamp = tools / "libtcount.header"
    if (
        out.is_file()
        and stamp.is_file()
        and stamp.read_text() == kind
        and all(out.stat().st_mtime >= p.stat().st_mtime for p in inputs)
    ):
        return out, kind
    compile_plugin(out, include if kind == "qemu-source" else None)
    stamp.write_text(kind)
    return out, kind


def compile_plugin(out: Path, qemu_include: Path | None) -> Path:
    """Compile firmware/qemu_plugin/tcount.c into `out`, against QEMU's qemu-plugin.h found in qemu_include,
    or against the project's API declarations (tc_plugin_api.h) when qemu_include is None."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise TinyMLError("no host C compiler (cc/gcc) to build the QEMU plugin; install gcc and run setup again")
    flags = [f"-I{qemu_include}", "-DTC_USE_QEMU_HEADER"] if qemu_include else [f"-I{PLUGIN_SOURCE_DIR}"]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_name(f".{out.name}.tmp")
    _run(
        [compiler, "-shared", "-fPIC", "-O2", "-Wall", *flags, str(PLUGIN_SOURCE_DIR / "tcount.c"), "-o", str(tmp_out)],
        "building the QEMU counting plugin",
    )
    tmp_out.replace(out)
    return out


def setup_tools(*, apt: bool = True, pip: bool = True, builtin_header: bool = False) -> ToolPaths:
    """Make every firmware tool ready (idempotent). Raises TinyMLError naming what is missing."""
    if apt:
        ensure_apt_packages()
    elif missing_apt_packages():
        raise TinyMLError(f"missing system packages: {' '.join(missing_apt_packages())}; install them with apt-get")
    if pip:
        ensure_pip_packages()
    core = core_dir()
    ensure_tool_scons(core)
    plugin, kind = build_plugin(builtin_header=builtin_header)
    return ToolPaths(core_dir=core, tools_dir=tools_dir(), plugin=plugin, plugin_header=kind)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tinyengine_codegen.build.setup_tools",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--no-apt", action="store_true", help="do not apt-get install (fail if packages are missing)")
    parser.add_argument("--no-pip", action="store_true", help="do not pip install platformio/scons")
    parser.add_argument(
        "--builtin-header",
        action="store_true",
        help="build the plugin against the project's API declarations, fetch nothing",
    )
    args = parser.parse_args(argv)
    try:
        paths = setup_tools(apt=not args.no_apt, pip=not args.no_pip, builtin_header=args.builtin_header)
    except TinyMLError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"PlatformIO core dir: {paths.core_dir}\nQEMU plugin: {paths.plugin} (header: {paths.plugin_header})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
