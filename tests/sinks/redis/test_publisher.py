"""Publishing frame records to a real redis-server."""

from __future__ import annotations

import contextlib
import threading
import time

import numpy as np
import pytest
import redis

from tests.conftest import RedisServer
from vidseg.errors import ConfigError, RedisCommandError, RedisConnectionError, SinkError
from vidseg.masks import encode_rle
from vidseg.redact import redact_url as redact
from vidseg.results import Event, EventKind, FrameRecord, ObjectRecord
from vidseg.sinks.redis.publisher import RedisPublisher, RunState
from vidseg.sinks.redis.schema import FrameDeduplicator, RedisConfig, decode_entry

pytestmark = pytest.mark.timeout(120)


def record(index: int) -> FrameRecord:
    mask = np.zeros((6, 8), bool)
    mask[1 : 2 + index % 4, 2:5] = True
    obj = ObjectRecord(
        obj_id=1, score=0.9, visible=True, bbox=(2, 1, 5, 2 + index % 4), area=int(mask.sum()), rle=encode_rle(mask)
    )
    return FrameRecord(index=index, pts=index * 512, time_base=None, time=index * 0.04, objects=(obj,))


def read_all(server: RedisServer, key: str) -> list[FrameRecord]:
    client = redis.Redis.from_url(server.url)
    try:
        return [decode_entry(fields) for _, fields in client.xrange(key)]
    finally:
        client.close()


def test_every_frame_once_in_order_with_masks(redis_server):
    publisher = RedisPublisher(RedisConfig(redis_server.url, source_id="cam1"))
    for k in range(50):
        publisher.publish(record(k))
    publisher.close()
    got = read_all(redis_server, "vidseg:cam1:frames")
    assert [r.index for r in got] == list(range(50))
    assert got[7] == record(7)
    np.testing.assert_array_equal(got[7].objects[0].mask(), record(7).objects[0].mask())


def test_stream_is_trimmed_near_maxlen(redis_server):
    publisher = RedisPublisher(RedisConfig(redis_server.url, source_id="s", maxlen=100))
    for k in range(1000):
        publisher.publish(record(k))
    publisher.close()
    length = len(read_all(redis_server, "vidseg:s:frames"))
    assert 100 <= length < 300  # MAXLEN ~ trims whole macro-nodes


def test_redis_restart_mid_run_loses_nothing(redis_server):
    publisher = RedisPublisher(RedisConfig(redis_server.url, source_id="f", backlog=20))
    for k in range(10):
        publisher.publish(record(k))
    while publisher.sent < 10:
        time.sleep(0.01)
    redis_server.stop()  # no persistence: the restarted server is empty
    restart = threading.Timer(1.0, redis_server.start)
    restart.start()
    for k in range(10, 60):  # blocks while the backlog is full, never drops (a file run)
        publisher.publish(record(k))
    restart.join()
    publisher.close()
    # Entries 0-9 went to the server before it restarted empty; every later one arrives once, in order.
    assert [r.index for r in read_all(redis_server, "vidseg:f:frames")] == list(range(10, 60))
    assert publisher.dropped == 0


def test_live_backlog_drops_the_oldest_and_counts(redis_server):
    publisher = RedisPublisher(RedisConfig(redis_server.url, source_id="l", backlog=5, lossless=False))
    redis_server.stop()
    for k in range(20):
        publisher.publish(record(k))
    assert publisher.dropped >= 15 - 1
    redis_server.start()
    publisher.close()
    got = [r.index for r in read_all(redis_server, "vidseg:l:frames")]
    assert got[-1] == 19 and got == sorted(got)


def test_wrong_url_and_password_are_clear_and_redacted(tmp_path, redis_server):
    with pytest.raises(SinkError, match="cannot reach Redis") as info:
        RedisPublisher(RedisConfig("redis://user:s3cret@127.0.0.1:1/0", source_id="x", connect_timeout=1))
    assert "s3cret" not in str(info.value) and "***@127.0.0.1:1" in str(info.value)
    locked = RedisServer(tmp_path, password="right")
    locked.start()
    try:
        with pytest.raises(SinkError, match="credentials") as info:
            RedisPublisher(RedisConfig(f"redis://:wrong@127.0.0.1:{locked.port}/0", source_id="x"))
        assert "wrong" not in str(info.value)
    finally:
        locked.stop()
    assert redact("redis://u:p@h:1/0") == "redis://***@h:1/0" and redact("redis://h:1") == "redis://h:1"


def test_status_reports_states_and_heartbeats(redis_server):
    publisher = RedisPublisher(
        RedisConfig(redis_server.url, source_id="st", heartbeat=0.2), stats=lambda: {"fps": 12.5}
    )
    publisher.set_state(RunState.RUNNING)
    for k in range(3):
        publisher.publish(record(k))
    time.sleep(1.0)
    publisher.close(RunState.FAILED, "decoder exploded")
    client = redis.Redis.from_url(redis_server.url)
    entries = [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in client.xrange("vidseg:st:status")]
    client.close()
    states = [e["state"] for e in entries]
    assert states[0] == "starting" and states[1] == "running" and states[-1] == "failed"
    heartbeats = [e for e in entries[2:-1] if e["state"] == "running"]
    assert len(heartbeats) >= 3, states  # every 0.2 s for ~1 s
    assert heartbeats[-1]["frames"] == "3" and heartbeats[-1]["fps"] == "12.500"
    assert entries[-1]["last_error"] == "decoder exploded"
    assert all(float(e["wall_time"]) > 1.6e9 for e in entries)


def test_events_are_published_in_order(redis_server):
    publisher = RedisPublisher(RedisConfig(redis_server.url, source_id="ev"))
    sent = [Event(EventKind.OBJECT_ADDED, 0, 0.0, 1), Event(EventKind.PROMPT_REJECTED, 3, 0.12, 2, "bad box", "r9")]
    for event in sent:
        publisher.event(event)
    publisher.close()
    client = redis.Redis.from_url(redis_server.url)
    got = [Event.from_fields(fields) for _, fields in client.xrange("vidseg:ev:events")]
    client.close()
    assert got == sent and publisher.summary().events == 2


def test_deduplicator_drops_repeated_frames_per_epoch():
    dedup = FrameDeduplicator()
    keys = ["0:0", "0:1", "0:1", "0:2", "1:0", "1:0", "1:1", "0:2"]
    assert [dedup.is_new({b"frame_key": k.encode()}) for k in keys] == [True, True, False, True, True, False, True,
                                                                          False]  # fmt: skip
    with pytest.raises(SinkError, match="frame_key"):
        dedup.is_new({"frame_key": "nonsense"})


def _publisher_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "vidseg-redis"]


@pytest.mark.parametrize(
    ("setup", "config", "reason"),
    [
        (lambda c: c.set("vidseg:wt:frames", "a string"), {}, "WRONGTYPE"),
        (lambda c: c.execute_command("ACL", "SETUSER", "default", "on", "nopass", "~*", "+@all", "-xadd"), {},
         "no permissions"),
        (lambda c: c.config_set("maxmemory", 1), {}, "OutOfMemory"),
    ],
    ids=["wrongtype", "noperm", "oom"],
)
def test_a_permanent_error_stops_the_publisher_with_its_reason(redis_server, setup, config, reason):
    """No retry fixes these: the publisher stops, says why in one redacted line, the next publish
    raises it, and its thread does not outlive close()."""
    client = redis.Redis.from_url(redis_server.url)
    setup(client)
    publisher = RedisPublisher(RedisConfig(redis_server.url, source_id="wt", **config))
    try:
        with contextlib.suppress(RedisCommandError):  # it may have stopped already, on its first status entry
            publisher.publish(record(0))
        deadline = time.monotonic() + 10
        while publisher.error is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert isinstance(publisher.error, RedisCommandError), publisher.error
        assert any(part in str(publisher.error) for part in reason.split("|")), publisher.error
        assert "\n" not in str(publisher.error)
        with pytest.raises(RedisCommandError):
            publisher.publish(record(1))
    finally:
        started = time.monotonic()
        publisher.close(timeout=5)
        client.config_set("maxmemory", 0)
        client.close()
    assert time.monotonic() - started < 3
    assert not _publisher_threads()
    assert publisher.summary().error is not None


def test_a_full_backlog_with_redis_down_returns_on_abort_and_close_does_not_wait(redis_server):
    abort = threading.Event()
    publisher = RedisPublisher(RedisConfig(redis_server.url, source_id="ab", backlog=3), abort=abort)
    redis_server.stop()
    done = threading.Event()

    def fill():
        for k in range(10):  # blocks on the full lossless backlog
            publisher.publish(record(k))
        done.set()

    thread = threading.Thread(target=fill)
    thread.start()
    time.sleep(0.5)
    assert not done.is_set()
    abort.set()
    thread.join(2)
    assert done.is_set()
    started = time.monotonic()
    publisher.close(timeout=30)  # aborted: no drain wait
    assert time.monotonic() - started < 3
    assert not _publisher_threads()
    assert publisher.summary().not_sent == 10


def test_unreachable_redis_is_a_connection_error():
    with pytest.raises(ConnectionError) as info:
        RedisPublisher(RedisConfig("redis://127.0.0.1:1/0", source_id="x", connect_timeout=1))
    assert isinstance(info.value, RedisConnectionError)


@pytest.mark.parametrize("options", [{"maxlen": -5}, {"maxlen": 0}, {"backlog": 0}, {"heartbeat": 0}, {"source_id": ""},
                                     {"prefix": "a b"}, {"outage_limit": -1}])
def test_bad_settings_are_refused_before_anything_is_sent(options):
    with pytest.raises(ConfigError):
        RedisConfig("redis://127.0.0.1:1/0", **{"source_id": "x", **options})
