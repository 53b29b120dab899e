"""Tool set-up: tool-scons package, apt/pip checks, PlatformIO environment."""

import json
import os
import subprocess
import sys

import pytest

from tinyengine_codegen.build import setup_tools
from tinyengine_codegen.build.setup_tools import ensure_apt_packages, ensure_tool_scons, pio_env, tool_scons_versions
from tinyengine_codegen.errors import TinyMLError


def test_tool_scons_version_is_decoded_from_platformio():
    assert tool_scons_versions() == ("4.41101.0", "4.11.1")


def test_tool_scons_package_is_built_once_and_runs(tmp_path):
    pkg = ensure_tool_scons(tmp_path / "core")
    assert json.loads((pkg / "package.json").read_text()) == {"name": "tool-scons", "version": "4.41101.0"}
    assert json.loads((pkg / ".piopm").read_text())["spec"]["owner"] == "platformio"
    proc = subprocess.run([sys.executable, str(pkg / "scons.py"), "--version"], capture_output=True, text=True)
    assert "4.11.1" in proc.stdout
    stamp = (pkg / "scons.py").stat().st_mtime_ns
    assert ensure_tool_scons(tmp_path / "core") == pkg and (pkg / "scons.py").stat().st_mtime_ns == stamp


def test_missing_system_packages_without_root_say_what_to_install(monkeypatch):
    monkeypatch.setattr(setup_tools, "missing_apt_packages", lambda: ("qemu-system-arm", "gcc-arm-none-eabi"))
    monkeypatch.setattr(setup_tools.os, "geteuid", lambda: 1000)
    with pytest.raises(
        TinyMLError, match="apt-get install -y --no-install-recommends qemu-system-arm gcc-arm-none-eabi"
    ):
        ensure_apt_packages()


def test_pio_environment_is_offline_friendly(monkeypatch, tmp_path):
    monkeypatch.setenv("PLATFORMIO_CORE_DIR", str(tmp_path))
    env = pio_env()
    assert env["PLATFORMIO_CORE_DIR"] == str(tmp_path.resolve())
    assert env["PLATFORMIO_DISABLE_UPGRADE_CHECK"] == "true" and env["PLATFORMIO_SETTING_ENABLE_TELEMETRY"] == "No"
    monkeypatch.delenv("PLATFORMIO_CORE_DIR")
    assert pio_env()["PLATFORMIO_CORE_DIR"] == str(setup_tools.REPO_ROOT / ".pio-core")
    assert "PLATFORMIO_CORE_DIR" not in os.environ
