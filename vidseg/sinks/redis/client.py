"""The one Redis client module: connecting, and what each error means.

Errors fall in two classes (:func:`classify`):
- *transient*: the server is unreachable, restarting, loading, or did not answer in time
  (connection errors, timeouts): retry with backoff;
- *permanent*: a retry cannot fix it (wrong credentials, WRONGTYPE, NOPERM, OOM, a bad option):
  fail with a one-line reason.

Every message passes through :mod:`vidseg.redact`: credentials never appear in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import redis

from vidseg.errors import RedisCommandError, RedisConnectionError, RedisTimeoutError, SinkError
from vidseg.redact import redact_text, redact_url, url_secrets


class ErrorClass(str, Enum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"


def classify(exc: BaseException) -> ErrorClass:
    """Whether a retry may fix ``exc`` (see the module docstring)."""
    if isinstance(exc, (redis.AuthenticationError, redis.exceptions.AuthorizationError)):
        return ErrorClass.PERMANENT
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError, ConnectionError, TimeoutError)):
        return ErrorClass.TRANSIENT  # includes BusyLoadingError (a ConnectionError)
    if isinstance(exc, redis.ResponseError) and str(exc).startswith(("LOADING", "TRYAGAIN", "MASTERDOWN")):
        return ErrorClass.TRANSIENT
    return ErrorClass.PERMANENT


def describe(exc: BaseException, url: str) -> str:
    """One redacted line: the error's class and Redis's own words (which may quote the URL)."""
    text = redact_text(str(exc), url_secrets(url)).strip().splitlines()
    first = text[0][:300] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def as_vidseg_error(exc: BaseException, url: str, doing: str) -> SinkError:
    """The :class:`~vidseg.errors.SinkError` subclass for ``exc`` met while ``doing`` something:
    a connection failure is also a ``ConnectionError``, a timeout also a ``TimeoutError``."""
    where = redact_text(redact_url(url), url_secrets(url))
    why = describe(exc, url)
    if isinstance(exc, (redis.AuthenticationError, redis.exceptions.AuthorizationError)):
        return RedisConnectionError(f"Redis at {where} refused the credentials while {doing} ({why}); "
                                    "check the user name and password")  # fmt: skip
    if isinstance(exc, (redis.TimeoutError, TimeoutError)):
        return RedisTimeoutError(f"Redis at {where} did not answer in time while {doing} ({why})")
    if isinstance(exc, (redis.ConnectionError, ConnectionError)):
        return RedisConnectionError(
            f"cannot reach Redis at {where} while {doing} ({why}); is the server running and the URL right?"
        )
    return RedisCommandError(
        f"Redis at {where} refused a command while {doing}: {why.rstrip('.')}. A retry cannot fix this: check the server "
        "(memory, the user's permissions) or whether another program uses these keys (choose another "
        "--source-id or --redis-prefix)"
    )


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff: ``first``, doubling, at most ``cap`` seconds."""

    first: float = 0.1
    cap: float = 5.0

    def delays(self) -> DelayIterator:
        return DelayIterator(self)


class DelayIterator:
    """Successive delays of a :class:`Backoff`; :meth:`reset` after a success."""

    def __init__(self, backoff: Backoff) -> None:
        self._backoff = backoff
        self._next = backoff.first

    def __next__(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self._backoff.cap)
        return delay

    def reset(self) -> None:
        self._next = self._backoff.first


def connect(url: str, timeout: float = 5.0, socket_timeout: float | None = None) -> redis.Redis:
    """A client for ``url`` (``redis://``, ``rediss://``, ``unix://``), checked with a PING.

    Args:
        url: the server, maybe with user name and password.
        timeout: seconds to connect.
        socket_timeout: seconds a command may take (default: ``timeout``).

    Raises:
        RedisConnectionError: Redis cannot be reached, or refuses the credentials (also a
            ``ConnectionError``).
        RedisTimeoutError: it did not answer in time (also a ``TimeoutError``).
        SinkError: the URL is not a Redis URL.
    """
    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=socket_timeout or timeout, health_check_interval=0
        )
    except ValueError as exc:
        raise SinkError(
            f"{redact_text(redact_url(url), url_secrets(url))} is not a Redis URL ({redact_text(str(exc), url_secrets(url))}); "
            "expected redis://[user:password@]host[:port][/db], rediss://... or unix:///path"
        ) from None
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        client.close()
        raise as_vidseg_error(exc, url, "connecting") from None
    return client

