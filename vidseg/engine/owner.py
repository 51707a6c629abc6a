"""The model owner: one thread that holds a model (and the device) and runs every source's calls
to it, one after the other, in the order :class:`~vidseg.engine.scheduler.FairScheduler` picks.

Each source's pipeline keeps its own threads (decode, results, sinks, prompt readers); where it
would call the model (a tracking session's ``step``, ``add``, ``remove_object``, ``refine``, a
semantic model's ``label``, a proposer's ``propose``) it calls through an :class:`OwnerClient`
instead (see :mod:`vidseg.engine.owned`), which queues the call and waits for its answer. So one
copy of the weights serves every source, and no two threads ever run one model at once.

Stopping: :meth:`ModelOwner.close` lets the call in progress finish, ends every waiting call
with :class:`~vidseg.errors.EngineError` and joins the thread within a deadline; a thread still
inside a long model step then is left behind (and reported), never joined without a timeout.
A caller waiting for its answer wakes when the owner closes, so no source's pipeline hangs on a
dead owner.

Batching (the next step on CUDA, not built): the owner takes one call at a time
(:meth:`ModelOwner._next_batch` returns one). A batching owner would instead look at
:meth:`~vidseg.engine.scheduler.FairScheduler.pending` (every source's waiting call at once),
take the ``"step"`` calls due together and run their frames through the image encoder in one
forward. It is left out until a GPU can measure it: on the CPU one frame at a time already keeps
the cores busy.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from vidseg.engine.scheduler import FairScheduler, Request
from vidseg.errors import EngineError

log = logging.getLogger(__name__)
T = TypeVar("T")
_POLL = 0.1  # seconds between the checks of a wait (a caller's wait also watches the owner)


@dataclass(frozen=True)
class ClientStats:
    """What one source asked of one model.

    Attributes:
        calls: calls run.
        steps: of them, ``"step"`` calls (frames tracked or labelled).
        busy: seconds the model spent on them.
        waited: seconds they waited for their turn, in all.
        max_wait: the longest wait of one call.
    """

    calls: int = 0
    steps: int = 0
    busy: float = 0.0
    waited: float = 0.0
    max_wait: float = 0.0


class ModelOwner:
    """One thread that runs every call to one model (see the module docstring).

    Args:
        name: the model's role (``"tracker"``, ``"semantic"``, ``"proposer"``); the thread is
            ``vidseg-owner-<name>``.
        scheduler: the order of the calls (default: :class:`FairScheduler`).

    Example:
        >>> owner = ModelOwner("tracker").start()
        >>> cam = owner.client("cam", live=True)
        >>> cam.call("step", session_step, frame)   # runs on the owner's thread
        >>> owner.close(deadline=10.0)
    """

    def __init__(self, name: str, scheduler: FairScheduler | None = None) -> None:
        self.name = name
        self._scheduler = scheduler or FairScheduler()
        self._cond = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._stats: dict[str, ClientStats] = {}
        self._current: Request | None = None
        self.stuck = False  # close() left the thread behind (a call outlived the deadline)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> ModelOwner:
        """Start the owner's thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name=f"vidseg-owner-{self.name}", daemon=True)
            self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self, deadline: float = 10.0) -> bool:
        """Stop taking calls: the one in progress finishes, the waiting ones end with
        :class:`EngineError`; wait up to ``deadline`` seconds for the thread. Returns whether it
        ended (False: it is still inside a call, and is left behind as :attr:`stuck`)."""
        with self._cond:
            self._closing = True
            dropped = self._scheduler.drain()
            self._cond.notify_all()
        for request in dropped:
            request.fail(EngineError(f"the {self.name} model's owner closed before the call ran ({request.kind} "
                                     f"for source {request.source!r})"))  # fmt: skip
        if self._thread is None:
            return True
        self._thread.join(timeout=max(0.0, deadline))
        if self._thread.is_alive():
            current = self._current
            self.stuck = True
            log.error("the %s model's owner is still inside %s after %.0f s; left behind", self.name,
                      f"a {current.kind} call of source {current.source!r}" if current else "a call", deadline)  # fmt: skip
            return False
        return True

    # ------------------------------------------------------------------ callers
    def client(self, source: str, live: bool = False) -> OwnerClient:
        """A handle through which ``source`` calls the model (``live``: its calls go first)."""
        with self._cond:
            self._stats.setdefault(source, ClientStats())
        return OwnerClient(self, source, live)

    def submit(self, request: Request) -> Request:
        """Queue ``request`` (it runs on the owner's thread); returns it to wait on.

        Raises:
            EngineError: the owner is closed or was never started.
        """
        with self._cond:
            if self._closing or self._thread is None:
                raise EngineError(f"the {self.name} model's owner is {'closed' if self._closing else 'not started'}; "
                                  f"source {request.source!r} cannot call it")  # fmt: skip
            self._scheduler.add(request)
            self._cond.notify_all()
        return request

    def wait(self, request: Request) -> Any:
        """Wait for ``request`` and return its result, or raise its exception on this thread.

        Raises:
            EngineError: the owner ended (closed, or its thread died) before answering.
        """
        while not request.done.wait(_POLL):
            if not self.alive:
                with self._cond:
                    self._scheduler.remove(request.source)
                if not request.done.is_set():
                    raise EngineError(f"the {self.name} model's owner stopped before answering source "
                                      f"{request.source!r}'s {request.kind} call")  # fmt: skip
        if request.error is not None:
            raise request.error
        return request.result

    def on_owner_thread(self) -> bool:
        """Whether the calling thread is the owner's own (a call made inside a call runs at once)."""
        return self._thread is not None and threading.current_thread() is self._thread

    def forget(self, source: str) -> None:
        """Drop ``source``'s waiting calls (ending them with :class:`EngineError`); its stats stay."""
        with self._cond:
            dropped = self._scheduler.remove(source)
        for request in dropped:
            request.fail(EngineError(f"source {source!r} left the {self.name} model's owner before its call ran"))

    def stats(self) -> dict[str, ClientStats]:
        """Per source: calls, steps, busy and waiting seconds so far."""
        with self._cond:
            return dict(self._stats)

    # ------------------------------------------------------------------ the thread
    def _serve(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            for request in batch:
                self._current = request
                request.run()
                self._current = None
                self._account(request)

    def _next_batch(self) -> list[Request] | None:
        """The calls to run next, or None once closing. One call at a time: the seam where a
        batching owner would take several sources' ``step`` calls from
        ``self._scheduler.pending()`` (see the module docstring)."""
        with self._cond:
            while True:
                if self._closing:
                    return None
                request = self._scheduler.take()
                if request is not None:
                    return [request]
                self._cond.wait(_POLL)

    def _account(self, request: Request) -> None:
        assert request.started is not None and request.finished is not None
        waited = request.started - request.submitted
        with self._cond:
            old = self._stats.get(request.source, ClientStats())
            self._stats[request.source] = ClientStats(
                old.calls + 1, old.steps + (request.kind == "step"), old.busy + request.finished - request.started,
                old.waited + waited, max(old.max_wait, waited),
            )  # fmt: skip


class OwnerClient:
    """One source's handle on a :class:`ModelOwner`: :meth:`call` runs a function on the owner's
    thread and returns its result (or raises its exception) on the caller's."""

    def __init__(self, owner: ModelOwner, source: str, live: bool) -> None:
        self.owner = owner
        self.source = source
        self.live = live

    def call(self, kind: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` on the owner's thread, in this source's turn.

        Called from the owner's thread itself (a call made inside a call), it runs at once.

        Raises:
            EngineError: the owner closed before the call ran.
            Exception: whatever ``fn`` raised.
        """
        if self.owner.on_owner_thread():
            return fn(*args, **kwargs)
        request = self.owner.submit(Request(self.source, self.live, kind, fn, args, kwargs, time.monotonic()))
        result: T = self.owner.wait(request)
        return result

    def close(self) -> None:
        """This source is done with the model (its waiting calls, if any, end)."""
        self.owner.forget(self.source)

    def stats(self) -> ClientStats:
        return self.owner.stats().get(self.source, ClientStats())
