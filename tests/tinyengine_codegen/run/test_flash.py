"""Flashing: probe and console-port detection from the device lists, upload errors turned into one line."""

from pathlib import Path

import pytest

from tinyengine_codegen.boards import load_board
from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.run import flash as flash_mod
from tinyengine_codegen.run.flash import PROBES, UsbDevice, _upload_error, find_probe, serial_port, usb_devices

STLINK_VCP = UsbDevice("0483", "374b", "STM32 STLink - ST-Link VCP Data", "/dev/ttyACM0")
JLINK = UsbDevice("1366", "1015", "J-Link", "/dev/ttyACM1")
MOUSE = UsbDevice("046d", "c52b", "USB Receiver")


def _usb(root: Path, name: str, vid: str, pid: str, product: str = "") -> None:
    dev = root / name
    dev.mkdir(parents=True)
    (dev / "idVendor").write_text(vid + "\n")
    (dev / "idProduct").write_text(pid + "\n")
    if product:
        (dev / "product").write_text(product + "\n")


def test_missing_probe_names_what_was_looked_for_and_what_is_attached():
    board = load_board("nucleo-f746zg")
    with pytest.raises(TinyMLError, match=r"no ST-LINK probe found \(looked for USB ids 0483:3744.*046d:c52b USB Rec"):
        find_probe(board, devices=(MOUSE,))
    with pytest.raises(TinyMLError, match=r"no SEGGER J-Link found \(looked for USB ids 1366:\*"):
        find_probe(board, "jlink", devices=(STLINK_VCP,))
    with pytest.raises(TinyMLError, match="protocol 'dfu' is not supported"):
        find_probe(board, "dfu", devices=())


def test_attached_probe_needs_its_tool(monkeypatch):
    monkeypatch.setattr(flash_mod.shutil, "which", lambda tool: None)
    with pytest.raises(TinyMLError, match=r"openocd not found.*apt-get install openocd"):
        find_probe(load_board("nucleo-h743zi"), devices=(STLINK_VCP,))
    monkeypatch.setattr(flash_mod.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    assert find_probe(load_board("nucleo-h743zi"), devices=(STLINK_VCP,)) is PROBES["stlink"]
    assert find_probe(load_board("nano33ble"), "jlink", devices=(MOUSE, JLINK)) is PROBES["jlink"]
    with pytest.raises(TinyMLError, match="Arduino Nano 33 BLE"):
        find_probe(load_board("nano33ble"), devices=(STLINK_VCP,))


def test_sysfs_devices_are_listed(tmp_path):
    _usb(tmp_path, "1-3", "2E8A", "0003", "RP2 Boot")
    assert UsbDevice("2e8a", "0003", "RP2 Boot") in usb_devices(tmp_path)


def test_console_port_is_the_stlink_vcp_or_must_be_named():
    assert serial_port(load_board("nucleo-f746zg"), (MOUSE, STLINK_VCP)) == "/dev/ttyACM0"
    with pytest.raises(TinyMLError, match=r"pico's console UART0 GP0/GP1 115200 \(serial ports: /dev/ttyACM0\); pass"):
        serial_port(load_board("pico"), (STLINK_VCP,))
    two = (STLINK_VCP, UsbDevice("0483", "374e", "STLINK-V3", "/dev/ttyACM2"))
    with pytest.raises(TinyMLError, match="pass --port"):
        serial_port(load_board("nucleo-f746zg"), two)


def test_virtual_board_cannot_be_flashed():
    with pytest.raises(TinyMLError, match="virtual board"):
        find_probe(load_board("qemu-m4"), devices=())


def test_openocd_failure_becomes_one_line():
    out = "Open On-Chip Debugger 0.12.0\nError: open failed\nin procedure 'program'\n** OpenOCD init failed **\n"
    err = _upload_error(out, load_board("nucleo-f411re"), PROBES["stlink"])
    assert str(err).startswith("flashing nucleo-f411re over ST-LINK probe failed: Error: open failed;")
