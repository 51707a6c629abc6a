"""Stages in threads: order, buffer policies, fan-out, joins by key, failures named, stop, abort, no hang."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from vidseg.errors import PipelineError
from vidseg.pipeline.stages import END, BufferPolicy, Channel, Pipeline

pytestmark = pytest.mark.timeout(60)


def _no_threads_left() -> bool:
    return not [t for t in threading.enumerate() if t.name.startswith("vidseg-")]


def _chain(items: Iterable[Any], *stages: tuple[str, Callable[[Any], Any]], size: int = 2,
           stop: threading.Event | None = None, abort: threading.Event | None = None) -> Pipeline:  # fmt: skip
    """read -> stage -> stage ..., every channel waiting."""
    pipeline = Pipeline(stop, abort)
    inbox = pipeline.channel("c0", size)
    pipeline.source("read", items, [inbox])
    for k, (name, fn) in enumerate(stages):
        out = [pipeline.channel(f"c{k + 1}", size)] if k < len(stages) - 1 else []
        pipeline.stage(name, fn, inbox, out)
        inbox = out[0] if out else inbox
    return pipeline


def test_items_flow_in_order_through_every_stage():
    seen: list[int] = []
    pipeline = _chain(range(100), ("double", lambda x: 2 * x), ("collect", seen.append))
    pipeline.run()
    assert seen == [2 * x for x in range(100)]
    assert pipeline.timings["double"].items == 100 and pipeline.timings["read"].items == 100
    assert pipeline.dropped == 0 and pipeline.drops == {}


@pytest.mark.parametrize("failing", ["read", "middle", "last"])
def test_a_failing_stage_is_named_and_nothing_hangs(failing):
    def source():
        for k in range(1000):
            if failing == "read" and k == 5:
                raise OSError("disk gone")
            yield k

    def middle(x):
        if failing == "middle" and x == 7:
            raise ValueError("bad item")
        return x

    def last(x):
        if failing == "last" and x == 9:
            raise RuntimeError("sink broke")
        time.sleep(0.001)

    pipeline = _chain(source(), ("middle", middle), ("last", last))
    start = time.monotonic()
    with pytest.raises(PipelineError) as info:
        pipeline.run(deadline=5)
    assert info.value.stage == failing
    assert time.monotonic() - start < 10
    assert _no_threads_left()


def test_stop_finishes_the_items_in_flight():
    stop = threading.Event()
    written: list[int] = []

    def slow_write(x):
        if x == 3:
            stop.set()
        time.sleep(0.01)
        written.append(x)

    _chain(iter(range(10_000)), ("pass", lambda x: x), ("write", slow_write), size=4, stop=stop).run()
    assert written == list(range(len(written)))  # nothing lost or reordered
    assert 4 <= len(written) < 100  # it stopped reading soon after the stop


def test_abort_returns_promptly_and_leaves_no_thread():
    abort = threading.Event()
    written: list[int] = []

    def slow_write(x):
        if x == 3:
            abort.set()
        time.sleep(0.05)
        written.append(x)

    pipeline = _chain(iter(range(10_000)), ("pass", lambda x: x), ("write", slow_write), size=4, abort=abort)
    start = time.monotonic()
    pipeline.run(deadline=5)
    assert time.monotonic() - start < 5
    assert 4 <= len(written) <= 6  # the items queued behind it were dropped
    assert _no_threads_left()


def test_a_stage_that_never_returns_is_left_behind_within_the_deadline_of_an_abort(caplog):
    abort = threading.Event()
    release = threading.Event()

    def hang(x):
        abort.set()
        release.wait(30)  # a call that observes nothing (e.g. a blocking library call)

    pipeline = _chain(range(10), ("hang", hang), abort=abort)
    start = time.monotonic()
    pipeline.run(deadline=1)  # aborted: what cannot stop is reported, not raised
    assert time.monotonic() - start < 4
    assert pipeline.stuck == ["hang"]
    assert "hang did not stop within 1 s" in caplog.text
    release.set()


def test_a_failure_beside_a_stuck_stage_is_still_raised():
    release = threading.Event()

    def hang(x):
        release.wait(30)

    def boom(x):
        time.sleep(0.2)
        raise ValueError("broken")

    pipeline = Pipeline()
    a, b = pipeline.channel("a"), pipeline.channel("b")
    pipeline.source("read", range(10), [a, b])
    pipeline.stage("hang", hang, a)
    pipeline.stage("boom", boom, b)
    with pytest.raises(PipelineError, match="broken"):
        pipeline.run(deadline=1)
    assert pipeline.stuck == ["hang"]
    release.set()


def test_a_stop_whose_items_outlive_the_grace_aborts_the_run():
    stop = threading.Event()
    release = threading.Event()

    def slow(x):
        stop.set()
        release.wait(30)

    pipeline = _chain(range(10), ("slow", slow), stop=stop)
    start = time.monotonic()
    pipeline.run(deadline=1, grace=0.5)
    took = time.monotonic() - start
    assert pipeline.grace_expired and pipeline.abort_event.is_set()
    assert 0.5 <= took < 4
    assert pipeline.stuck == ["slow"]
    release.set()


def test_until_stops_the_run_even_while_a_stage_is_busy():
    release = threading.Event()
    seen: list[int] = []

    def slow(x):
        seen.append(x)
        release.wait(1.5)

    pipeline = _chain(range(100), ("slow", slow))
    start = time.monotonic()
    pipeline.run(deadline=5, grace=10, until=time.monotonic() + 0.3)
    assert pipeline.timed_out and not pipeline.grace_expired
    assert time.monotonic() - start < 12
    assert len(seen) < 100  # the source stopped reading at the time limit
    release.set()


def test_drop_oldest_channel_under_a_slow_consumer_keeps_the_newest_and_counts_every_drop():
    """A fast producer and a slow consumer: the channel never holds more than its size, every
    item is either delivered or counted as dropped, and the newest item is always delivered."""
    delivered: list[int] = []
    lengths: list[int] = []
    pipeline = Pipeline()
    live = pipeline.channel("live", 3, BufferPolicy.DROP_OLDEST)

    def produce():
        for k in range(400):
            time.sleep(0.0005)
            yield k

    def slow(x):
        lengths.append(len(live))
        time.sleep(0.01)
        delivered.append(x)

    pipeline.source("camera", produce(), [live])
    pipeline.stage("model", slow, live)
    pipeline.run()
    assert delivered[-1] == 399  # the newest item always gets through
    assert delivered == sorted(delivered)  # in order
    assert max(lengths) <= 3 and live.high_water <= 3  # bounded
    assert live.dropped == 400 - len(delivered) > 100  # every drop counted
    assert pipeline.drops == {"live": live.dropped} and pipeline.dropped == live.dropped


def test_a_channel_that_waits_never_drops():
    abort = threading.Event()
    channel = Channel("files", 2, BufferPolicy.WAIT, abort)
    assert channel.put(1) and channel.put(2)
    done = threading.Event()

    def put_third():
        channel.put(3)
        done.set()

    thread = threading.Thread(target=put_third)
    thread.start()
    time.sleep(0.3)
    assert not done.is_set()  # waits for room
    assert channel.get() == 1
    thread.join(2)
    assert done.is_set() and channel.dropped == 0
    channel.end()
    assert [channel.get(), channel.get(), channel.get()] == [2, 3, END]


def test_fan_out_gives_every_consumer_every_item():
    a: list[int] = []
    b: list[int] = []
    pipeline = Pipeline()
    frames = pipeline.channel("frames")
    to_a, to_b = pipeline.channel("to-a"), pipeline.channel("to-b")
    pipeline.source("read", range(50), [frames])
    pipeline.stage("result", lambda x: x * 10, frames, [to_a, to_b])
    pipeline.stage("sink-a", a.append, to_a)
    pipeline.stage("sink-b", b.append, to_b)
    pipeline.run()
    assert a == b == [x * 10 for x in range(50)]


def test_join_pairs_two_branches_by_key_and_discards_items_whose_partner_was_dropped():
    """Two branches of one source (one lossless, one dropping) meet in a join by key: every
    joined pair has one key, and what the dropping branch lost is discarded and counted."""
    pairs: list[tuple[int, int]] = []
    pipeline = Pipeline()
    frames = pipeline.channel("frames", 2)
    to_track, to_semantic = pipeline.channel("to-track", 2), pipeline.channel("to-semantic", 1, BufferPolicy.DROP_OLDEST)
    tracked, labelled = pipeline.channel("tracked", 64), pipeline.channel("labelled", 64)

    def slow_semantic(x):
        time.sleep(0.01)
        return ("sem", x)

    pipeline.source("read", range(200), [frames])
    pipeline.stage("split", lambda x: x, frames, [to_track, to_semantic])
    pipeline.stage("track", lambda x: ("trk", x), to_track, [tracked])
    pipeline.stage("semantic", slow_semantic, to_semantic, [labelled])
    pipeline.join("merge", lambda t, s: pairs.append((t[1], s[1])), [tracked, labelled], key=lambda item: item[1])
    pipeline.run()
    assert pairs and all(t == s for t, s in pairs)
    assert [t for t, _ in pairs] == sorted(t for t, _ in pairs)
    lost = to_semantic.dropped
    assert lost > 0
    assert pipeline.join_discarded + len(pairs) >= 200 - lost - 1
    assert pipeline.dropped == lost + pipeline.join_discarded


def test_a_helper_thread_can_fail_the_run():
    pipeline = _chain(iter(range(10_000_000)), ("pass", lambda x: x), ("sink", lambda x: time.sleep(0.001)))
    threading.Timer(0.3, lambda: pipeline.fail("prompts", OSError("reader died"))).start()
    with pytest.raises(PipelineError, match=r"prompts.*reader died"):
        pipeline.run(deadline=5)
    assert _no_threads_left()


def test_a_join_whose_branches_end_at_different_counts_never_hangs_a_graceful_run():
    """The dropping branch ends with fewer items; the join drains the lossless branch so its
    producer, waiting on a channel of one, finishes."""
    pairs: list[int] = []
    pipeline = Pipeline()
    frames = pipeline.channel("frames", 1)
    a_in, b_in = pipeline.channel("a-in", 1), pipeline.channel("b-in", 1, BufferPolicy.DROP_OLDEST)
    a_out, b_out = pipeline.channel("a-out", 1), pipeline.channel("b-out", 1)

    def slow(x: int) -> int:
        time.sleep(0.02)
        return x

    pipeline.source("read", range(300), [frames])
    pipeline.stage("split", lambda x: x, frames, [a_in, b_in])
    pipeline.stage("all", lambda x: x, a_in, [a_out])
    pipeline.stage("sampled", slow, b_in, [b_out])
    pipeline.join("merge", lambda a, b: pairs.append(a), [a_out, b_out], key=lambda x: x)
    start = time.monotonic()
    pipeline.run(deadline=5)
    assert time.monotonic() - start < 20
    assert pairs and pairs == sorted(set(pairs))
    assert len(pairs) + pipeline.join_discarded + b_in.dropped >= 300
    assert _no_threads_left()


def test_the_caller_does_not_spin_while_a_stage_other_than_the_last_runs():
    """The last stage ends early while another keeps working: the waiting thread sleeps."""
    pipeline = Pipeline()
    frames = pipeline.channel("frames")
    slow, fast = pipeline.channel("slow"), pipeline.channel("fast")
    pipeline.source("read", range(3), [frames])
    pipeline.stage("split", lambda x: x, frames, [slow, fast])
    pipeline.stage("slow-sink", lambda x: time.sleep(0.5), slow)
    pipeline.stage("fast-sink", lambda x: None, fast)
    cpu = time.process_time()
    pipeline.run()
    assert time.process_time() - cpu < 0.5  # the sinks sleep ~1.5 s; a spinning wait would burn that
