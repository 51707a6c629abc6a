"""Which source's model call runs next: :class:`FairScheduler`, the model owner's queue.

Every source's pipeline hands its calls to the owner of a model (:mod:`vidseg.engine.owner`);
each call waits here as a :class:`Request` until the scheduler picks it. The rules:

- **Round-robin within a kind.** Among the file sources with a call waiting, the one served
  least recently goes next; the same among live sources. A slow caller (long calls) or a busy
  one (always a call waiting) gets one call per turn like any other, so it cannot starve one.
- **Live sources first, files never starved.** A live source's call goes before the files'
  (a live frame ages while it waits; a file frame does not), so a live call waits for the call
  in progress and at most one file call. Once every live source has been served since the last
  file call (or, with ``live_streak``, once that many live calls ran in a row while a file call
  waited), one file call runs: the files always keep a share of the model.
- **Newest wins within a live source** is the source's own policy (its frame channel keeps
  only the newest frame); each source has at most a few calls waiting here, in order.

:meth:`FairScheduler.pending` shows every waiting call at once: the seam where a batching owner
would pick the step calls of several sources to run through the image encoder together (on
CUDA; not built, see :class:`~vidseg.engine.owner.ModelOwner`).

The scheduler holds no lock of its own: the owner calls it under its lock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vidseg.errors import ConfigError


@dataclass(eq=False)
class Request:
    """One call waiting for (or run by) a model's owner thread.

    Attributes:
        source: the calling source's id.
        live: whether that source is a live feed.
        kind: what the call is (``"step"``, ``"add"``, ``"refine"``, ``"label"``, ``"propose"``...):
            what a batching owner would group by.
        fn, args, kwargs: the call.
        submitted: :func:`time.monotonic` when it was queued.
    """

    source: str
    live: bool
    kind: str
    fn: Callable[..., Any] = field(repr=False)
    args: tuple[Any, ...] = field(default=(), repr=False)
    kwargs: dict[str, Any] = field(default_factory=dict, repr=False)
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    result: Any = field(default=None, repr=False)
    error: BaseException | None = field(default=None, repr=False)
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    def run(self) -> None:
        """Run the call on this thread, keeping its result or exception; then mark it done."""
        self.started = time.monotonic()
        try:
            self.result = self.fn(*self.args, **self.kwargs)
        except BaseException as exc:  # handed to the caller's thread, which raises it
            self.error = exc
        finally:
            self.finished = time.monotonic()
            self.done.set()

    def fail(self, error: BaseException) -> None:
        """End the call without running it (the owner is closing)."""
        self.error = error
        self.done.set()

    @property
    def waited(self) -> float:
        """Seconds it waited before it ran (so far, if it has not)."""
        return (self.started if self.started is not None else time.monotonic()) - self.submitted


class FairScheduler:
    """The queue of one model's calls from every source; see the module docstring.

    Args:
        live_streak: live calls that may run in a row while a file call waits (None: each live
            source goes once, then a file).
    """

    def __init__(self, live_streak: int | None = None) -> None:
        if live_streak is not None and (isinstance(live_streak, bool) or live_streak < 1):
            raise ConfigError(f"live_streak must be a whole number >= 1 (or None); found {live_streak!r}")
        self._live_streak = live_streak
        self._queues: dict[str, deque[Request]] = {}
        self._live: dict[str, bool] = {}
        self._served: dict[str, int] = {}  # the turn each source was last served at (0: never)
        self._turn = 0
        self._streak = 0  # live calls in a row while a file call waited
        self._live_since_file: set[str] = set()  # live sources served since the last file call

    def add(self, request: Request) -> None:
        """Queue ``request`` behind its source's earlier calls."""
        if request.source not in self._queues:
            self._queues[request.source] = deque()
            self._served.setdefault(request.source, 0)
        self._live[request.source] = request.live
        self._queues[request.source].append(request)

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def pending(self) -> tuple[Request, ...]:
        """Every waiting call, oldest first (what a batching owner would choose from)."""
        return tuple(sorted((r for q in self._queues.values() for r in q), key=lambda r: r.submitted))

    def take(self) -> Request | None:
        """The call to run next (removed from the queue), or None when none waits."""
        waiting = [s for s, q in self._queues.items() if q]
        if not waiting:
            return None
        live = [s for s in waiting if self._live[s]]
        files = [s for s in waiting if not self._live[s]]
        if files and self._live_streak is None:  # each live source once, then a file
            live = [s for s in live if s not in self._live_since_file]
        elif files and self._streak >= self._live_streak:  # type: ignore[operator]
            live = []
        if live:
            chosen = min(live, key=self._served.__getitem__)
            self._streak = self._streak + 1 if files else 0
            self._live_since_file.add(chosen)
        else:
            chosen = min(files, key=self._served.__getitem__)
            self._streak = 0
            self._live_since_file.clear()
        self._turn += 1
        self._served[chosen] = self._turn
        queue = self._queues[chosen]
        request = queue.popleft()
        if not queue:
            del self._queues[chosen]  # a source that ended leaves nothing behind (its turn is kept)
        return request

    def remove(self, source: str) -> list[Request]:
        """Take every waiting call of ``source`` out of the queue (its pipeline has ended)."""
        self._served.pop(source, None)
        self._live.pop(source, None)
        self._live_since_file.discard(source)
        return list(self._queues.pop(source, ()))

    def drain(self) -> list[Request]:
        """Take every waiting call out of the queue (the owner is closing)."""
        out = [r for q in self._queues.values() for r in q]
        self._queues.clear()
        return out
