"""Byte links to a board's console UART: a serial port (real boards, through pyserial) and QEMU's first serial
port on a Unix socket (virtual boards), with QEMU started, monitored (for a reset) and stopped here.

A link offers write(bytes), read(timeout_s) -> the bytes that arrived (possibly none) and close().
"""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tinyengine_codegen.boards import Board
from tinyengine_codegen.errors import TinyMLError

QEMU_CONNECT_TIMEOUT_S = 20


class SerialLink:
    """A serial port at the console's baud rate (8N1, no flow control)."""

    def __init__(self, port: str, baud: int) -> None:
        try:
            import serial
        except ImportError as err:
            raise TinyMLError("pyserial is not installed: pip install 'tinyml[mcu]' (or pip install pyserial)") from err
        try:
            self._port = serial.Serial(port, baud, timeout=0)
        except (serial.SerialException, OSError) as err:
            raise TinyMLError(f"cannot open serial port {port}: {err}; check --port and its permissions") from err
        self.name = port

    def write(self, data: bytes) -> None:
        self._port.write(data)
        self._port.flush()

    def read(self, timeout_s: float) -> bytes:
        end = time.monotonic() + timeout_s
        while True:
            waiting = self._port.in_waiting
            if waiting:
                return self._port.read(waiting)
            if time.monotonic() >= end:
                return b""
            time.sleep(0.002)

    def close(self) -> None:
        self._port.close()


class QemuConsole:
    """QEMU running `elf` on a virtual board, its first serial port (the board's console UART) on a Unix socket
    this object is connected to, its monitor on a pipe (reset), semihosting on (the firmware's exit), and the
    instruction-counting plugin when `plugin_args` is given. QEMU waits for the connection before it starts the
    guest, so no byte of the boot output is lost."""

    def __init__(self, elf: Path, board: Board, plugin_args: str | None = None) -> None:
        if shutil.which("qemu-system-arm") is None:
            raise TinyMLError("qemu-system-arm not found; run `tinyml setup`")
        self._dir = tempfile.TemporaryDirectory(prefix="tinyml-console-")
        sock_path = os.path.join(self._dir.name, "console.sock")
        self.log_path = Path(self._dir.name) / "qemu.log"
        cmd = ["qemu-system-arm", "-machine", str(board.qemu_machine), "-display", "none", "-monitor", "stdio",
               "-chardev", f"socket,id=console,path={sock_path},server=on,wait=on", "-serial", "chardev:console",
               "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)]  # fmt: skip
        if plugin_args:
            cmd += ["-plugin", plugin_args]
        self.name = f"QEMU {board.qemu_machine} serial 0"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in close()
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=self._log, stderr=subprocess.STDOUT)
        self._sock = self._connect(sock_path)

    def _connect(self, path: str) -> socket.socket:
        end = time.monotonic() + QEMU_CONNECT_TIMEOUT_S
        while time.monotonic() < end:
            if self._proc.poll() is not None:
                self.close()
                raise TinyMLError(f"QEMU exited with status {self._proc.returncode} before its console opened: "
                                  f"{self.log_tail()}")  # fmt: skip
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(path)
                return sock
            except OSError:
                sock.close()
                time.sleep(0.02)
        self.close()
        raise TinyMLError(f"QEMU's console socket did not open within {QEMU_CONNECT_TIMEOUT_S} s")

    def write(self, data: bytes) -> None:
        self._sock.sendall(data)

    def read(self, timeout_s: float) -> bytes:
        ready, _, _ = select.select([self._sock], [], [], max(timeout_s, 0.0))
        if not ready:
            return b""
        data = self._sock.recv(65536)
        if not data:  # QEMU closed the console: it is exiting
            status = self.wait_exit(5)
            raise TinyMLError(f"QEMU closed the board's console (exit status {status}): {self.log_tail()}")
        return data

    def reset(self) -> None:
        """A system reset from outside the firmware, as a board's reset button gives."""
        self._proc.stdin.write(b"system_reset\n")
        self._proc.stdin.flush()

    def wait_exit(self, timeout_s: float) -> int | None:
        try:
            return self._proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(line for line in lines[-3:] if not line.startswith("(qemu)"))

    def close(self) -> None:
        if getattr(self, "_sock", None) is not None:
            self._sock.close()
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdin:
            self._proc.stdin.close()
        self._log.close()
        self._dir.cleanup()

    def __enter__(self) -> QemuConsole:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
