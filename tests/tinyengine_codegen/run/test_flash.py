"""Flashing: probe detection before PlatformIO is called, and upload errors turned into one line."""

from pathlib import Path

import pytest

from tinyengine_codegen.boards import load_board
from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.run import flash as flash_mod
from tinyengine_codegen.run.flash import PROBES, _upload_error, check_probe, flash, usb_devices


def _usb(root: Path, name: str, vid: str, pid: str, product: str = "") -> None:
    dev = root / name
    dev.mkdir(parents=True)
    (dev / "idVendor").write_text(vid + "\n")
    (dev / "idProduct").write_text(pid + "\n")
    if product:
        (dev / "product").write_text(product + "\n")


def test_missing_stlink_is_named_before_pio_runs(tmp_path, fake_model_dir):
    _usb(tmp_path, "1-1", "046d", "c52b", "Receiver")
    board = load_board("nucleo-f746zg")
    with pytest.raises(
        TinyMLError, match=r"no ST-LINK probe found \(no USB device 0483:3744.*connect the ST NUCLEO-F746ZG"
    ):
        check_probe(board, tmp_path)
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "platformio.ini").write_text("[platformio]\ndefault_envs = nucleo-f746zg\n")
    with pytest.raises(TinyMLError, match="no ST-LINK probe found"):
        flash(proj, board, sysfs=tmp_path)


def test_attached_probe_needs_its_tool(tmp_path, monkeypatch):
    _usb(tmp_path, "1-2", "0483", "374B", "STM32 STLink")
    _usb(tmp_path, "1-3", "2e8a", "0003", "RP2 Boot")
    assert ("0483", "374b", "STM32 STLink") in usb_devices(tmp_path)
    monkeypatch.setattr(flash_mod.shutil, "which", lambda tool: None)
    with pytest.raises(TinyMLError, match=r"openocd not found.*apt-get install openocd"):
        check_probe(load_board("nucleo-h743zi"), tmp_path)
    monkeypatch.setattr(flash_mod.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    assert check_probe(load_board("pico"), tmp_path) is PROBES["picotool"]
    with pytest.raises(TinyMLError, match="Nano 33 BLE serial port"):
        check_probe(load_board("nano33ble"), tmp_path)


def test_virtual_board_cannot_be_flashed(tmp_path):
    with pytest.raises(TinyMLError, match="virtual board.*run_qemu"):
        check_probe(load_board("qemu-m4"), tmp_path)


def test_openocd_failure_becomes_one_line():
    out = "Open On-Chip Debugger 0.12.0\nError: open failed\nin procedure 'program'\n** OpenOCD init failed **\n"
    err = _upload_error(out, load_board("nucleo-f411re"), PROBES["stlink"])
    assert str(err).startswith("flashing nucleo-f411re over ST-LINK probe failed: Error: open failed;")
