"""Running stages in their own threads, joined by bounded queues.

decode -> track -> write: each stage is a thread; the queues between them are bounded, so a
slow stage holds the others back instead of piling frames up (files never drop a frame).

Stopping:
- ``stop`` (Ctrl-C, SIGTERM, or the caller): the first stage stops reading; the frames already
  in flight go through the other stages, and every output is closed properly.
- a stage raising: every stage stops at once, and :meth:`StagedRun.run` raises
  :class:`~vidseg.errors.PipelineError` naming that stage.
Every wait has a timeout and checks the abort flag, so nothing hangs on a dead neighbour.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from vidseg.errors import PipelineError

log = logging.getLogger(__name__)

_END = object()  # end-of-stream sentinel
_POLL = 0.1
_BACKGROUND_NICE = 10


@dataclass
class StageTiming:
    """Seconds a stage spent working (not waiting), and items it handled."""

    busy: float = 0.0
    items: int = 0


@dataclass
class _Stage:
    name: str
    fn: Callable[[Any], Any] | None
    timing: StageTiming = field(default_factory=StageTiming)


class StagedRun:
    """A source iterable followed by stages; each stage maps one item to one item (or None to drop it).

    Args:
        source_name: name of the reading stage (for errors and timings).
        source: an iterable of items, read in its own thread.
        stages: (name, fn) pairs; the last stage's outputs are discarded.
        queue_size: items each queue holds.
        stop_event: set it (from any thread or a signal handler) to stop reading gracefully.
        background: names of stages to run at a lower OS priority (Linux), e.g. all but the model.
        abort_event: set it to stop at once, dropping the items in flight.
    """

    def __init__(
        self,
        source_name: str,
        source: Iterable[Any],
        stages: list[tuple[str, Callable[[Any], Any]]],
        queue_size: int = 8,
        stop_event: threading.Event | None = None,
        background: Iterable[str] = (),
        abort_event: threading.Event | None = None,
    ) -> None:
        self._source = source
        self._stages = [_Stage(source_name, None)] + [_Stage(name, fn) for name, fn in stages]
        self._queues: list[queue.Queue[Any]] = [queue.Queue(maxsize=queue_size) for _ in stages]
        self.stop_event = stop_event if stop_event is not None else threading.Event()
        self.abort_event = abort_event if abort_event is not None else threading.Event()
        self._abort = threading.Event()
        self._errors: list[PipelineError] = []
        self._lock = threading.Lock()
        self._background = set(background)
        self.stuck: list[str] = []  # threads still alive after run() (their resources are in use)

    @property
    def timings(self) -> dict[str, StageTiming]:
        return {stage.name: stage.timing for stage in self._stages}

    def stop(self) -> None:
        """Ask the reading stage to stop; frames in flight still finish."""
        self.stop_event.set()

    def _fail(self, stage: str, exc: BaseException) -> None:
        with self._lock:
            self._errors.append(PipelineError(stage, exc))
        log.error("stage %s failed: %s", stage, exc)
        log.debug("stage %s traceback", stage, exc_info=exc)
        self._abort.set()
        self.stop_event.set()

    def _put(self, q: queue.Queue[Any], item: Any) -> bool:
        """Put with a timeout loop; False when the run was aborted meanwhile."""
        while not self._abort.is_set():
            try:
                q.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def _get(self, q: queue.Queue[Any]) -> Any:
        while not self._abort.is_set():
            try:
                return q.get(timeout=_POLL)
            except queue.Empty:
                continue
        return _END

    def _lower_priority(self, stage: _Stage) -> None:
        # On Linux a thread has its own nice value. Stages other than the model yield the CPU to
        # it, so their work fills the model's idle moments instead of stalling its worker threads.
        if stage.name in self._background and hasattr(os, "setpriority"):
            with contextlib.suppress(OSError):  # not permitted: run at normal priority
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _BACKGROUND_NICE)

    def _read(self) -> None:
        stage, out = self._stages[0], self._queues[0]
        self._lower_priority(stage)
        try:
            iterator = iter(self._source)
            while not self.stop_event.is_set():
                start = time.perf_counter()
                try:
                    item = next(iterator)
                except StopIteration:
                    break
                stage.timing.busy += time.perf_counter() - start
                stage.timing.items += 1
                if not self._put(out, item):
                    return
        except BaseException as exc:
            self._fail(stage.name, exc)
        finally:
            self._put(out, _END)

    def _work(self, k: int) -> None:
        stage = self._stages[k]
        self._lower_priority(stage)
        inbox = self._queues[k - 1]
        outbox = self._queues[k] if k < len(self._queues) else None
        assert stage.fn is not None
        try:
            while True:
                item = self._get(inbox)
                if item is _END:
                    break
                start = time.perf_counter()
                result = stage.fn(item)
                stage.timing.busy += time.perf_counter() - start
                stage.timing.items += 1
                if outbox is not None and result is not None and not self._put(outbox, result):
                    return
        except BaseException as exc:
            self._fail(stage.name, exc)
        finally:
            if outbox is not None:
                self._put(outbox, _END)

    def run(self, join_timeout: float = 30.0) -> None:
        """Run to the end of the source (or a stop); raise :class:`PipelineError` if a stage failed.

        The calling thread only waits, so signal handlers run promptly.
        """
        threads = [threading.Thread(target=self._read, name=f"vidseg-{self._stages[0].name}", daemon=True)]
        threads += [
            threading.Thread(target=self._work, args=(k,), name=f"vidseg-{self._stages[k].name}", daemon=True)
            for k in range(1, len(self._stages))
        ]
        for thread in threads:
            thread.start()
        try:
            # Wait for the last stage; the others finish before it (it gets their end marker).
            while threads[-1].is_alive():
                if self.abort_event.is_set():
                    self._abort.set()  # drop the items in flight; every stage returns promptly
                threads[-1].join(timeout=_POLL)
        finally:
            # Also on KeyboardInterrupt in this thread: stop every stage before anyone closes
            # the source or the outputs under them.
            self._abort.set()
            for thread in threads:
                thread.join(timeout=join_timeout)
            self.stuck = [thread.name for thread in threads if thread.is_alive()]
        if self.stuck:
            raise PipelineError(", ".join(self.stuck), TimeoutError(f"did not stop within {join_timeout:.0f} s"))
        if self._errors:
            raise self._errors[0]
