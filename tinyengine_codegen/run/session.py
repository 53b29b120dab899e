"""Host side of the validation protocol (docs/validate.md): requests with retries over a byte link.

Every request waits for the reply with its sequence number. A reply that does not come within the timeout, a
NAK or a reply with a bad CRC makes the request go again (at most `retries` times; the firmware's requests are
idempotent). A BOOT frame while waiting means the board reset: `BoardReset` is raised so that the caller can
start the sample again on a fresh board.
"""

from __future__ import annotations

import contextlib
import time

from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.run import protocol as tp


class BoardReset(Exception):
    """The board sent BOOT in the middle of an exchange: it reset (power, reset button, watchdog, crash)."""

    def __init__(self, info: tp.Info) -> None:
        super().__init__("board reset")
        self.info = info


class Session:
    """One board's console. timeout_s: reply timeout of ordinary requests; invoke_timeout_s: of INVOKE."""

    def __init__(self, link, *, timeout_s: float = 5.0, invoke_timeout_s: float = 600.0, retries: int = 3) -> None:
        self.link = link
        self.timeout_s = timeout_s
        self.invoke_timeout_s = invoke_timeout_s
        self.retries = retries
        self.reader = tp.FrameReader()
        self.info: tp.Info | None = None
        self.naks: list[str] = []
        self.retried = 0
        self._seq = 0
        self._pending: list[tp.Frame] = []

    def _frames(self, timeout_s: float):
        """Frames as they arrive until timeout_s passes with nothing new."""
        end = time.monotonic() + timeout_s
        while True:
            while self._pending:
                yield self._pending.pop(0)
            left = end - time.monotonic()
            if left <= 0:
                return
            data = self.link.read(min(left, 0.2))
            if data:
                self.reader.feed(data)
                self._pending.extend(self.reader.frames())

    def wait_boot(self, timeout_s: float) -> tp.Info:
        """The INFO of a board that just started: its BOOT frame, or (missed it: the port opened late) an INFO reply."""
        for frame in self._frames(timeout_s):
            if frame.kind == tp.R_BOOT:
                self.info = tp.parse_info(frame.payload)
                return self.info
        return self.request_info()

    def request_info(self) -> tp.Info:
        self.info = tp.parse_info(self.request(tp.INFO, b"", tp.R_INFO).payload)
        return self.info

    def request(self, kind: int, payload: bytes, want: int, timeout_s: float | None = None) -> tp.Frame:
        """Send one request and return its reply of type `want`; TinyMLError after `retries` failed attempts."""
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        why = "no reply"
        for attempt in range(self.retries + 1):
            self._seq = (self._seq + 1) & 0xFF
            self.retried += attempt > 0
            self.link.write(tp.encode(kind, self._seq, payload))
            for frame in self._frames(timeout_s):
                if frame.kind == tp.R_BOOT:
                    self.info = tp.parse_info(frame.payload)
                    raise BoardReset(self.info)
                if frame.seq != self._seq:
                    continue  # a late reply to an earlier attempt
                if frame.kind == tp.R_NAK:
                    why = f"NAK ({tp.parse_nak(frame.payload)})"
                    self.naks.append(why)
                    break
                if frame.kind != want:
                    raise TinyMLError(f"the board answered request 0x{kind:02x} with frame type 0x{frame.kind:02x}")
                return frame
            else:
                why = f"no reply within {timeout_s:g} s"
        raise TinyMLError(
            f"board on {self.link.name} did not answer request 0x{kind:02x} after {self.retries + 1} attempts "
            f"({why}); check the port, the baud rate ({'' if self.info is None else 'firmware answered before, '}"
            "115200) and that the validation firmware runs"
        )

    def write_input(self, index: int, data: bytes) -> None:
        chunk = (self.info.max_request if self.info else tp.MAX_REQUEST) - 5
        for offset in range(0, len(data), chunk):
            part = data[offset : offset + chunk]
            ack = self.request(tp.WRITE, tp.write_payload(index, offset, part), tp.R_ACK)
            if int.from_bytes(ack.payload[:4], "little") != offset + len(part):
                raise TinyMLError(f"the board acknowledged input {index} up to the wrong offset")

    def read_output(self, index: int, size: int) -> bytes:
        chunk = self.info.max_chunk if self.info else 1024
        out = bytearray()
        while len(out) < size:
            n = min(chunk, size - len(out))
            out += self.request(tp.READ, tp.read_payload(index, len(out), n), tp.R_DATA).payload[:n]
        return bytes(out)

    def invoke(self) -> tp.Result:
        frame = self.request(tp.INVOKE, b"", tp.R_RESULT, self.invoke_timeout_s)
        return tp.parse_result(frame.payload, len(self.info.output_bytes) if self.info else 1)

    def exit(self) -> None:
        """Ask the firmware to stop (a virtual board's QEMU then exits)."""
        with contextlib.suppress(TinyMLError, BoardReset):
            self.request(tp.EXIT, b"", tp.R_ACK)
