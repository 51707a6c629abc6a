"""Live feeds through PyAV: RTSP (TCP by default), RTSPS, HTTP(S) streams, UDP, SRT, RTMP, and
V4L2 devices where FFmpeg opens them.

What a live feed does that a file does not, and how this source answers it:
- **The server dies:** PyAV's decode loop just ends, without an exception: the source reconnects.
- **The server freezes:** without a timeout, decoding blocks forever: every open and read has a
  deadline (PyAV's interrupt timeouts, plus FFmpeg's socket ``timeout``), so a read returns
  within ``read_timeout`` and the source reconnects.
- **Reconnecting:** forever by default, with capped exponential backoff (``reconnect_attempts``
  limits it). Each reconnect increments the source's *epoch*, which every frame carries (its pts
  may restart); the frame size may change, and every frame carries its own.
- **Timestamps:** each frame has the decoder's pts and time base, the wall-clock time it was
  decoded (``wallclock``), and the sender's wall-clock time when the stream provides it (RTCP
  sender reports: ``sender_wallclock``).
- **Credentials** in the URL never appear in errors, logs or :class:`SourceInfo`.

The source never drops frames itself: it hands every decoded frame on, and the pipeline's
drop-oldest channel keeps the newest (see :mod:`vidseg.pipeline.stages`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av

from vidseg.errors import ConfigError, SourceConnectionError, SourceError, SourceTimeoutError
from vidseg.redact import redact_text, redact_url, url_secrets
from vidseg.sources.base import SourceInfo, SourceStats, default_source_id
from vidseg.types import Frame

log = logging.getLogger(__name__)

LIVE_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://", "udp://", "srt://", "rtmp://", "rtmps://", "tcp://")


def is_live(spec: str) -> bool:
    """Whether ``spec`` names a live feed (a stream URL or a /dev/video device)."""
    lowered = spec.lower()
    return lowered.startswith(LIVE_PREFIXES) or lowered.startswith("/dev/video")


@dataclass(frozen=True)
class LiveOptions:
    """How a live source connects and reconnects.

    Attributes:
        transport: RTSP transport, ``"tcp"`` (default: no lost packets) or ``"udp"``.
        open_timeout: seconds to connect and read the stream's header.
        read_timeout: seconds without data before a read gives up (then the source reconnects).
        reconnect_attempts: attempts after a connection is lost (None: forever).
        startup_attempts: further attempts when the first connection fails (default 0: a wrong
            host, port, path or password is one clear error at once, not a silent wait).
        backoff_first, backoff_cap: the first wait between attempts, doubling up to the cap.
    """

    transport: str = "tcp"
    open_timeout: float = 10.0
    read_timeout: float = 5.0
    reconnect_attempts: int | None = None
    startup_attempts: int | None = 0
    backoff_first: float = 0.5
    backoff_cap: float = 10.0

    def __post_init__(self) -> None:
        if self.transport not in ("tcp", "udp"):
            raise ConfigError(f"--rtsp-transport must be tcp or udp; found {self.transport!r}")
        if not (self.open_timeout > 0 and self.read_timeout > 0):
            raise ConfigError(
                f"timeouts must be > 0 seconds; found open {self.open_timeout!r}, read {self.read_timeout!r}"
            )
        if self.reconnect_attempts is not None and self.reconnect_attempts < 0:
            raise ConfigError(f"--reconnect-attempts must be >= 0; found {self.reconnect_attempts}")
        if not 0 < self.backoff_first <= self.backoff_cap:
            raise ConfigError(f"backoff must satisfy 0 < first <= cap; found {self.backoff_first}, {self.backoff_cap}")


class LiveSource:
    """Frames of a live feed, reconnecting by itself (see the module docstring).

    Args:
        url: the feed (its credentials never leave this object).
        options: timeouts and reconnection.
        source_id: name carried by every frame (default: the URL's last path part).
        stop: when set, the source stops at the next frame, or during a reconnect wait.

    Raises:
        SourceConnectionError: the first connection failed (wrong host, port, path or password)
            and ``reconnect_attempts`` is 0; the message is redacted. Also a ``ConnectionError``.
        SourceTimeoutError: the first connection timed out (with ``reconnect_attempts`` 0).
    """

    def __init__(
        self, url: str, options: LiveOptions | None = None, source_id: str | None = None,
        stop: threading.Event | None = None,
    ) -> None:  # fmt: skip
        self._url = url
        self._where = redact_url(url)
        self._secrets = url_secrets(url)
        self.options = options or LiveOptions()
        self._stop = stop or threading.Event()
        self._source_id = source_id or default_source_id(url)
        self._stats = SourceStats()
        self.epoch = 0
        self.reconnects = 0
        self.state = "connecting"
        self._container: Any = self._connect_with_retries(first=True)
        self._info = self._describe(self._container)

    # ------------------------------------------------------------------ connecting
    def _open(self) -> Any:
        options = {"timeout": str(int(self.options.read_timeout * 1_000_000))}  # µs: FFmpeg's socket timeout
        if self._url.lower().startswith(("rtsp://", "rtsps://")):
            options["rtsp_transport"] = self.options.transport
        try:
            container = av.open(self._url, options=options, timeout=(self.options.open_timeout, self.options.read_timeout))
        except av.FFmpegError as exc:
            raise self._error(exc, "connecting to") from None
        except OSError as exc:
            raise self._error(exc, "connecting to") from None
        if not container.streams.video:
            container.close()
            raise SourceError(f"{self._where} holds no video stream; give a feed with video")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return container

    def _error(self, exc: BaseException, doing: str) -> SourceError:
        """The redacted error for ``exc``: also a ``ConnectionError`` or ``TimeoutError``."""
        why = redact_text(f"{type(exc).__name__}: {exc}", self._secrets)[:300]
        if isinstance(exc, TimeoutError) or "timed out" in str(exc).lower() or isinstance(exc, av.error.ExitError):
            return SourceTimeoutError(
                f"{doing} {self._where} timed out after {self.options.open_timeout:g} s ({why}); is the feed "
                "running and reachable?"
            )
        hint = "check the host, port and path"
        if "401" in str(exc) or "Unauthorized" in str(exc) or "403" in str(exc):
            hint = "check the user name and password"
        elif "404" in str(exc):
            hint = "check the stream's path"
        return SourceConnectionError(f"{doing} {self._where} failed ({why}); {hint}")

    def _connect_with_retries(self, first: bool = False) -> Any:
        """A connection, retrying with backoff (forever, or ``reconnect_attempts`` times)."""
        delay = self.options.backoff_first
        attempt = 0
        while True:
            try:
                container = self._open()
                self.state = "running"
                return container
            except SourceError as exc:
                limit = self.options.startup_attempts if first else self.options.reconnect_attempts
                if limit is not None and attempt >= limit:
                    self.state = "failed"
                    raise
                attempt += 1
                self._stats.errors.append(str(exc))
                log.warning("%s; %s in %.1f s (attempt %d%s)", exc, "retrying" if first else "reconnecting", delay,
                            attempt, f" of {limit}" if limit is not None else "")  # fmt: skip
                if self._stop.wait(delay):
                    return None
                delay = min(delay * 2, self.options.backoff_cap)

    def _describe(self, container: Any) -> SourceInfo:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate
        return SourceInfo(
            uri=self._where,
            kind="live",
            width=int(ctx.width),
            height=int(ctx.height),
            fps=float(rate) if rate else None,
            frames=None,
            duration=None,
            codec=ctx.name,
            container=container.format.name,
            pix_fmt=str(ctx.pix_fmt),
            time_base=Fraction(stream.time_base) if stream.time_base is not None else None,
            start_time=0.0,
        )

    # ------------------------------------------------------------------ reading
    @property
    def info(self) -> SourceInfo:
        return self._info

    @property
    def stats(self) -> SourceStats:
        return self._stats

    def _decoded(self, container: Any) -> Iterator[Any]:
        """Frames of one connection, until it ends, times out or fails (then the caller reconnects)."""
        stream = container.streams.video[0]
        try:
            for packet in container.demux(stream):
                if self._stop.is_set():
                    return
                began = time.perf_counter()
                try:
                    frames = packet.decode()
                except (av.error.InvalidDataError, ValueError):
                    self._stats.corrupt_packets += 1
                    continue
                finally:
                    self._stats.decode_seconds += time.perf_counter() - began
                yield from frames
        except (av.FFmpegError, OSError) as exc:
            if not self._stop.is_set():
                log.warning("%s: the connection was lost (%s)", self._where,
                            redact_text(f"{type(exc).__name__}: {exc}", self._secrets)[:200])  # fmt: skip

    def __iter__(self) -> Iterator[Frame]:
        container = self._container
        while container is not None and not self._stop.is_set():
            for decoded in self._decoded(container):
                self._stats.decoded += 1
                if decoded.pts is None:  # no place in time (a stream's first frame may come so): skipped
                    self._stats.untimed += 1
                    continue
                time_s = float(decoded.time) if decoded.time is not None else None
                # Known once the first RTCP sender report arrived (None or negative before).
                realtime, start = container.start_time_realtime, container.start_time
                sender = None
                if realtime is not None and realtime > 0 and time_s is not None:
                    sender = realtime / 1_000_000 + time_s - (start or 0) / 1_000_000
                began = time.perf_counter()
                image = decoded.to_ndarray(format="rgb24")
                self._stats.decode_seconds += time.perf_counter() - began
                yield Frame(
                    image=image,
                    index=self._stats.emitted,
                    pts=decoded.pts,
                    time_base=Fraction(decoded.time_base) if decoded.time_base is not None else None,
                    time=time_s,
                    wallclock=time.time(),
                    sender_wallclock=sender,
                    source_id=self._source_id,
                    epoch=self.epoch,
                )
                self._stats.emitted += 1
                if self._stop.is_set():
                    break
            container.close()
            self._container = container = None
            if self._stop.is_set():
                break
            self.state = "reconnecting"
            log.warning("%s: no more frames; reconnecting", self._where)
            container = self._container = self._connect_with_retries()
            if container is not None:
                self.epoch += 1
                self.reconnects += 1
                log.info("%s: reconnected (epoch %d)", self._where, self.epoch)
        self.state = "stopped"

    def close(self) -> None:
        """Close the connection (call once the frames are no longer read)."""
        if self._container is not None:
            with contextlib.suppress(av.FFmpegError):
                self._container.close()
            self._container = None

    def __enter__(self) -> LiveSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
