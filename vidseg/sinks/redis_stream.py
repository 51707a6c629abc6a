"""Publishing per-frame results, status and events to Redis streams, without ever blocking the
model on the network.

- ``{prefix}:{source_id}:frames``: one entry per processed frame, added with ``XADD ... MAXLEN ~
  N``. Fields: ``schema_version``, ``frame_key`` (``"{epoch}:{index}"``, unique per frame:
  consumers drop a second entry with a key they have seen, which a retry after a lost reply can
  produce) and ``payload`` (the :class:`~vidseg.records.FrameRecord` as JSON).
- ``{prefix}:{source_id}:status``: the run's state (``starting``, ``running``, ``reconnecting``,
  ``stopped``, ``failed``) when it changes, and a heartbeat every ``heartbeat`` seconds: fields
  ``schema_version``, ``state``, ``wall_time``, ``frames``, ``fps``, ``drops``, ``backlog``,
  ``last_error``.
- ``{prefix}:{source_id}:events``: :class:`~vidseg.events.Event` entries (objects added, lost,
  reappeared, removed; prompts applied or rejected).

Entries go through a bounded backlog to a publishing thread that reconnects with backoff when
Redis is down or restarts, and sends the backlog in order. For files the backlog is lossless
(``publish`` waits when it is full); for live sources it drops the oldest and counts the drops.
Credentials in the URL never appear in logs or errors.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis

from vidseg.errors import SinkError
from vidseg.events import Event
from vidseg.records import SCHEMA_VERSION, FrameRecord

STATUS_SCHEMA_VERSION = 1


class RunState(str, Enum):
    STARTING = "starting"
    RUNNING = "running"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"
    FAILED = "failed"


log = logging.getLogger(__name__)


def redact(url: str) -> str:
    """``url`` with any username and password replaced by ``***``."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"***@{host}"))


def connect(url: str, timeout: float = 5.0) -> redis.Redis:
    """A client for ``url``, checked with a PING.

    Raises:
        SinkError: Redis cannot be reached, or refuses the credentials (the URL redacted).
    """
    where = redact(url)
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        client.ping()
    except redis.AuthenticationError:
        raise SinkError(f"Redis at {where} refused the credentials: check the user name and password") from None
    except (redis.RedisError, ValueError, OSError) as exc:
        raise SinkError(
            f"cannot reach Redis at {where}: {type(exc).__name__}; is the server running and the URL right?"
        ) from None
    return client


@dataclass(frozen=True)
class RedisConfig:
    """Where and how to publish.

    Attributes:
        url: ``redis://``, ``rediss://`` or ``unix://`` URL (may hold username and password).
        source_id: names the stream: ``{prefix}:{source_id}:frames``.
        prefix: key prefix.
        maxlen: approximate stream length kept by Redis (``MAXLEN ~``).
        backlog: entries held while Redis is unreachable.
        lossless: wait when the backlog is full (files) instead of dropping the oldest (live).
        connect_timeout: seconds for the start-up check.
        heartbeat: seconds between status entries while running.
        side_maxlen: approximate length kept of the status and events streams.
        accept_prompts: read prompts from ``{prefix}:{source_id}:prompts`` while running.
    """

    url: str
    source_id: str
    prefix: str = "vidseg"
    maxlen: int = 10_000
    backlog: int = 1_000
    lossless: bool = True
    connect_timeout: float = 5.0
    heartbeat: float = 2.0
    side_maxlen: int = 10_000
    accept_prompts: bool = True

    def key(self, kind: str) -> str:
        """``{prefix}:{source_id}:{kind}`` (kind: frames, status, events, prompts)."""
        return f"{self.prefix}:{self.source_id}:{kind}"

    @property
    def frames_key(self) -> str:
        return self.key("frames")


@dataclass(frozen=True)
class FrameContext:
    """What a frame entry carries besides the frame's record.

    Attributes:
        source_id: the source's id.
        epoch: increments each time a live source reconnects (0 for files).
        wallclock: when the frame was captured (Unix seconds), when known.
        dropped: frames the source dropped (or skipped as corrupt) since the previous entry.
        model: the model's identity (name, image size, checkpoint SHA-256, random weights).
    """

    source_id: str = ""
    epoch: int = 0
    wallclock: float | None = None
    dropped: int = 0
    model: dict[str, Any] | None = None


@dataclass(frozen=True)
class FrameEntry:
    """A decoded frame entry: the frame's record and its context."""

    record: FrameRecord
    context: FrameContext


def encode_entry(record: FrameRecord, context: FrameContext | None = None) -> dict[Any, Any]:
    """The fields of one frame's stream entry: ``schema_version``, ``frame_key``, ``source_id`` and
    ``payload``, the JSON of the record (``vidseg.records``: index, pts, time_base, time, objects
    with their COCO RLE masks) plus ``source_id``, ``epoch``, ``wallclock``, ``dropped`` and
    ``model`` (see :class:`FrameContext`)."""
    ctx = context or FrameContext()
    payload = record.to_json()
    payload.update(source_id=ctx.source_id, epoch=ctx.epoch, wallclock=ctx.wallclock, dropped=ctx.dropped,
                   model=ctx.model)  # fmt: skip
    return {
        "schema_version": str(SCHEMA_VERSION),
        "frame_key": f"{ctx.epoch}:{record.index}",
        "source_id": ctx.source_id,
        "payload": json.dumps(payload, separators=(",", ":")),
    }


def decode_frame_entry(fields: dict[Any, Any]) -> FrameEntry:
    """A frame entry's record and context (field names and values as bytes or str)."""
    text = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in fields.items()
    }
    if "payload" not in text:
        raise SinkError(f"not a vidseg frame entry: fields {sorted(text)}")
    payload = json.loads(text["payload"])
    context = FrameContext(
        source_id=str(payload.get("source_id", "")),
        epoch=int(payload.get("epoch", 0)),
        wallclock=payload.get("wallclock"),
        dropped=int(payload.get("dropped", 0)),
        model=payload.get("model"),
    )
    return FrameEntry(FrameRecord.from_json(payload), context)


def decode_entry(fields: dict[Any, Any]) -> FrameRecord:
    """The :class:`FrameRecord` of a frame entry (masks included)."""
    return decode_frame_entry(fields).record


class FrameDeduplicator:
    """Drops repeated frame entries, for consumers: a retry after a lost reply can add one
    frame's entry twice, and both carry the same ``frame_key`` (``"{epoch}:{index}"``). Entries of
    a stream are in order, so an entry whose index is not above the last one seen for its epoch
    is a repeat."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def is_new(self, fields: dict[Any, Any]) -> bool:
        """Whether this entry is the first for its frame (then it is remembered)."""
        raw = fields.get(b"frame_key", fields.get("frame_key"))
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        epoch, _, index_text = key.rpartition(":")
        try:
            index = int(index_text)
        except ValueError:
            raise SinkError(f"not a vidseg frame entry: frame_key {key!r}, expected '<epoch>:<index>'") from None
        if index <= self._last.get(epoch, -1):
            return False
        self._last[epoch] = index
        return True


class RedisPublisher:
    """Sends frame records, status and events to Redis from its own thread (see the module docstring).

    Args:
        config: where and how.
        stats: called by the publishing thread for each status entry: ``fps`` and ``drops``
            (frames the source dropped) of the run so far.

    Raises:
        SinkError: at start-up, when Redis cannot be reached or refuses the credentials.
    """

    def __init__(self, config: RedisConfig, stats: Callable[[], dict[str, float]] | None = None) -> None:
        self.config = config
        self._where = redact(config.url)
        self.client = connect(config.url, config.connect_timeout)
        self._stats = stats or (lambda: {})
        # (stream key, fields, maxlen, is a frame entry), in the order they are to be sent.
        self._backlog: collections.deque[tuple[str, dict[Any, Any], int, bool]] = collections.deque()
        self._frames_waiting = 0
        self._cond = threading.Condition()
        self._closing = False
        self._state = RunState.STARTING
        self._last_error: str | None = None
        self._last_status = 0.0
        self.sent = 0
        self.dropped = 0
        self.events = 0
        self._enqueue_status()
        self._thread = threading.Thread(target=self._run, name="vidseg-redis", daemon=True)
        self._thread.start()

    def publish(self, record: FrameRecord, context: FrameContext | None = None) -> None:
        """Queue one frame's entry; never waits on the network (only on a full lossless backlog)."""
        entry = encode_entry(record, context)
        with self._cond:
            while self.config.lossless and self._frames_waiting >= self.config.backlog and not self._closing:
                self._cond.wait(timeout=0.1)
            if not self.config.lossless and self._frames_waiting >= self.config.backlog:
                self._drop_oldest_frame()
            self._backlog.append((self.config.frames_key, entry, self.config.maxlen, True))
            self._frames_waiting += 1
            self._cond.notify_all()

    def _drop_oldest_frame(self) -> None:
        for k, item in enumerate(self._backlog):
            if item[3]:
                del self._backlog[k]
                self._frames_waiting -= 1
                self.dropped += 1
                return

    def event(self, event: Event) -> None:
        """Queue one event (never waits)."""
        with self._cond:
            self._backlog.append((self.config.key("events"), event.to_fields(), self.config.side_maxlen, False))
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

    def _enqueue_status(self) -> None:
        # Called with the lock held (or before the thread starts).
        stats = self._stats()
        fields = {
            "schema_version": str(STATUS_SCHEMA_VERSION),
            "state": self._state.value,
            "wall_time": f"{time.time():.3f}",
            "frames": str(self.sent + self._frames_waiting),
            "fps": f"{float(stats.get('fps', 0.0)):.3f}",
            "drops": str(int(stats.get("drops", 0))),
            "backlog": str(self._frames_waiting),
            "last_error": self._last_error or "",
        }
        self._backlog.append((self.config.key("status"), fields, self.config.side_maxlen, False))
        self._last_status = time.monotonic()

    def _run(self) -> None:
        delay = 0.1
        while True:
            with self._cond:
                while not self._backlog and not self._closing:
                    if time.monotonic() - self._last_status >= self.config.heartbeat:
                        self._enqueue_status()
                        break
                    self._cond.wait(timeout=min(0.5, self.config.heartbeat))
                if not self._backlog and self._closing:
                    return
                if time.monotonic() - self._last_status >= self.config.heartbeat:
                    self._enqueue_status()  # a heartbeat also while a backlog drains
                key, fields, maxlen, is_frame = self._backlog[0]
            try:
                self.client.xadd(key, fields, maxlen=maxlen, approximate=True)
            except redis.RedisError as exc:
                log.warning("Redis at %s: %s; retrying in %.1f s", self._where, type(exc).__name__, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.1
            with self._cond:
                self._backlog.popleft()
                if is_frame:
                    self._frames_waiting -= 1
                    self.sent += 1
                self._cond.notify_all()

    def summary(self) -> dict[str, Any]:
        """Where entries went and how many (the URL redacted), for manifests."""
        return {
            "url": self._where,
            "stream": self.config.frames_key,
            "sent": self.sent,
            "dropped": self.dropped,
            "events": self.events,
        }

    def close(self, state: RunState = RunState.STOPPED, error: str | None = None, timeout: float = 30.0) -> None:
        """Queue the final status, send what is left (waiting up to ``timeout`` seconds), stop the thread."""
        with self._cond:
            self._state = state
            if error is not None:
                self._last_error = error
            self._enqueue_status()
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout=timeout)
        if self._thread.is_alive():
            log.error("Redis at %s: %d entries not sent after %.0f s", self._where, len(self._backlog), timeout)
        self.client.close()
