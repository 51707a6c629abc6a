"""Sending frame entries, status and events to Redis from one thread, never blocking the model on
the network.

Entries go through a bounded backlog, in order. For files the backlog is lossless
(:meth:`RedisPublisher.publish` waits while it is full, but returns on abort); for live sources
it drops the oldest frame entry and counts the drop.

- Connection errors and timeouts are retried with capped exponential backoff; the backlog is
  sent once Redis is back.
- A permanent error (WRONGTYPE, NOPERM, OOM, a bad MAXLEN, wrong credentials) stops the
  publisher: :attr:`RedisPublisher.error` holds a redacted one-line reason, and the next
  :meth:`~RedisPublisher.publish` raises it, so the run fails with that reason.
- A lossless run waits for an unreachable Redis up to ``outage_limit`` seconds in a row (while
  the backlog is full, and at the end for what is left); past it, :meth:`~RedisPublisher.publish`
  raises and :meth:`~RedisPublisher.close` gives up, and the entries not sent are counted. An
  abort stops every wait at once. The thread never outlives :meth:`~RedisPublisher.close`.

The ``status`` stream gets the run's state (``starting``, ``running``, ``reconnecting``,
``stopped``, ``failed``) when it changes and a heartbeat every ``heartbeat`` seconds: fields
``schema_version`` (2), ``state``, ``wall_time``, ``frames`` (frame entries queued in all),
``fps``, ``dropped`` (frames the pipeline's buffer policies dropped before tracking), ``backlog``
(frame entries waiting to be sent), ``not_sent`` (frame entries that will never be sent: dropped
by a live backlog, and in the final entry also those left over), ``last_error``.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import redis

from vidseg.errors import RedisConnectionError, SinkError
from vidseg.redact import redact_url
from vidseg.results import Event, FrameRecord
from vidseg.sinks.redis.client import Backoff, ErrorClass, as_vidseg_error, classify, connect, describe
from vidseg.sinks.redis.schema import STATUS_SCHEMA_VERSION, FrameContext, RedisConfig, encode_entry

log = logging.getLogger(__name__)
_POLL = 0.1


class RunState(str, Enum):
    STARTING = "starting"
    RUNNING = "running"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass(frozen=True)
class _Entry:
    key: str
    fields: dict[Any, Any]
    maxlen: int
    is_frame: bool


@dataclass(frozen=True)
class PublisherSummary:
    """What a publisher sent, for manifests (the URL redacted)."""

    url: str
    stream: str
    sent: int  # frame entries Redis took
    backlog_dropped: int  # frame entries the backlog dropped (a live run's policy, or an abort)
    left: int  # frame entries still waiting (at the end: never sent)
    events: int
    error: str | None

    @property
    def not_sent(self) -> int:
        """Frame entries that did not reach Redis (so far)."""
        return self.backlog_dropped + self.left


class RedisPublisher:
    """Sends entries to Redis from its own thread (see the module docstring).

    Args:
        config: where and how.
        stats: called for each status entry: ``fps`` and ``dropped`` of the run so far.
        abort: when set, waits return at once (a full backlog, the final drain).

    Raises:
        RedisConnectionError, RedisTimeoutError: at start-up, Redis cannot be reached or refuses
            the credentials.
    """

    def __init__(
        self,
        config: RedisConfig,
        stats: Callable[[], dict[str, float]] | None = None,
        abort: threading.Event | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.config = config
        self._where = redact_url(config.url)
        self.client = connect(config.url, config.connect_timeout)
        self._stats = stats or (lambda: {})
        self._abort = abort if abort is not None else threading.Event()
        self._backoff = backoff or Backoff()
        self._backlog: collections.deque[_Entry] = collections.deque()
        self._frames_waiting = 0
        self._cond = threading.Condition()
        self._closing = False  # no more entries; send what is left
        self._quit = threading.Event()  # stop sending now
        self._state = RunState.STARTING
        self._last_error: str | None = None
        self._last_status = 0.0
        self._retrying = False
        self._down_since: float | None = None  # when Redis stopped taking entries (None: it takes them)
        self.error: SinkError | None = None  # a permanent error: the publisher stopped
        self.sent = 0
        self.dropped = 0
        self.events = 0
        self._enqueue_status()
        self._thread = threading.Thread(target=self._run, name="vidseg-redis", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ producers
    def publish(self, record: FrameRecord, context: FrameContext | None = None) -> None:
        """Queue one frame's entry. Waits only while a lossless backlog is full, and returns when
        the run is aborted meanwhile (the entry is then counted as not sent).

        Raises:
            SinkError: the publisher stopped on a permanent error (its reason).
        """
        entry = _Entry(self.config.frames_key, encode_entry(record, context), self.config.maxlen, True)
        with self._cond:
            while (
                self.config.lossless and self._frames_waiting >= self.config.backlog
                and self.error is None and not self._abort.is_set() and not self._quit.is_set()
            ):  # fmt: skip
                if self._outage() >= self.config.outage_limit:
                    raise RedisConnectionError(self._outage_reason())
                self._cond.wait(_POLL)
            if self.error is not None:
                raise self.error
            if self._frames_waiting >= self.config.backlog:
                self._drop_oldest_frame()  # live, or a lossless backlog given up on (abort)
            self._backlog.append(entry)
            self._frames_waiting += 1
            self._cond.notify_all()

    def _drop_oldest_frame(self) -> None:
        for k, item in enumerate(self._backlog):
            if item.is_frame:
                del self._backlog[k]
                self._frames_waiting -= 1
                self.dropped += 1
                return

    def event(self, event: Event) -> None:
        """Queue one event (never waits)."""
        with self._cond:
            self._backlog.append(_Entry(self.config.key("events"), event.to_fields(), self.config.side_maxlen, False))
            self.events += 1
            self._cond.notify_all()

    def set_state(self, state: RunState, error: str | None = None) -> None:
        """Record the run's state (and its last error) and queue a status entry now."""
        with self._cond:
            self._state = state
            if error is not None:
                self._last_error = error
            self._enqueue_status()
            self._cond.notify_all()

    def _outage(self) -> float:
        """Seconds Redis has been unreachable in a row (0 while it takes entries)."""
        return 0.0 if self._down_since is None else time.monotonic() - self._down_since

    def _outage_reason(self) -> str:
        return (f"Redis at {self._where} was unreachable for more than {self.config.outage_limit:.0f} s "
                f"(--redis-wait); {self._frames_waiting + self.dropped} frame entries not sent")  # fmt: skip

    @property
    def backlog(self) -> int:
        """Frame entries waiting to be sent."""
        with self._cond:
            return self._frames_waiting

    def _enqueue_status(self) -> None:
        # Called with the lock held (or before the thread starts).
        stats = self._stats()
        # Reconnecting: Redis is unreachable, or the source is (a live feed that went away).
        reconnecting = self._retrying or bool(stats.get("reconnecting", 0.0))
        state = RunState.RECONNECTING if reconnecting and self._state is RunState.RUNNING else self._state
        fields = {
            "schema_version": str(STATUS_SCHEMA_VERSION),
            "state": state.value,
            "wall_time": f"{time.time():.3f}",
            "frames": str(self.sent + self._frames_waiting),
            "fps": f"{float(stats.get('fps', 0.0)):.3f}",
            "dropped": str(int(stats.get("dropped", 0))),
            "backlog": str(self._frames_waiting),
            "not_sent": str(self.dropped + (self._frames_waiting if self._closing else 0)),
            "last_error": self._last_error or "",
        }
        self._backlog.append(_Entry(self.config.key("status"), fields, self.config.side_maxlen, False))
        self._last_status = time.monotonic()

    # ------------------------------------------------------------------ the thread
    def _next(self) -> _Entry | None:
        """The entry to send next (None: the thread is done), a heartbeat queued when due."""
        with self._cond:
            while not self._backlog and not self._closing and not self._quit.is_set():
                if time.monotonic() - self._last_status >= self.config.heartbeat:
                    self._enqueue_status()
                    break
                self._cond.wait(min(0.5, self.config.heartbeat))
            if self._quit.is_set() or (not self._backlog and self._closing):
                return None
            if time.monotonic() - self._last_status >= self.config.heartbeat:
                self._enqueue_status()  # a heartbeat also while a backlog drains
            # Taken out while it is sent: a live backlog dropping its oldest never drops it.
            return self._backlog.popleft()

    def _run(self) -> None:
        delays = self._backoff.delays()
        while (entry := self._next()) is not None:
            try:
                self.client.xadd(entry.key, entry.fields, maxlen=entry.maxlen, approximate=True)
            except (redis.RedisError, OSError) as exc:
                with self._cond:
                    self._backlog.appendleft(entry)  # not sent: first in line again
                if classify(exc) is ErrorClass.PERMANENT:
                    self._stop_on(exc)
                    return
                delay = next(delays)
                with self._cond:
                    self._retrying = True
                    if self._down_since is None:
                        self._down_since = time.monotonic()
                log.warning("Redis at %s: %s; retrying in %.1f s (%d frame entries waiting)", self._where,
                            describe(exc, self.config.url), delay, self._frames_waiting)  # fmt: skip
                if self._quit.wait(delay):
                    return
                continue
            delays.reset()
            with self._cond:
                self._retrying = False
                self._down_since = None
                if entry.is_frame:
                    self._frames_waiting -= 1
                    self.sent += 1
                self._cond.notify_all()

    def _stop_on(self, exc: BaseException) -> None:
        error = as_vidseg_error(exc, self.config.url, "publishing")
        log.error("%s; the publisher stopped", error)
        with self._cond:
            self.error = error
            self._last_error = str(error)
            self._cond.notify_all()

    # ------------------------------------------------------------------ end
    def summary(self) -> PublisherSummary:
        with self._cond:
            return PublisherSummary(
                url=self._where,
                stream=self.config.frames_key,
                sent=self.sent,
                backlog_dropped=self.dropped,
                left=self._frames_waiting,
                events=self.events,
                error=str(self.error) if self.error is not None else None,
            )

    def _send_final_status(self) -> None:
        """After a permanent error on one stream, one try to tell the status stream why (it may
        still take entries, e.g. when only the frames key holds another type)."""
        with self._cond:
            statuses = [e for e in self._backlog if e.key == self.config.key("status")]
        if statuses:
            final = statuses[-1]
            with contextlib.suppress(redis.RedisError, OSError):
                self.client.xadd(final.key, final.fields, maxlen=final.maxlen, approximate=True)

    def close(self, state: RunState = RunState.STOPPED, error: str | None = None, timeout: float | None = None) -> None:
        """Queue the final status, send what is left while Redis takes it (giving up once it has
        been unreachable for ``timeout`` seconds in a row, default the config's
        ``outage_limit``; at once when aborted), and stop the thread: it never outlives this
        call (a call blocked on the network is cut by closing the connection)."""
        timeout = self.config.outage_limit if timeout is None else timeout
        with self._cond:
            self._state = state
            if error is not None:
                self._last_error = error
            self._enqueue_status()
            self._closing = True
            self._cond.notify_all()
        while self._thread.is_alive() and not self._abort.is_set() and timeout > 0:
            with self._cond:
                down = self._down_since
            # While Redis takes entries, wait for it; once it is unreachable, up to `timeout` s in a row.
            if down is not None and time.monotonic() - down >= timeout:
                break
            self._thread.join(_POLL)
        self._quit.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(1.0)
        if self._thread.is_alive():  # blocked in a socket call: closing the connection ends it
            self.client.connection_pool.disconnect()
            self._thread.join(5.0)
        if self.error is not None:  # Redis answers (it refused a command): one quick try
            self._send_final_status()
        lost = self.summary().not_sent
        if lost:
            log.error("Redis at %s: %d frame entries not sent", self._where, lost)
        self.client.close()
