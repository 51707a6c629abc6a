"""Stages in threads: order, failures named, graceful stop, no hang."""

from __future__ import annotations

import threading
import time

import pytest

from vidseg.errors import PipelineError
from vidseg.runner import StagedRun

pytestmark = pytest.mark.timeout(60)


def test_items_flow_in_order_through_every_stage():
    seen = []
    run = StagedRun("read", range(100), [("double", lambda x: 2 * x), ("collect", seen.append)], queue_size=2)
    run.run()
    assert seen == [2 * x for x in range(100)]
    assert run.timings["double"].items == 100 and run.timings["read"].items == 100


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

    run = StagedRun("read", source(), [("middle", middle), ("last", last)], queue_size=2)
    start = time.monotonic()
    with pytest.raises(PipelineError) as info:
        run.run(join_timeout=5)
    assert info.value.stage == failing
    assert time.monotonic() - start < 10
    assert not [t for t in threading.enumerate() if t.name.startswith("vidseg-")]


def test_stop_finishes_the_items_in_flight():
    stop = threading.Event()
    written = []

    def slow_write(x):
        if x == 3:
            stop.set()
        time.sleep(0.01)
        written.append(x)

    run = StagedRun("read", iter(range(10_000)), [("pass", lambda x: x), ("write", slow_write)], 4, stop)
    run.run()
    assert written == list(range(len(written)))  # nothing lost or reordered
    assert 4 <= len(written) < 100  # it stopped reading soon after the stop


def test_abort_returns_promptly_and_leaves_no_thread():
    abort = threading.Event()
    written = []

    def slow_write(x):
        if x == 3:
            abort.set()
        time.sleep(0.05)
        written.append(x)

    run = StagedRun("read", iter(range(10_000)), [("pass", lambda x: x), ("write", slow_write)], 4, abort_event=abort)
    start = time.monotonic()
    run.run(join_timeout=5)
    assert time.monotonic() - start < 5
    assert 4 <= len(written) <= 6  # the items queued behind it were dropped
    assert not [t for t in threading.enumerate() if t.name.startswith("vidseg-")]
