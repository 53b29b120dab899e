"""Flash a prepared firmware project onto a real board with `pio run -t upload`.

Before calling PlatformIO it checks that the board's programmer is attached (USB vendor:product ids under
/sys/bus/usb/devices) and that the upload tool is installed, so a missing probe gives one clear error instead
of a tool's failure output.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tinyengine_codegen.boards import Board
from tinyengine_codegen.build.platformio import default_env
from tinyengine_codegen.build.setup_tools import ensure_tool_scons, pio_command, pio_env
from tinyengine_codegen.errors import TinyMLError

USB_SYSFS = Path("/sys/bus/usb/devices")
UPLOAD_TIMEOUT_S = 300


@dataclass(frozen=True, slots=True)
class Probe:
    """How to recognise a board's programmer: USB ids (vendor, product) or a product-name fragment, and the
    host tool the upload runs."""

    label: str
    usb_ids: tuple[tuple[str, str], ...]
    product_hint: str
    tool: str
    install_hint: str


PROBES = {
    "stlink": Probe(
        "ST-LINK probe",
        tuple(("0483", p) for p in ("3744", "3748", "374b", "374d", "374e", "374f", "3752", "3753", "3754")),
        "ST-LINK",
        "openocd",
        "apt-get install openocd",
    ),
    "cmsis-dap": Probe("CMSIS-DAP probe", (), "CMSIS-DAP", "openocd", "apt-get install openocd"),
    "picotool": Probe(
        "RP2040 in BOOTSEL mode (hold BOOTSEL while plugging in USB)",
        (("2e8a", "0003"),),
        "RP2 Boot",
        "picotool",
        "apt-get install picotool",
    ),
    "sam-ba": Probe(
        "Arduino Nano 33 BLE serial port",
        (("2341", "005a"), ("2341", "805a")),
        "Nano 33 BLE",
        "bossac",
        "apt-get install bossa-cli",
    ),
}


def usb_devices(sysfs: Path = USB_SYSFS) -> tuple[tuple[str, str, str], ...]:
    """(vendor id, product id, product name) of every attached USB device."""
    found = []
    if not sysfs.is_dir():
        return ()
    for dev in sorted(sysfs.iterdir()):
        vid, pid = dev / "idVendor", dev / "idProduct"
        if vid.is_file() and pid.is_file():
            name = (dev / "product").read_text().strip() if (dev / "product").is_file() else ""
            found.append((vid.read_text().strip().lower(), pid.read_text().strip().lower(), name))
    return tuple(found)


def check_probe(board: Board, sysfs: Path = USB_SYSFS) -> Probe:
    """Raise TinyMLError unless the board's programmer is attached and its upload tool is installed."""
    if board.is_virtual:
        raise TinyMLError(f"{board.id} is a virtual board: there is nothing to flash; run it with run_qemu()")
    probe = PROBES.get(board.upload_protocol)
    if probe is None:
        raise TinyMLError(
            f"{board.id}: upload protocol '{board.upload_protocol}' is not supported; known: {', '.join(PROBES)}"
        )
    devices = usb_devices(sysfs)
    attached = any((v, p) in probe.usb_ids or (probe.product_hint and probe.product_hint in n) for v, p, n in devices)
    if not attached:
        ids = ", ".join(f"{v}:{p}" for v, p in probe.usb_ids) or f"product name '{probe.product_hint}'"
        raise TinyMLError(
            f"no {probe.label} found (no USB device {ids} under {sysfs}); connect the {board.name} "
            "over USB and check the cable and udev permissions"
        )
    if shutil.which(probe.tool) is None:
        raise TinyMLError(
            f"{probe.tool} not found: it uploads to {board.name} over {board.upload_protocol}; "
            f"install it ({probe.install_hint})"
        )
    return probe


def _upload_error(output: str, board: Board, probe: Probe) -> TinyMLError:
    for pattern in (r"^.*(?:OpenOCD init failed|open failed|No device found|Error:).*$", r"^.*\*\*\* \[upload\].*$"):
        line = re.search(pattern, output, flags=re.MULTILINE)
        if line:
            return TinyMLError(
                f"flashing {board.id} over {probe.label} failed: {line.group(0).strip()}; "
                "check the connection and that no other program holds the probe"
            )
    tail = " | ".join(output.strip().splitlines()[-3:])
    return TinyMLError(f"flashing {board.id} failed: {tail}")


def flash(project_dir: Path, board: Board, *, sysfs: Path = USB_SYSFS) -> None:
    """Build (if needed) and upload the project's default environment to the attached board."""
    project_dir = Path(project_dir).resolve()
    if not (project_dir / "platformio.ini").is_file():
        raise TinyMLError(f"{project_dir} is not a PlatformIO project; call prepare_project first")
    probe = check_probe(board, sysfs)
    ensure_tool_scons()
    cmd = [*pio_command(), "run", "-d", str(project_dir), "-e", default_env(project_dir), "-t", "upload"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=pio_env(), timeout=UPLOAD_TIMEOUT_S)
    except subprocess.TimeoutExpired as err:
        raise TinyMLError(f"flashing {board.id} did not finish within {UPLOAD_TIMEOUT_S} s") from err
    if proc.returncode != 0:
        raise _upload_error(proc.stdout + "\n" + proc.stderr, board, probe)
