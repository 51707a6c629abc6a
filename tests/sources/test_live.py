"""Live RTSP feeds against the real GStreamer RTSP server on loopback: decode, reconnect after the
server dies or freezes, one clear error for a wrong address, credentials never shown."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from tests.conftest import RtspFeed
from vidseg.errors import SourceConnectionError
from vidseg.sources import LiveOptions, LiveSource, open_source
from vidseg.types import Frame

pytestmark = pytest.mark.timeout(180)
FAST = LiveOptions(open_timeout=5.0, read_timeout=2.0, backoff_first=0.2, backoff_cap=1.0)


def _collect(source: LiveSource, frames: list[Frame], stop: threading.Event) -> threading.Thread:
    def read() -> None:
        for frame in source:
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
