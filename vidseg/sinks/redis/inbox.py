"""Reading prompts sent through Redis while a run goes on: ``{prefix}:{source_id}:prompts``.

A reader thread reads the entries added after the run started and hands each to the
:class:`~vidseg.prompts.router.PromptRouter`: a valid prompt as a command, anything else
(not JSON, not UTF-8, nested too deeply, a bad field) as a rejection with its reason, which the
router reports as a ``prompt_rejected`` event; the reader goes on with the next entry. Connection
errors are retried with backoff; a failure of the reader itself (a permanent Redis error, such
as the key holding another type) is handed to ``on_failure``, which stops the run with its reason.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import redis

from vidseg.errors import PromptError, SinkError
from vidseg.prompts.router import PromptRouter
from vidseg.sinks.redis.client import Backoff, ErrorClass, as_vidseg_error, classify, describe
from vidseg.sinks.redis.schema import decode_prompt, request_id_of

log = logging.getLogger(__name__)


class RedisPromptInbox:
    """Reads prompt entries in a thread and routes them (see the module docstring).

    Args:
        client: a connected client (shared with the publisher; its pool is thread-safe).
        url: the server's URL, for redacted messages.
        key: the prompts stream.
        router: where commands and rejections go.
        on_failure: called once, from the reader thread, when the reader cannot go on.
        block_ms: how long one XREAD waits for entries (bounds how long :meth:`close` takes).
        frame_size: (height, width) of the frames: mask prompts of another size are refused
            before they are decoded.

    Raises:
        SinkError: the prompts stream cannot be read at start-up.
    """

    def __init__(
        self,
        client: redis.Redis,
        url: str,
        key: str,
        router: PromptRouter,
        on_failure: Callable[[BaseException], None],
        block_ms: int = 500,
        backoff: Backoff | None = None,
        frame_size: tuple[int, int] | None = None,
    ) -> None:
        self._client = client
        self._url = url
        self.key = key
        self._router = router
        self._on_failure = on_failure
        self._block_ms = block_ms
        self._frame_size = frame_size
        self._backoff = backoff or Backoff(first=0.2)
        try:
            # Start after the newest entry: prompts sent before this run are not for it.
            info = client.xinfo_stream(key) if client.exists(key) else None
        except (redis.RedisError, OSError) as exc:
            raise as_vidseg_error(exc, url, f"reading the prompts stream {key}") from None
        last = info["last-generated-id"] if info else b"0-0"
        self._last_id: str = last.decode() if isinstance(last, bytes) else str(last)
        self.read = 0
        self.error: SinkError | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vidseg-prompts", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        delays = self._backoff.delays()
        while not self._stop.is_set():
            try:
                reply: Any = self._client.xread({self.key: self._last_id}, count=100, block=self._block_ms)
            except (redis.RedisError, OSError) as exc:
                if self._stop.is_set():
                    return
                if classify(exc) is ErrorClass.PERMANENT:
                    self.error = as_vidseg_error(exc, self._url, f"reading prompts from {self.key}")
                    self._on_failure(self.error)
                    return
                log.warning("prompts stream %s: %s; retrying", self.key, describe(exc, self._url))
                self._stop.wait(next(delays))
                continue
            except Exception as exc:  # a reply redis-py cannot parse: the reader cannot go on
                self.error = SinkError(f"reading prompts from {self.key} failed: {describe(exc, self._url)}")
                self._on_failure(self.error)
                return
            delays.reset()
            for _, entries in reply or []:
                for raw_id, fields in entries:
                    self._last_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
                    self.read += 1
                    self._route(fields)

    def _route(self, fields: dict[Any, Any]) -> None:
        """Hand one entry to the router; whatever it holds, the reader goes on."""
        try:
            self._router.submit(decode_prompt(fields, self._frame_size))
        except PromptError as exc:
            obj_id, request_id = request_id_of(fields)
            self._router.reject(str(exc), obj_id, request_id)
        except Exception as exc:  # a bug in decoding must not stop the reader: report it with the entry
            obj_id, request_id = request_id_of(fields)
            self._router.reject(f"could not read the entry: {type(exc).__name__}: {exc}"[:300], obj_id, request_id)

    def close(self, timeout: float = 5.0) -> None:
        """Stop reading; the thread ends within the XREAD block time (or ``timeout``)."""
        self._stop.set()
        self._thread.join(timeout=timeout)
