"""The validation protocol against the firmware on the virtual boards: framing, bad frames, timeouts, a board that
resets mid-run, and the sample loop's recovery. The fake model (tests/tinyengine_codegen/conftest.py) outputs
input + 1 and has 5 layers."""

import shutil
import time
import zlib
from types import SimpleNamespace

import numpy as np
import pytest

from tinyengine_codegen.boards import load_board
from tinyengine_codegen.build.firmware_files import model_id
from tinyengine_codegen.build.platformio import build, prepare_project
from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.run import protocol as tp
from tinyengine_codegen.run.serial_link import QemuConsole
from tinyengine_codegen.run.session import BoardReset, Session
from tinyengine_codegen.run.validate import _check_output_crcs, _run_samples, check_firmware

from ..conftest import FAKE_INPUT_SIZE

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm missing"),
]
BOARDS = ("qemu-stm32f405", "qemu-m4")


@pytest.fixture(scope="module", params=BOARDS)
def firmware(request, fake_model_dir, tmp_path_factory):
    board = load_board(request.param)
    proj = prepare_project(fake_model_dir, board, tmp_path_factory.mktemp(board.id), None, app="validate")
    return board, build(proj, board).elf_path


@pytest.fixture
def console(firmware):
    board, elf = firmware
    with QemuConsole(elf, board) as link:
        yield board, link


def _reply(link, reader, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        reader.feed(link.read(0.2))
        for frame in reader.frames():
            return frame
    raise AssertionError("no frame")


def test_boot_frame_banner_and_round_trip(console, fake_model_dir):
    board, link = console
    session = Session(link)
    info = session.wait_boot(10)
    assert (info.board, info.input_bytes, info.output_bytes, info.num_layers) == (board.id, (37,), (37,), 5)
    assert info.model_id == model_id(fake_model_dir) and info.version == tp.VERSION
    banner = session.reader.take_text()
    assert f"board: {board.id}" in banner and "self-test: status 0" in banner
    if board.id == "qemu-stm32f405":  # no RCC in QEMU: the clock code timed out and kept the 16 MHz HSI
        assert (info.clock_hz, info.clock_rated) == (16_000_000, False) and "HSIRDY did not set" in banner
    else:
        assert (info.clock_hz, info.clock_rated) == (25_000_000, True)
    x = np.arange(FAKE_INPUT_SIZE, dtype=np.int8) * 7
    session.write_input(0, x.tobytes())
    result = session.invoke()
    y = session.read_output(0, FAKE_INPUT_SIZE)
    assert np.array_equal(np.frombuffer(y, np.int8), (x + 1).astype(np.int8))
    assert result.status == 0 and result.invoke_index == 1 and result.output_crcs == (zlib.crc32(y),)
    assert len(result.layer_cycles) == 5 and result.cycles == 0  # QEMU's DWT reads as zero


def test_bad_frames_get_naks_and_the_link_recovers(console):
    _, link = console
    reader = tp.FrameReader()
    Session(link).wait_boot(10)
    good = tp.encode(tp.INFO, 7)
    link.write(good[:-1] + bytes([good[-1] ^ 1]))  # CRC broken
    assert _reply(link, reader) == tp.Frame(tp.R_NAK, 7, bytes([tp.NAK_CRC, tp.INFO]))
    link.write(tp.encode(0x33, 8))
    assert _reply(link, reader) == tp.Frame(tp.R_NAK, 8, bytes([tp.NAK_TYPE, 0x33]))
    link.write(tp.MAGIC + bytes([tp.WRITE, 9, 0xFF, 0xFF]))  # 65535 bytes announced: over the request limit
    assert _reply(link, reader) == tp.Frame(tp.R_NAK, 9, bytes([tp.NAK_LENGTH, tp.WRITE]))
    link.write(tp.encode(tp.WRITE, 10, tp.write_payload(0, 30, bytes(8))))  # 30 + 8 > 37
    assert _reply(link, reader) == tp.Frame(tp.R_NAK, 10, bytes([tp.NAK_RANGE, tp.WRITE]))
    link.write(tp.encode(tp.READ, 11, tp.read_payload(1, 0, 4)))  # no output 1
    assert _reply(link, reader) == tp.Frame(tp.R_NAK, 11, bytes([tp.NAK_RANGE, tp.READ]))
    link.write(tp.encode(tp.INFO, 12)[:5])  # a frame that stops half-way
    assert _reply(link, reader, timeout=30) == tp.Frame(tp.R_NAK, 12, bytes([tp.NAK_TIMEOUT, tp.INFO]))
    link.write(b"noise \xa5 between frames" + tp.encode(tp.INFO, 13))
    frame = _reply(link, reader)
    assert (frame.kind, frame.seq) == (tp.R_INFO, 13) and reader.bad_frames == 0


class _SilentLink:
    name = "nowhere"

    def __init__(self):
        self.sent = []

    def write(self, data):
        self.sent.append(data)

    def read(self, timeout_s):
        time.sleep(min(timeout_s, 0.01))
        return b""


def test_host_retries_then_names_the_timeout():
    link = _SilentLink()
    with pytest.raises(TinyMLError, match=r"did not answer request 0x01 after 3 attempts \(no reply within 0.05 s\)"):
        Session(link, timeout_s=0.05, retries=2).request_info()
    assert [tp.FrameReader() for _ in link.sent] and len(link.sent) == 3
    assert len({f[3] for f in link.sent}) == 3  # each attempt has its own sequence number


def test_reset_mid_sample_is_detected(console):
    _, link = console
    session = Session(_ResetMidFrame(link))
    first = session.wait_boot(10)
    session.write_input(0, bytes(FAKE_INPUT_SIZE))
    with pytest.raises(BoardReset) as err:
        session.invoke()
    assert err.value.info == first  # the same firmware came up again
    session.write_input(0, bytes(range(FAKE_INPUT_SIZE)))
    # the INVOKE that met the reset never completed on either firmware: counted from the new boot's self-test,
    # this is the first
    assert session.invoke().invoke_index == 1


class _ResetMidFrame:
    """Forwards to the console, but sends only the first `cut` bytes of the first INVOKE frame (its first magic
    byte), resets the board there and drops the rest: no firmware ever holds a whole INVOKE."""

    def __init__(self, link, cut: int = 1):
        self.link, self.name, self.cut, self.done = link, link.name, cut, False

    def write(self, data):
        if not self.done and data[len(tp.MAGIC)] == tp.INVOKE:
            self.done = True
            self.link.write(data[: self.cut])
            self.link.reset()
            return
        self.link.write(data)

    def read(self, timeout_s):
        return self.link.read(timeout_s)


class _ResetOnce:
    """Forwards to the console and resets the board the first time an INVOKE is sent."""

    def __init__(self, link):
        self.link, self.name, self.done = link, link.name, False

    def write(self, data):
        self.link.write(data)
        if not self.done and data[2] == tp.INVOKE:
            self.done = True
            self.link.reset()

    def read(self, timeout_s):
        return self.link.read(timeout_s)


def test_sample_loop_survives_a_reset(console, fake_model_dir):
    board, link = console
    t = SimpleNamespace(dtype="int8", size=FAKE_INPUT_SIZE, shape=(1, FAKE_INPUT_SIZE), name="x")
    graph = SimpleNamespace(inputs=["x"], outputs=["y"], tensors={"x": t, "y": t})
    session = Session(_ResetOnce(link))
    check_firmware(session.wait_boot(10), board, graph, model_id(fake_model_dir))
    samples = [[np.full((1, FAKE_INPUT_SIZE), v, np.int8)] for v in (3, -9, 100)]
    outs, results, resets = _run_samples(session, graph, samples, None)
    assert resets == 1 and [int(o[0].ravel()[0]) for o in outs] == [4, -8, 101]
    assert [boot for _, boot in results] == [1, 1, 1] and [r.invoke_index for r, _ in results] == [1, 2, 3]
    with pytest.raises(TinyMLError, match="runs other firmware"):
        check_firmware(session.info, load_board("qemu-m7"), graph, model_id(fake_model_dir))


@pytest.mark.parametrize("flip", [0, 36])
def test_outputs_that_differ_from_the_boards_crc_are_refused(flip):
    data = bytes(range(37))
    _check_output_crcs([data], (zlib.crc32(data),), 0)
    bad = bytearray(data)
    bad[flip] ^= 0x40
    with pytest.raises(TinyMLError, match="output 0 of sample 4 .* CRC-32"):
        _check_output_crcs([bytes(bad)], (zlib.crc32(data),), 4)
