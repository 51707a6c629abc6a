"""Publishing per-frame results to a Redis stream, without ever blocking the model on the network.

One entry per processed frame in ``{prefix}:{source_id}:frames``, added with ``XADD ... MAXLEN ~ N``.
Fields: ``schema_version``, ``frame_key`` (``"{epoch}:{index}"``, unique per frame: consumers
drop a second entry with a key they have seen, which a retry after a lost reply can produce) and
``payload`` (the :class:`~vidseg.records.FrameRecord` as JSON).

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
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis

from vidseg.errors import SinkError
from vidseg.records import SCHEMA_VERSION, FrameRecord

log = logging.getLogger(__name__)


def redact(url: str) -> str:
    """``url`` with any username and password replaced by ``***``."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"***@{host}"))


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
    """

    url: str
    source_id: str
    prefix: str = "vidseg"
    maxlen: int = 10_000
    backlog: int = 1_000
    lossless: bool = True
    connect_timeout: float = 5.0

    @property
    def frames_key(self) -> str:
        return f"{self.prefix}:{self.source_id}:frames"


def encode_entry(record: FrameRecord, epoch: int = 0) -> dict[Any, Any]:
    """The fields of one frame's stream entry."""
    return {
        "schema_version": str(SCHEMA_VERSION),
        "frame_key": f"{epoch}:{record.index}",
        "payload": json.dumps(record.to_json(), separators=(",", ":")),
    }


def decode_entry(fields: dict[Any, Any]) -> FrameRecord:
    """The :class:`FrameRecord` of a stream entry (field names and values as bytes or str)."""
    text = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in fields.items()
    }
    if "payload" not in text:
        raise SinkError(f"not a vidseg frame entry: fields {sorted(text)}")
    return FrameRecord.from_json(json.loads(text["payload"]))


class RedisPublisher:
    """Sends frame records to Redis from its own thread (see the module docstring).

    Raises:
        SinkError: at start-up, when Redis cannot be reached or refuses the credentials.
    """

    def __init__(self, config: RedisConfig) -> None:
        self.config = config
        self._where = redact(config.url)
        try:
            self._client = redis.Redis.from_url(
                config.url, socket_connect_timeout=config.connect_timeout, socket_timeout=config.connect_timeout
            )
            self._client.ping()
        except redis.AuthenticationError:
            raise SinkError(
                f"Redis at {self._where} refused the credentials: check the user name and password"
            ) from None
        except (redis.RedisError, ValueError, OSError) as exc:
            raise SinkError(
                f"cannot reach Redis at {self._where}: {type(exc).__name__}; is the server running and the URL right?"
            ) from None
        self._backlog: collections.deque[dict[Any, Any]] = collections.deque()
        self._cond = threading.Condition()
        self._closing = False
        self.sent = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="vidseg-redis", daemon=True)
        self._thread.start()

    def publish(self, record: FrameRecord, epoch: int = 0) -> None:
        """Queue one frame's entry; never waits on the network (only on a full lossless backlog)."""
        entry = encode_entry(record, epoch)
        with self._cond:
            while self.config.lossless and len(self._backlog) >= self.config.backlog and not self._closing:
                self._cond.wait(timeout=0.1)
            if not self.config.lossless and len(self._backlog) >= self.config.backlog:
                self._backlog.popleft()
                self.dropped += 1
            self._backlog.append(entry)
            self._cond.notify_all()

    def _run(self) -> None:
        delay = 0.1
        while True:
            with self._cond:
                while not self._backlog and not self._closing:
                    self._cond.wait(timeout=0.5)
                if not self._backlog and self._closing:
                    return
                entry = self._backlog[0]
            try:
                self._client.xadd(self.config.frames_key, entry, maxlen=self.config.maxlen, approximate=True)
            except redis.RedisError as exc:
                log.warning("Redis at %s: %s; retrying in %.1f s", self._where, type(exc).__name__, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.1
            with self._cond:
                self._backlog.popleft()
                self.sent += 1
                self._cond.notify_all()

    def summary(self) -> dict[str, Any]:
        """Where entries went and how many (the URL redacted), for manifests."""
        return {"url": self._where, "stream": self.config.frames_key, "sent": self.sent, "dropped": self.dropped}

    def close(self, timeout: float = 30.0) -> None:
        """Send what is left (waiting up to ``timeout`` seconds), then stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout=timeout)
        if self._thread.is_alive():
            log.error("Redis at %s: %d entries not sent after %.0f s", self._where, len(self._backlog), timeout)
        self._client.close()
