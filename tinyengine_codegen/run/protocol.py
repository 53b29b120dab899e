"""The validation protocol's frames and messages, host side (the firmware side: firmware/src/validate_main.c;
the description: docs/validate.md).

Frame: A5 5A | type u8 | seq u8 | length u16 LE | payload | CRC-32 u32 LE over type..payload (zlib's CRC-32).
Pure code: no I/O here; `FrameReader` turns a byte stream (with the firmware's text banner in it) into frames and
text.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

MAGIC = b"\xa5\x5a"
VERSION = 1
HEADER = struct.Struct("<BBH")
MAX_REQUEST = 1024

INFO, WRITE, INVOKE, READ, RESET, EXIT = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
R_INFO, R_ACK, R_RESULT, R_DATA, R_NAK, R_BOOT = 0x81, 0x82, 0x83, 0x84, 0x8E, 0x8F
NAK_CRC, NAK_LENGTH, NAK_TYPE, NAK_RANGE, NAK_TIMEOUT = 1, 2, 3, 4, 5
NAK_NAMES = {NAK_CRC: "bad CRC", NAK_LENGTH: "bad length", NAK_TYPE: "unknown type", NAK_RANGE: "out of range",
             NAK_TIMEOUT: "frame timed out"}  # fmt: skip
TIMERS = {0: "none", 1: "DWT", 2: "SysTick"}


class ProtocolError(Exception):
    """A reply that breaks the protocol (wrong type, short payload); the caller turns it into a user error."""


def encode(kind: int, seq: int, payload: bytes = b"") -> bytes:
    """One frame. Payloads over 65535 bytes cannot be framed (requests stay under MAX_REQUEST)."""
    if len(payload) > 0xFFFF:
        raise ValueError(f"payload of {len(payload)} bytes does not fit a frame")
    body = HEADER.pack(kind, seq & 0xFF, len(payload)) + payload
    return MAGIC + body + struct.pack("<I", zlib.crc32(body))


@dataclass(frozen=True, slots=True)
class Frame:
    kind: int
    seq: int
    payload: bytes


class FrameReader:
    """Incremental frame parser. feed() bytes; frames() yields complete frames with a valid CRC. Bytes outside
    frames are kept as text (the boot banner); frames with a bad CRC are counted in `bad_frames` and skipped."""

    def __init__(self, max_payload: int = 1 << 16) -> None:
        self._buf = bytearray()
        self.text = bytearray()
        self.bad_frames = 0
        self._max = max_payload

    def feed(self, data: bytes) -> None:
        self._buf += data

    def frames(self):
        while True:
            start = self._buf.find(MAGIC)
            if start < 0:
                keep = 1 if self._buf.endswith(MAGIC[:1]) else 0
                self.text += self._buf[: len(self._buf) - keep]
                del self._buf[: len(self._buf) - keep]
                return
            self.text += self._buf[:start]
            del self._buf[:start]
            if len(self._buf) < 2 + HEADER.size:
                return
            kind, seq, length = HEADER.unpack_from(self._buf, 2)
            end = 2 + HEADER.size + length + 4
            if len(self._buf) < end:
                return
            body = bytes(self._buf[2 : end - 4])
            if zlib.crc32(body) != struct.unpack_from("<I", self._buf, end - 4)[0]:
                self.bad_frames += 1
                del self._buf[:1]  # resynchronise on the next magic
                continue
            del self._buf[:end]
            yield Frame(kind, seq, body[HEADER.size :])

    def take_text(self) -> str:
        text = self.text.decode("utf-8", errors="replace")
        self.text.clear()
        return text


@dataclass(frozen=True, slots=True)
class Info:
    """What the firmware reports about itself (INFO reply and BOOT event)."""

    version: int
    timer: str
    clock_rated: bool
    clock_hz: int
    model_id: int
    arena_bytes: int
    num_layers: int
    max_request: int
    max_chunk: int
    input_bytes: tuple[int, ...]
    output_bytes: tuple[int, ...]
    board: str


def parse_info(payload: bytes) -> Info:
    try:
        version, timer, rated, n_in, n_out, _, layers = struct.unpack_from("<6BH", payload, 0)
        model_id, clock_hz, arena, max_req, max_chunk = struct.unpack_from("<3I2H", payload, 8)
        pos = 24
        sizes = struct.unpack_from(f"<{n_in + n_out}I", payload, pos)
        pos += 4 * (n_in + n_out)
        board = payload[pos + 1 : pos + 1 + payload[pos]].decode("ascii", errors="replace")
    except (struct.error, IndexError) as err:
        raise ProtocolError(f"INFO payload of {len(payload)} bytes is malformed") from err
    return Info(version, TIMERS.get(timer, f"timer {timer}"), bool(rated), clock_hz, model_id, arena, layers,
                max_req, max_chunk, tuple(sizes[:n_in]), tuple(sizes[n_in:]), board)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Result:
    """An INVOKE reply: the model's status, which inference since boot it was (the boot self-test is 0), cycles of
    the whole inference and per layer (0 without a cycle counter), CRC-32 of each output tensor."""

    status: int
    invoke_index: int
    cycles: int
    layer_cycles: tuple[int, ...]
    output_crcs: tuple[int, ...]


def parse_result(payload: bytes, num_outputs: int) -> Result:
    try:
        status, index, cycles, layers, _ = struct.unpack_from("<iIQHH", payload, 0)
        crcs = struct.unpack_from(f"<{num_outputs}I", payload, 20)
        per_layer = struct.unpack_from(f"<{layers}Q", payload, 20 + 4 * num_outputs)
    except struct.error as err:
        raise ProtocolError(f"RESULT payload of {len(payload)} bytes is malformed") from err
    return Result(status, index, cycles, per_layer, crcs)


def write_payload(index: int, offset: int, data: bytes) -> bytes:
    return struct.pack("<BI", index, offset) + data


def read_payload(index: int, offset: int, length: int) -> bytes:
    return struct.pack("<BIH", index, offset, length)


def parse_nak(payload: bytes) -> str:
    code = payload[0] if payload else 0
    return NAK_NAMES.get(code, f"code {code}")
