"""Stages in their own threads, joined by bounded channels with an explicit buffer policy.

A :class:`Pipeline` is a small graph: a source stage reads an iterable; each further stage takes
items from one channel (or, for a join, from several, matched by a key such as
:class:`~vidseg.results.FrameKey`) and puts its result into any number of channels (fan-out).

Buffer policies (:class:`BufferPolicy`):
- ``wait``: a full channel holds the producer back (files: every frame is processed);
- ``drop_oldest``: a full channel drops its oldest item, so the consumer always gets the newest
  (live feeds: newest wins). Every drop is counted on the channel (``dropped``).

Stopping:
- ``stop`` (Ctrl-C, SIGTERM, or the caller): the source stops reading; the items in flight go
  through the other stages.
- ``abort`` (a second Ctrl-C), or a stage raising: every stage stops at once, dropping what is in
  flight; a failure is raised by :meth:`Pipeline.run` as a
  :class:`~vidseg.errors.PipelineError` naming the stage.
Every wait is a short timed wait that checks abort, so no stage hangs on a dead neighbour; all
threads are joined within one shared deadline.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from vidseg.errors import ConfigError, PipelineError
from vidseg.run_status import StageTiming

log = logging.getLogger(__name__)

END: Any = object()  # end-of-stream sentinel
_POLL = 0.1
_BACKGROUND_NICE = 10


class BufferPolicy(str, Enum):
    """What a full channel does with a new item."""

    WAIT = "wait"  # the producer waits for room: nothing is lost (files)
    DROP_OLDEST = "drop_oldest"  # the oldest item is dropped and counted: newest wins (live)


class Channel:
    """A bounded FIFO between two stages, with a buffer policy.

    Args:
        name: for drop counts and errors.
        size: items it holds (>= 1).
        policy: what a full channel does (see :class:`BufferPolicy`).
        abort: when set, :meth:`put` and :meth:`get` return at once.
    """

    def __init__(self, name: str, size: int, policy: BufferPolicy, abort: threading.Event, counted: bool = True) -> None:
        if size < 1:
            raise ConfigError(f"channel {name!r}: size must be >= 1; found {size}")
        self.name = name
        self.size = size
        self.policy = BufferPolicy(policy)
        self.counted = counted  # its drops are frames lost (see Pipeline.channel)
        self._abort = abort
        self._items: collections.deque[Any] = collections.deque()
        self._cond = threading.Condition()
        self._ended = False
        self.dropped = 0  # items dropped by the drop-oldest policy
        self.high_water = 0  # most items held at once

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def put(self, item: Any) -> bool:
        """Add ``item`` by the channel's policy; False when the run was aborted meanwhile."""
        with self._cond:
            if self.policy is BufferPolicy.WAIT:
                while len(self._items) >= self.size:
                    if self._abort.is_set():
                        return False
                    self._cond.wait(_POLL)
            else:
                while len(self._items) >= self.size:
                    self._items.popleft()
                    self.dropped += 1
            if self._abort.is_set():
                return False
            self._items.append(item)
            self.high_water = max(self.high_water, len(self._items))
            self._cond.notify_all()
            return True

    def end(self) -> None:
        """Mark the end of the stream: :meth:`get` returns ``END`` once the items are taken.
        Never waits (the end marker takes no room), so it cannot hang a finishing stage."""
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def get(self) -> Any:
        """The next item; ``END`` at the end of the stream or when the run is aborted."""
        with self._cond:
            while not self._items:
                if self._ended or self._abort.is_set():
                    return END
                self._cond.wait(_POLL)
            if self._abort.is_set():
                return END
            item = self._items.popleft()
            self._cond.notify_all()
            return item


@dataclass
class _Stage:
    name: str
    target: Callable[[], None]
    background: bool
    timing: StageTiming
    thread: threading.Thread | None = None


class Pipeline:
    """Threads joined by channels; see the module docstring.

    Args:
        stop: set it (from any thread or a signal handler) to stop reading gracefully.
        abort: set it to stop at once, dropping the items in flight.
    """

    def __init__(self, stop: threading.Event | None = None, abort: threading.Event | None = None) -> None:
        self.stop_event = stop if stop is not None else threading.Event()
        self.abort_event = abort if abort is not None else threading.Event()
        self._halt = threading.Event()  # abort or failure: every wait returns
        self._stages: list[_Stage] = []
        self._channels: list[Channel] = []
        self._matchers: list[_KeyMatcher] = []
        self._errors: list[PipelineError] = []
        self._lock = threading.Lock()
        self.stuck: list[str] = []  # stages still running after run() (what they use must stay open)
        self.timed_out = False  # run() stopped the run at its ``until`` time
        self.grace_expired = False  # run() aborted the run: the frames in flight outlived the grace

    # ------------------------------------------------------------------ building
    def channel(self, name: str, size: int = 4, policy: BufferPolicy | str = BufferPolicy.WAIT,
                counted: bool = True) -> Channel:  # fmt: skip
        """A new channel between two stages of this pipeline. The drops of a channel that is not
        ``counted`` (a side branch, e.g. frames a live semantic model skips while the tracker
        gets them) are reported in :attr:`drops` but not in :attr:`dropped` (frames lost)."""
        channel = Channel(name, size, BufferPolicy(policy), self._halt, counted)
        self._channels.append(channel)
        return channel

    def source(self, name: str, items: Iterable[Any], outs: list[Channel], background: bool = False) -> None:
        """A stage that reads ``items`` until they end, ``stop`` is set or the run halts."""
        timing = StageTiming()

        def read() -> None:
            try:
                iterator = iter(items)
                while not self.stop_event.is_set() and not self._halt.is_set():
                    start = time.perf_counter()
                    try:
                        item = next(iterator)
                    except StopIteration:
                        break
                    timing.busy += time.perf_counter() - start
                    timing.items += 1
                    if not self._put(outs, item):
                        return
            except BaseException as exc:
                self.fail(name, exc)
            finally:
                for out in outs:
                    out.end()

        self._stages.append(_Stage(name, read, background, timing))

    def stage(
        self, name: str, fn: Callable[[Any], Any], inbox: Channel, outs: list[Channel] | None = None,
        background: bool = False,
    ) -> None:  # fmt: skip
        """A stage mapping each item of ``inbox`` to one item (None: nothing) put into every
        channel of ``outs`` (fan-out); with no ``outs`` it only consumes (a sink)."""
        self._add_worker(name, inbox.get, fn, outs or [], background)

    def join(
        self, name: str, fn: Callable[..., Any], inboxes: list[Channel], key: Callable[[Any], Hashable],
        outs: list[Channel] | None = None, background: bool = False,
    ) -> None:  # fmt: skip
        """A stage that waits for one item with the same ``key`` from each of ``inboxes`` and
        calls ``fn(item_0, item_1, ...)``. Keys must arrive in increasing order on each inbox;
        an item whose partner was dropped upstream (a drop-oldest branch) is discarded once a
        later key arrives on the other inbox, and counted in :attr:`join_discarded`.

        The branches must not filter: each stage between the split and the join puts one item
        per item it takes (a branch that skips work passes a marker, e.g. a reused result), and
        only channels drop. A branch that filtered items behind a waiting channel could leave the
        join waiting on it while the other branch waits on the join."""
        matcher = _KeyMatcher(inboxes, key)
        self._matchers.append(matcher)
        self._add_worker(name, matcher.next, fn, outs or [], background, star=True)

    def _add_worker(
        self, name: str, take: Callable[[], Any], fn: Callable[..., Any], outs: list[Channel], background: bool,
        star: bool = False,
    ) -> None:  # fmt: skip
        timing = StageTiming()

        def work() -> None:
            try:
                while True:
                    item = take()
                    if item is END:
                        break
                    start = time.perf_counter()
                    timing.working = True
                    result = fn(*item) if star else fn(item)
                    timing.working = False
                    timing.busy += time.perf_counter() - start
                    timing.items += 1
                    if result is not None and outs and not self._put(outs, result):
                        return
            except BaseException as exc:
                self.fail(name, exc)
            finally:
                for out in outs:
                    out.end()

        self._stages.append(_Stage(name, work, background, timing))

    def _put(self, outs: list[Channel], item: Any) -> bool:
        return all(out.put(item) for out in outs)

    # ------------------------------------------------------------------ state
    def fail(self, name: str, exc: BaseException) -> None:
        """Record that ``name`` (a stage, or a helper thread such as a prompt reader) failed;
        every stage stops at once and :meth:`run` raises the first failure."""
        error = exc if isinstance(exc, PipelineError) else PipelineError(name, exc)
        with self._lock:
            self._errors.append(error)
        log.error("%s", error)
        log.debug("stage %s traceback", name, exc_info=exc)
        self._halt.set()
        self.stop_event.set()
        self.abort_event.set()  # a failure stops everything at once, sinks' waits included

    @property
    def failed(self) -> bool:
        return bool(self._errors)

    @property
    def timings(self) -> dict[str, StageTiming]:
        return {stage.name: stage.timing for stage in self._stages}

    @property
    def drops(self) -> dict[str, int]:
        """Items each drop-oldest channel dropped (channels that never drop are left out)."""
        return {c.name: c.dropped for c in self._channels if c.policy is BufferPolicy.DROP_OLDEST}

    @property
    def dropped(self) -> int:
        """Items dropped by every counted channel and discarded by joins, in all."""
        lost = sum(c.dropped for c in self._channels if c.counted)
        return lost + sum(m.discarded for m in self._matchers)

    @property
    def join_discarded(self) -> int:
        return sum(m.discarded for m in self._matchers)

    # ------------------------------------------------------------------ running
    def _lower_priority(self) -> None:
        # On Linux a thread has its own nice value. Stages other than the model yield the CPU to
        # it, so their work fills the model's idle moments instead of stalling its worker threads.
        if hasattr(os, "setpriority"):
            with contextlib.suppress(OSError):  # not permitted: run at normal priority
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _BACKGROUND_NICE)

    def _launch(self, stage: _Stage) -> threading.Thread:
        def body() -> None:
            if stage.background:
                self._lower_priority()
            stage.target()

        thread = threading.Thread(target=body, name=f"vidseg-{stage.name}", daemon=True)
        stage.thread = thread
        thread.start()
        return thread

    def run(self, deadline: float = 10.0, grace: float | None = None, until: float | None = None) -> None:
        """Run until every stage has finished (the source ended or ``stop`` was set and the items
        in flight went through), or the run was aborted or failed. The calling thread only waits,
        so signal handlers run promptly, and it keeps the run's clock: a stage busy for minutes
        (a long model step) cannot hold the run past ``until`` and ``grace``.

        Args:
            deadline: seconds all threads together get to finish once the run is aborted, fails,
                or the caller's thread is interrupted; threads still alive then are listed in
                :attr:`stuck` (their resources must not be closed) and left behind.
            grace: seconds the items in flight get once ``stop`` is set; then the run is aborted
                (:attr:`grace_expired`). None: as long as they take.
            until: a :func:`time.monotonic` time at which ``stop`` is set (a run's duration;
                :attr:`timed_out` says it was).

        Raises:
            PipelineError: the first stage that failed, or the threads that did not stop when
                the run was not aborted.
        """
        threads = [self._launch(stage) for stage in self._stages]
        interrupted = False
        stopped_at: float | None = None
        try:
            while (alive := next((t for t in threads if t.is_alive()), None)) is not None:
                now = time.monotonic()
                if until is not None and now >= until and not self.stop_event.is_set():
                    self.timed_out = True
                    self.stop_event.set()
                if self.stop_event.is_set() and grace is not None and not self.abort_event.is_set():
                    stopped_at = now if stopped_at is None else stopped_at
                    if now - stopped_at > grace:
                        busy = [s.name for s in self._stages if s.timing.working] or ["the source"]
                        log.warning("the frames in flight did not finish within %.0f s of the stop (%s still busy): "
                                    "aborting", grace, ", ".join(busy))  # fmt: skip
                        self.grace_expired = True
                        self.abort_event.set()
                if self.abort_event.is_set():
                    self._halt.set()  # drop the items in flight; every stage returns promptly
                    break
                if self._halt.is_set():
                    break
                alive.join(timeout=_POLL)
        finally:
            try:
                # Also on KeyboardInterrupt in this thread: stop every stage before anyone closes
                # the source or the outputs under them. One deadline for all threads together.
                if any(t.is_alive() for t in threads):
                    self._halt.set()  # aborted, failed, or the caller was interrupted
                until = time.monotonic() + deadline
                for thread in threads:
                    while thread.is_alive() and (left := until - time.monotonic()) > 0:
                        try:
                            thread.join(timeout=min(left, _POLL))
                        except KeyboardInterrupt:  # another Ctrl-C: the threads are stopping already
                            self._halt.set()
                            interrupted = True
            finally:
                self.stuck = [stage.name for stage in self._stages if stage.thread is not None
                              and stage.thread.is_alive()]  # fmt: skip
        if interrupted:
            raise KeyboardInterrupt
        if self._errors:
            raise self._errors[0]
        if self.stuck and self.abort_event.is_set():
            # Aborted: the stages that cannot stop (a model step in C++) are left behind; the
            # caller closes everything else and reports them.
            log.error("%s did not stop within %.0f s of the abort; left behind (its outputs were closed without it)",
                      ", ".join(self.stuck), deadline)  # fmt: skip
            return
        if self.stuck:
            raise PipelineError(", ".join(self.stuck), TimeoutError(
                f"did not stop within {deadline:.0f} s; what it uses was left open (its outputs may be incomplete)"
            ))  # fmt: skip


class _KeyMatcher:
    """Pairs items of several channels by key (see :meth:`Pipeline.join`)."""

    def __init__(self, inboxes: list[Channel], key: Callable[[Any], Hashable]) -> None:
        if len(inboxes) < 2:
            raise ConfigError(f"a join needs at least two inboxes; found {len(inboxes)}")
        self._inboxes = inboxes
        self._key = key
        self._heads: list[Any] = [None] * len(inboxes)
        self.discarded = 0

    def next(self) -> Any:
        """A tuple of items with one key, or ``END`` once any inbox ended (or the run halted);
        then the other inboxes are drained to their end, so no producer waits forever on a
        channel nobody reads (what they held is discarded and counted)."""
        while True:
            for k, inbox in enumerate(self._inboxes):
                if self._heads[k] is None:
                    item = inbox.get()
                    if item is END:
                        self._drain(k)
                        return END
                    self._heads[k] = item
            keys = [self._key(item) for item in self._heads]
            newest = max(keys)  # type: ignore[type-var]
            if all(k == newest for k in keys):
                items = tuple(self._heads)
                self._heads = [None] * len(self._inboxes)
                return items
            for k, key in enumerate(keys):
                if key != newest:  # its partner was dropped: it can never be matched
                    self._heads[k] = None
                    self.discarded += 1

    def _drain(self, ended: int) -> None:
        for k, inbox in enumerate(self._inboxes):
            if self._heads[k] is not None:
                self._heads[k] = None
                self.discarded += 1
            if k == ended:
                continue
            while inbox.get() is not END:
                self.discarded += 1
