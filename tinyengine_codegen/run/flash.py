"""Flash a built firmware project onto a real board with `pio run -t upload`, and find the board's probe and
console port.

Probes and serial ports are found through pyserial's port list (Linux, macOS, Windows), pyOCD's probe list when
pyOCD is installed (probes without a serial port), and on Linux the USB devices in sysfs (e.g. an RP2040 in
BOOTSEL mode, which has no serial port). A missing probe or tool gives one clear error naming what was looked for.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tinyengine_codegen.boards import Board
from tinyengine_codegen.build.platformio import project_env
from tinyengine_codegen.build.setup_tools import ensure_tool_scons, pio_command
from tinyengine_codegen.errors import TinyMLError

USB_SYSFS = Path("/sys/bus/usb/devices")
UPLOAD_TIMEOUT_S = 300
PROTOCOLS = ("stlink", "jlink", "cmsis-dap", "picotool", "sam-ba")


@dataclass(frozen=True, slots=True)
class UsbDevice:
    """An attached USB device: ids as 4-digit lowercase hex, a description, its serial port (None: it has none)."""

    vid: str
    pid: str
    description: str
    port: str | None = None


@dataclass(frozen=True, slots=True)
class Probe:
    """How to recognise a programmer: USB ids (vendor, product; product None = any), or a description fragment,
    and the host tool its upload runs."""

    label: str
    usb_ids: tuple[tuple[str, str | None], ...]
    hint: str
    tool: str
    install_hint: str

    def matches(self, dev: UsbDevice) -> bool:
        ids = any(dev.vid == v and p in (None, dev.pid) for v, p in self.usb_ids)
        return ids or (bool(self.hint) and self.hint.lower() in dev.description.lower())


_OPENOCD = "openocd (apt-get install openocd, brew install open-ocd, or the xPack OpenOCD on Windows)"
PROBES = {
    "stlink": Probe(
        "ST-LINK probe",
        tuple(("0483", p) for p in ("3744", "3748", "374b", "374d", "374e", "374f", "3752", "3753", "3754")),
        "ST-LINK",
        "openocd",
        _OPENOCD,
    ),
    "cmsis-dap": Probe(
        "CMSIS-DAP probe", (("0d28", "0204"), ("2e8a", "000c"), ("c251", None)), "CMSIS-DAP", "openocd", _OPENOCD
    ),
    "jlink": Probe("SEGGER J-Link", (("1366", None),), "J-Link", "JLinkExe", "SEGGER's J-Link Software Pack"),
    "picotool": Probe(
        "RP2040 in BOOTSEL mode (hold BOOTSEL while plugging in USB)",
        (("2e8a", "0003"),),
        "RP2 Boot",
        "picotool",
        "apt-get install picotool, or the Raspberry Pi Pico SDK tools",
    ),
    "sam-ba": Probe(
        "Arduino Nano 33 BLE (double-tap reset for its boot loader)",
        (("2341", "005a"), ("2341", "805a")),
        "Nano 33 BLE",
        "bossac",
        "apt-get install bossa-cli, or the Arduino IDE's bossac",
    ),
}


def _hex4(v) -> str:
    return f"{int(v):04x}" if v is not None else ""


def usb_devices(sysfs: Path = USB_SYSFS) -> tuple[UsbDevice, ...]:
    """Every attached USB device the host's libraries can see."""
    found: list[UsbDevice] = []
    try:
        from serial.tools import list_ports

        for p in list_ports.comports():
            if p.vid is not None:
                text = " ".join(x for x in (p.description, p.product, p.manufacturer) if x)
                found.append(UsbDevice(_hex4(p.vid), _hex4(p.pid), text, p.device))
    except ImportError:
        pass
    try:
        from pyocd.probe.aggregator import DebugProbeAggregator

        for probe in DebugProbeAggregator.get_all_connected_probes():
            found.append(UsbDevice("", "", f"{probe.vendor_name} {probe.product_name}"))
    except Exception:
        pass
    if sysfs.is_dir():
        for dev in sorted(sysfs.iterdir()):
            vid, pid = dev / "idVendor", dev / "idProduct"
            if vid.is_file() and pid.is_file():
                name = (dev / "product").read_text().strip() if (dev / "product").is_file() else ""
                found.append(UsbDevice(vid.read_text().strip().lower(), pid.read_text().strip().lower(), name))
    return tuple(found)


def find_probe(board: Board, protocol: str | None = None, devices: tuple[UsbDevice, ...] | None = None) -> Probe:
    """The probe for `protocol` (default: the board's), attached and with its tool installed; else TinyMLError."""
    if board.is_virtual:
        raise TinyMLError(f"{board.id} is a virtual board: there is nothing to flash; use `tinyml validate` or run")
    protocol = protocol or board.upload_protocol
    probe = PROBES.get(protocol)
    if probe is None:
        raise TinyMLError(f"{board.id}: upload protocol '{protocol}' is not supported; known: {', '.join(PROBES)}")
    devices = usb_devices() if devices is None else devices
    if not any(probe.matches(d) for d in devices):
        ids = ", ".join(f"{v}:{p or '*'}" for v, p in probe.usb_ids)
        seen = ", ".join(sorted({f"{d.vid}:{d.pid} {d.description}".strip() for d in devices})) or "none"
        raise TinyMLError(
            f"no {probe.label} found (looked for USB ids {ids} or '{probe.hint}' in pyserial's and pyOCD's device "
            f"lists; attached: {seen}); connect the {board.name}, check the cable and USB permissions, or pick "
            "another probe with --protocol"
        )
    if shutil.which(probe.tool) is None:
        raise TinyMLError(f"{probe.tool} not found: it uploads over {protocol}; install {probe.install_hint}")
    return probe


def serial_port(board: Board, devices: tuple[UsbDevice, ...] | None = None) -> str:
    """The serial port of the board's console: the ST-LINK's virtual COM port on ST boards; other boards have their
    console on header pins (see the board file), so the port must be named with --port."""
    devices = usb_devices() if devices is None else devices
    probe = PROBES.get(board.upload_protocol)
    ports = [d.port for d in devices if d.port and probe is not None and probe.matches(d)]
    if board.upload_protocol == "stlink" and len(ports) == 1:
        return ports[0]
    all_ports = ", ".join(sorted({d.port for d in devices if d.port})) or "none"
    where = f"console {board.console}" if board.console else "console"
    raise TinyMLError(f"cannot tell which serial port is {board.id}'s {where} (serial ports: {all_ports}); pass --port")


def _upload_error(output: str, board: Board, probe: Probe) -> TinyMLError:
    for pattern in (r"^.*(?:OpenOCD init failed|open failed|No device found|Cannot connect|Error:).*$",
                    r"^.*\*\*\* \[upload\].*$"):  # fmt: skip
        line = re.search(pattern, output, flags=re.MULTILINE)
        if line:
            return TinyMLError(
                f"flashing {board.id} over {probe.label} failed: {line.group(0).strip()}; "
                "check the connection and that no other program holds the probe"
            )
    tail = " | ".join(output.strip().splitlines()[-3:])
    return TinyMLError(f"flashing {board.id} failed: {tail}")


def flash(project_dir: Path, board: Board, *, protocol: str | None = None, official: bool = False) -> Probe:
    """Upload the built project to the attached board (offline env, or the official platform's env)."""
    project_dir = Path(project_dir).resolve()
    if not (project_dir / "platformio.ini").is_file():
        raise TinyMLError(f"{project_dir} is not a PlatformIO project; call prepare_project first")
    probe = find_probe(board, protocol)
    ensure_tool_scons()
    env_name = f"{board.id}-official" if official else board.id
    cmd = [*pio_command(), "run", "-d", str(project_dir), "-e", env_name, "-t", "upload"]
    if protocol:
        cmd += ["-O", f"upload_protocol={protocol}"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=project_env(), timeout=UPLOAD_TIMEOUT_S)
    except subprocess.TimeoutExpired as err:
        raise TinyMLError(f"flashing {board.id} did not finish within {UPLOAD_TIMEOUT_S} s") from err
    if proc.returncode != 0:
        raise _upload_error(proc.stdout + "\n" + proc.stderr, board, probe)
    return probe
