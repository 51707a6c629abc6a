"""The model owner's scheduler and thread: the order of the calls (a table), and with real
threads: a slow or busy caller cannot starve another, a live caller waits at most one file call,
errors reach their caller, and closing never leaves a caller waiting."""

from __future__ import annotations

import inspect
import threading
import time

import numpy as np
import pytest

from vidseg.engine import FairScheduler, ModelOwner, Request
from vidseg.engine.owned import OwnedModel, OwnedSession
from vidseg.errors import ConfigError, EngineError
from vidseg.models.tracking import Sam2Tracker, build_model

pytestmark = pytest.mark.timeout(120)


def _order(sources: dict[str, tuple[bool, int]], live_streak: int | None = None) -> list[str]:
    """The sources' names in the order the scheduler runs their calls (``{name: (live, calls)}``)."""
    scheduler = FairScheduler(live_streak)
    for name, (live, calls) in sources.items():
        for _ in range(calls):
            scheduler.add(Request(name, live, "step", lambda: None))
    order = []
    while (request := scheduler.take()) is not None:
        order.append(request.source)
    return order


@pytest.mark.parametrize(
    ("sources", "live_streak", "expected"),
    [
        ({"a": (False, 3), "b": (False, 3)}, None, "ababab"),
        ({"a": (False, 4), "b": (False, 1), "c": (False, 2)}, None, "abcacaa"),
        ({"a": (False, 3), "b": (False, 3), "L": (True, 4)}, None, "LaLbLaLbab"),
        ({"a": (False, 2), "L": (True, 2), "M": (True, 3)}, None, "LMaLMaM"),
        ({"a": (False, 3), "L": (True, 5)}, 2, "LLaLLaLa"),
        ({"L": (True, 2), "M": (True, 2)}, None, "LMLM"),
    ],
    ids=["files-alternate", "files-uneven", "live-first-files-kept", "two-live", "live-streak-2", "live-only"],
)
def test_the_order_of_calls(sources, live_streak, expected):
    assert "".join(_order(sources, live_streak)) == expected


def test_pending_shows_every_waiting_call_oldest_first():
    scheduler = FairScheduler()
    first, second = Request("a", False, "step", lambda: None), Request("b", True, "step", lambda: None)
    scheduler.add(first)
    scheduler.add(second)
    assert scheduler.pending() == (first, second) and len(scheduler) == 2


@pytest.mark.parametrize("bad", [0, -1, True])
def test_a_bad_live_streak_is_refused(bad):
    with pytest.raises(ConfigError, match="live_streak"):
        FairScheduler(bad)


def _caller(owner: ModelOwner, name: str, live: bool, seconds: float, until: threading.Event,
            waits: dict[str, list[float]]) -> threading.Thread:  # fmt: skip
    client = owner.client(name, live)

    def work() -> None:
        while not until.is_set():
            asked = time.monotonic()
            client.call("step", time.sleep, seconds)
            waits[name].append(time.monotonic() - asked - seconds)

    waits[name] = []
    thread = threading.Thread(target=work, name=f"test-{name}")
    thread.start()
    return thread


def _run_callers(callers: list[tuple[str, bool, float]], seconds: float = 1.5) -> dict[str, list[float]]:
    owner = ModelOwner("test").start()
    until = threading.Event()
    waits: dict[str, list[float]] = {}
    threads = [_caller(owner, name, live, each, until, waits) for name, live, each in callers]
    time.sleep(seconds)
    until.set()
    for thread in threads:
        thread.join(10)
    assert owner.close(5.0)
    assert not any(t.is_alive() for t in threads)
    return waits


def test_a_slow_caller_cannot_starve_a_fast_one():
    waits = _run_callers([("slow", False, 0.05), ("fast", False, 0.001)])
    slow, fast = waits["slow"], waits["fast"]
    # Round-robin: one call each in turn, so the fast caller runs as many calls as the slow one
    # (and never waits longer than one slow call, with room for a loaded machine).
    assert len(fast) >= len(slow) - 1 >= 10
    assert max(fast) < 0.05 + 0.1


def test_a_live_caller_waits_at_most_one_file_call_while_two_files_flood():
    waits = _run_callers([("file-a", False, 0.04), ("file-b", False, 0.04), ("live", True, 0.01)])
    live = waits["live"]
    assert max(live) < 0.04 + 0.1  # the call in progress; never a whole round of the files
    # Files keep at least one call in two while the live caller always has one waiting.
    assert len(waits["file-a"]) + len(waits["file-b"]) >= len(live) - 2 > 10
    assert abs(len(waits["file-a"]) - len(waits["file-b"])) <= 2


def test_an_error_reaches_its_caller_and_the_owner_goes_on():
    owner = ModelOwner("test").start()
    client = owner.client("a")
    with pytest.raises(ZeroDivisionError):
        client.call("step", lambda: 1 / 0)
    assert client.call("step", lambda: 42) == 42
    assert client.stats().calls == 2
    assert owner.close(5.0)


def test_a_call_made_inside_a_call_runs_at_once():
    owner = ModelOwner("test").start()
    client = owner.client("a")
    assert client.call("outer", lambda: client.call("inner", lambda: threading.current_thread().name)) == \
        "vidseg-owner-test"  # fmt: skip
    assert owner.close(5.0)


def test_closing_ends_the_waiting_calls_and_leaves_a_long_call_behind_within_the_deadline():
    owner = ModelOwner("test").start()
    release = threading.Event()
    outcomes: dict[str, object] = {}

    def call(name: str, fn: object) -> None:
        try:
            outcomes[name] = owner.client(name).call("step", fn)  # type: ignore[arg-type]
        except EngineError as exc:
            outcomes[name] = exc

    long = threading.Thread(target=call, args=("long", lambda: release.wait(30) and "done"))
    long.start()
    time.sleep(0.3)  # the long call is running
    queued = threading.Thread(target=call, args=("queued", lambda: "never"))
    queued.start()
    time.sleep(0.3)
    started = time.monotonic()
    assert owner.close(deadline=0.5) is False and owner.stuck
    assert time.monotonic() - started < 2.0
    queued.join(5)
    assert isinstance(outcomes["queued"], EngineError) and "closed before the call ran" in str(outcomes["queued"])
    with pytest.raises(EngineError, match="closed"):
        owner.client("late").call("step", lambda: None)
    release.set()
    long.join(5)
    assert outcomes["long"] == "done"  # the call in progress finished; its caller got its answer


def test_an_owned_session_forwards_every_public_call_of_the_session():
    """Every public method of Sam2Tracker (a property is a read) runs on the owner: a method added
    to the tracker later must be forwarded too (or listed here as a read)."""
    methods = {name for name, value in vars(Sam2Tracker).items()
               if not name.startswith("_") and inspect.isfunction(value)}  # fmt: skip
    assert methods <= set(vars(OwnedSession)), f"not forwarded to the owner: {sorted(methods - set(vars(OwnedSession)))}"


def test_two_sources_on_one_owned_model_track_as_two_separate_sessions(clip24):
    model = build_model("vidseg_synthetic_tiny", device="cpu")
    owner = ModelOwner("tracker").start()
    frames = clip24.frames[:6]

    def points(k: int) -> list[tuple[float, float]]:
        return [clip24.center(0, k + 1)]

    expected = []
    for k in range(2):
        alone = model.session()
        alone.add_prompt(1, points=points(k))
        expected.append([alone.step(f).logits for f in frames])
    got: dict[int, list[np.ndarray]] = {}
    threads_seen: set[str] = set()

    def run(k: int) -> None:
        session = OwnedModel.of(model, owner.client(f"s{k}")).session()
        session.add_prompt(1, points=points(k))
        got[k] = [session.step(f).logits for f in frames]
        threads_seen.add(threading.current_thread().name)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert owner.close(5.0)
    for k in range(2):
        for mine, theirs in zip(got[k], expected[k], strict=True):
            np.testing.assert_array_equal(mine, theirs)
    assert {s.steps for s in owner.stats().values()} == {6}
