"""--max-latency on a live run against the real RTSP feed: the burst the feed delivers after a
freeze is old by the sender's clock although freshly decoded; it is dropped and counted, never
published, whether the sender's clock agrees with ours or is 70 years behind."""

from __future__ import annotations

import signal
import threading
import time

import pytest
import redis

from tests.conftest import RtspFeed
from vidseg.config import TrackerConfig
from vidseg.pipeline.job import JobConfig, run_job
from vidseg.sinks.redis.schema import RedisConfig, decode_frame_entry
from vidseg.sources import LiveOptions

pytestmark = pytest.mark.timeout(300)
MAX_LATENCY = 1.0
NTP_ERA = 2_208_988_800.0  # seconds from 1900 to 1970: how far behind the "unix" sender clock reads


def _wait_for(condition: object, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("ntp_time_source", ["ntp", "unix"])
def test_the_late_burst_after_a_freeze_is_dropped_and_counted(redis_server, tmp_path, ntp_time_source):
    feed = RtspFeed(ntp_time_source=ntp_time_source).start()
    client = redis.Redis.from_url(redis_server.url)
    stop = threading.Event()
    config = JobConfig(
        source=feed.url,
        tracker=TrackerConfig(random_weights=True, image_size=64, device="cpu"),
        redis=RedisConfig(redis_server.url, source_id="cam"),
        live=LiveOptions(open_timeout=5.0, read_timeout=8.0),  # the freeze ends before the read times out
        max_latency=MAX_LATENCY,
    )  # fmt: skip
    thread = threading.Thread(target=run_job, args=(config,), kwargs={"stop": stop, "show_progress": False})
    thread.start()
    try:
        dated = lambda: [e for _, f in client.xrange("vidseg:cam:frames")  # noqa: E731
                         if (e := decode_frame_entry(f)).record.sender_wallclock is not None]  # fmt: skip
        _wait_for(lambda: len(dated()) >= 60)  # past the start, when what queued while the model loaded drained
        frozen = time.time()
        feed.send(signal.SIGSTOP)
        time.sleep(3.0)
        thawed = time.time()
        feed.send(signal.SIGCONT)
        _wait_for(lambda: sum(e.record.wallclock > thawed + 2 for e in dated()) >= 10)  # type: ignore[operator]
    finally:
        stop.set()
        thread.join(60)
        feed.stop()
    assert not thread.is_alive()
    raw = client.xrange("vidseg:cam:frames")
    client.close()
    entries = [decode_frame_entry(f) for _, f in raw]
    behind = NTP_ERA if ntp_time_source == "unix" else 0.0
    # Published on the machine the feed runs on: the sender's clock is ours (less the era).
    ages = {e.record.index: int(i.decode().split("-")[0]) / 1000 - (e.record.sender_wallclock + behind)
            for (i, _), e in zip(raw, entries, strict=True) if e.record.sender_wallclock is not None}  # fmt: skip
    assert len(ages) >= 30
    # Nothing published since the freeze was captured more than the bound (plus one step and
    # publishing) ago; the first frame of the burst, 3 s old, used to be tracked and published.
    since = [e.record.index for e in entries if e.record.wallclock is not None and e.record.wallclock > frozen]
    assert len(since) >= 10 and max(ages[i] for i in since) < MAX_LATENCY + 0.5, [ages[i] for i in since]
    # The burst was dropped and counted: the first entry after the thaw counts the frames before it.
    after = next(e for e in entries if e.record.wallclock is not None and e.record.wallclock > thawed)
    assert after.context.dropped >= 20, after.context.dropped
    # In steady flow (the last second before the freeze) frames are fresh and tracked, whatever
    # the sender's clock reads.
    steady = [e for e in entries if e.record.wallclock is not None and frozen - 1 < e.record.wallclock < frozen]
    assert len(steady) >= 10 and max(ages[e.record.index] for e in steady) < 0.3
    assert sum(e.context.dropped for e in steady) <= 2
