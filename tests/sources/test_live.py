"""Live RTSP feeds against the real GStreamer RTSP server on loopback: decode, reconnect after the
server dies or freezes, one clear error for a wrong address, credentials never shown."""

from __future__ import annotations

import contextlib
import itertools
import logging
import signal
import socket
import threading
import time

import av
import pytest

from tests.conftest import RtspFeed
from vidseg.errors import SourceConnectionError, SourceTimeoutError
from vidseg.sources import LiveFrame, LiveOptions, LiveSource, frame_age, open_source
from vidseg.sources.live import connection_hint
from vidseg.types import Frame

pytestmark = pytest.mark.timeout(180)
FAST = LiveOptions(open_timeout=5.0, read_timeout=2.0, backoff_first=0.2, backoff_cap=1.0)


def _collect(source: LiveSource, frames: list[Frame], stop: threading.Event, arrived: list[float] | None = None,
             wall: bool = False) -> threading.Thread:  # fmt: skip
    """Read ``source`` into ``frames`` on a thread (and when each came into ``arrived``: by
    ``time.time()`` with ``wall``, else ``time.monotonic()``)."""

    def read() -> None:
        for frame in source:
            if arrived is not None:
                arrived.append(time.time() if wall else time.monotonic())
            frames.append(frame)
            if stop.is_set():
                return

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def _wait_for(condition: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_frames_carry_pts_capture_and_sender_time(rtsp_feed):
    with open_source(rtsp_feed.url, live=FAST) as source:
        assert source.info.kind == "live" and (source.info.width, source.info.height) == (320, 240)
        frames = []
        for frame in source:
            frames.append(frame)
            if len(frames) == 10:
                break
    assert [f.index for f in frames] == list(range(10)) and {f.epoch for f in frames} == {0}
    assert all(f.image.shape == (240, 320, 3) for f in frames)
    pts = [f.pts for f in frames]  # a frame without one (a connection's first, sometimes) is not emitted
    assert None not in pts and pts == sorted(pts) and len(set(pts)) == 10 and frames[0].time_base is not None  # type: ignore[type-var]
    now = time.time()
    assert all(f.wallclock is not None and now - 30 < f.wallclock <= now for f in frames)
    senders = [f.sender_wallclock for f in frames if f.sender_wallclock is not None]
    assert all(abs(s - now) < 30 for s in senders)  # the sender's clock, once an RTCP report came


@pytest.mark.parametrize("fault", ["killed", "frozen"])
def test_the_source_reconnects_and_the_epoch_increments(rtsp_feed, fault):
    stop = threading.Event()
    source = LiveSource(rtsp_feed.url, FAST, stop=stop)
    frames: list[Frame] = []
    thread = _collect(source, frames, stop)
    try:
        _wait_for(lambda: len(frames) >= 10)
        if fault == "killed":
            rtsp_feed.stop(signal.SIGKILL)
            time.sleep(1.0)
            rtsp_feed.start()  # same port
        else:
            rtsp_feed.send(signal.SIGSTOP)  # frozen: no frame, no error; only the read timeout ends the wait
            _wait_for(lambda: source.state == "reconnecting", timeout=20)  # it never blocks for good
            time.sleep(1.0)
            rtsp_feed.send(signal.SIGCONT)
        _wait_for(lambda: any(f.epoch >= 1 for f in frames), timeout=60)
        count = len(frames)
        _wait_for(lambda: len(frames) >= count + 10)  # frames flow again
    finally:
        stop.set()
        thread.join(20)
        source.close()
    assert not thread.is_alive()
    assert source.reconnects >= 1 and frames[-1].epoch == source.epoch >= 1
    assert [f.index for f in frames] == list(range(len(frames)))  # indices keep counting across epochs


@pytest.mark.parametrize("port", [4010, 40115, 4031, 40404, 54040])
def test_the_hint_comes_from_the_error_not_from_digits_in_the_url(port):
    """A port such as 40115 once read as "401" and sent the user to check a right password."""
    url = f"'rtsp://***@127.0.0.1:{port}/nowhere'"
    not_found = av.error.HTTPNotFoundError(875574520, "Server returned 404 Not Found", url)
    unauthorized = av.error.HTTPUnauthorizedError(825242872, "Server returned 401 Unauthorized", url)
    refused = ConnectionRefusedError(111, "Connection refused", url)
    assert connection_hint(not_found) == "check the stream's path"
    assert connection_hint(unauthorized).startswith("check the user name and password")
    assert "PASSWORD" in connection_hint(unauthorized, user_only=True)
    assert connection_hint(refused) == "check the host, port and path"
    assert connection_hint(OSError(f"no route to {url}")) == "check the host, port and path"


@pytest.mark.parametrize("what", ["port", "path", "password"])
def test_a_wrong_address_is_one_clear_error_within_the_open_timeout(tmp_path, what):
    feed = RtspFeed(user="cam", password="right-pw-123").start()
    try:
        url = {
            "port": f"rtsp://cam:right-pw-123@127.0.0.1:{feed.port + 1 if feed.port < 65000 else 1}/live",
            "path": f"rtsp://cam:right-pw-123@127.0.0.1:{feed.port}/nowhere",
            "password": f"rtsp://cam:wrong-pw-456@127.0.0.1:{feed.port}/live",
        }[what]
        started = time.monotonic()
        with pytest.raises(SourceConnectionError) as info:
            LiveSource(url, FAST)
        assert time.monotonic() - started < FAST.open_timeout + 2
        assert isinstance(info.value, ConnectionError)
        message = str(info.value)
        assert "pw-" not in message and "rtsp://***@127.0.0.1" in message
        assert {"port": "host, port and path", "path": "path", "password": "password"}[what] in message
    finally:
        feed.stop()


class _SilentServer:
    """A TCP server on loopback that accepts connections and never answers (a hung camera)."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.clients: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self.clients.append(self.socket.accept()[0])

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.socket.close()
        self._thread.join(5)


def test_an_open_that_gets_no_answer_waits_the_open_timeout_and_says_so():
    server = _SilentServer()
    options = LiveOptions(open_timeout=3.0, read_timeout=1.0)  # the read timeout used to cut the open short
    try:
        started = time.monotonic()
        with pytest.raises(SourceTimeoutError) as info:
            LiveSource(f"rtsp://cam:hung-pw-789@127.0.0.1:{server.port}/live", options)
        waited = time.monotonic() - started
    finally:
        server.close()
    assert 2.9 <= waited < 4.5, waited
    message = str(info.value)
    assert isinstance(info.value, TimeoutError)
    assert f"connecting to rtsp://***@127.0.0.1:{server.port}/live: no answer within 3 s" in message
    assert "Invalid data" not in message and "pw-" not in message


def test_a_frozen_feed_is_no_data_for_the_read_timeout_then_a_reconnect(rtsp_feed, caplog):
    stop = threading.Event()
    source = LiveSource(rtsp_feed.url, FAST, stop=stop)
    frames: list[Frame] = []
    arrived: list[float] = []
    thread = _collect(source, frames, stop, arrived)
    try:
        with caplog.at_level(logging.WARNING, logger="vidseg.sources.live"):
            _wait_for(lambda: len(frames) >= 30)
            rtsp_feed.send(signal.SIGSTOP)
            _wait_for(lambda: source.state == "reconnecting", timeout=20)
            noticed = time.monotonic()
            rtsp_feed.send(signal.SIGCONT)
            _wait_for(lambda: any(f.epoch >= 1 for f in frames), timeout=60)
    finally:
        stop.set()
        thread.join(20)
        source.close()
    # Measured from the last frame that came (what the kernel had buffered still arrives after
    # the freeze): about the read timeout. FFmpeg answers the first interrupt by flushing its
    # parser, which handed on one more frame a whole timeout late and waited a second timeout.
    first = [t for t, f in zip(arrived, frames, strict=True) if f.epoch == 0]
    assert max(b - a for a, b in itertools.pairwise(first)) < FAST.read_timeout / 2
    assert FAST.read_timeout - 0.1 <= noticed - first[-1] < FAST.read_timeout * 1.5, noticed - first[-1]
    said = [r.getMessage() for r in caplog.records]
    assert f"{source.info.uri}: no data for 2 s; reconnecting" in said, said
    assert not any("Immediate exit" in line for line in said)


@pytest.mark.parametrize("ntp_time_source", ["ntp", "unix"])
def test_the_sender_clock_dates_the_burst_after_a_freeze(ntp_time_source):
    """The feed's sender reports date every frame; a burst delivered after a freeze is old by the
    sender's clock although freshly decoded, with the sender's clock in step with ours (loopback)
    or 70 years behind (an unsynchronised camera: the offset between the clocks is estimated)."""
    options = LiveOptions(open_timeout=5.0, read_timeout=8.0)  # the freeze ends before the read times out
    feed = RtspFeed(ntp_time_source=ntp_time_source).start()
    stop = threading.Event()
    source = LiveSource(feed.url, options, stop=stop)
    frames: list[Frame] = []
    arrived: list[float] = []
    thread = _collect(source, frames, stop, arrived, wall=True)
    try:
        _wait_for(lambda: sum(f.sender_wallclock is not None for f in frames) >= 50)
        feed.send(signal.SIGSTOP)
        time.sleep(3.0)
        before = len(frames)
        feed.send(signal.SIGCONT)
        _wait_for(lambda: len(frames) >= before + 150)
    finally:
        stop.set()
        thread.join(20)
        source.close()
        feed.stop()
    assert all(isinstance(f, LiveFrame) for f in frames)
    first_dated = next(k for k, f in enumerate(frames) if f.sender_wallclock is not None)
    dated = frames[first_dated:]
    assert all(f.sender_wallclock is not None and f.clock_offset is not None for f in dated)  # every one, once known
    behind = 0.0 if ntp_time_source == "ntp" else 2_208_988_800.0  # the NTP era's start, taken for Unix's
    for frame in dated[:40]:
        delay = frame.wallclock - frame.sender_wallclock - behind  # type: ignore[operator]
        assert 0.0 < delay < 0.5, delay  # one clock: captured a little before it was decoded
    ages = [frame_age(f, t) for f, t in zip(frames, arrived, strict=True)]
    assert max(a for a in ages[first_dated:before] if a is not None) < 0.3  # fresh before the freeze
    burst = list(zip(frames[before:], ages[before:], arrived[before:], strict=True))
    frame, age, at = burst[0]
    assert at - frame.wallclock < 0.1 and age is not None and age > 2.5, age  # decoded now, captured 3 s ago
    assert sum(a is not None and a > 1.0 for _, a, _ in burst) >= 40  # 2 s of frames more than 1 s late
    assert max(a for _, a, _ in burst[-30:] if a is not None) < 0.3  # then fresh again
