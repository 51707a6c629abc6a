"""Live feeds through PyAV: RTSP (TCP by default), RTSPS, HTTP(S) streams, UDP, SRT, RTMP, and
V4L2 devices where FFmpeg opens them.

What a live feed does that a file does not, and how this source answers it:
- **The server dies:** PyAV's decode loop just ends, without an exception: the source reconnects.
- **The server answers nothing, or freezes:** without a deadline, FFmpeg waits forever. PyAV's
  interrupt (``av.open(timeout=(open, read))``) is the deadline: connecting gives up after
  ``open_timeout`` ("no answer within N s"), and a read after ``read_timeout`` without data ("no
  data for N s"; then the source reconnects). FFmpeg's own socket timeout (``timeout`` for RTSP,
  ``rw_timeout`` elsewhere) is set longer, only as a backstop: it used to cut the open short at
  the read timeout. What FFmpeg reports after an interrupt is misleading ("Invalid data found",
  "Immediate exit requested"), so an error that comes once the deadline has passed is reported
  as the timeout it is.
- **Reconnecting:** forever by default, with capped exponential backoff (``reconnect_attempts``
  limits it). Each reconnect increments the source's *epoch*, which every frame carries (its pts
  may restart); the frame size may change, and every frame carries its own.
- **Timestamps:** each frame has the decoder's pts and time base, the wall-clock time it was
  decoded (``wallclock``), and, once the sender's RTCP reports arrived, the sender's wall-clock
  time of the frame (``sender_wallclock``, from FFmpeg's producer reference time of its packet)
  with an estimate of the offset between the two clocks (:class:`SenderClock`).
  :func:`frame_age` turns them into the frame's age, which ``--max-latency`` uses: a burst of
  frames delivered late (after a freeze) is old by the sender's clock although freshly decoded.
- **Credentials** in the URL never appear in errors, logs or :class:`SourceInfo`; a URL with a
  user name and no password takes :attr:`LiveOptions.password` (see
  :mod:`vidseg.sources.credentials`).

The source never drops frames itself: it hands every decoded frame on, and the pipeline's
drop-oldest channel keeps the newest (see :mod:`vidseg.pipeline.stages`).
"""

from __future__ import annotations

import contextlib
import logging
import re
import struct
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import av

from vidseg.errors import ConfigError, SourceConnectionError, SourceError, SourceTimeoutError
from vidseg.redact import redact_text, redact_url, url_secrets
from vidseg.sources.base import SourceInfo, SourceStats, default_source_id
from vidseg.sources.credentials import PASSWORD_ENV, URL_FILE_PREFIX, user_without_password, with_password
from vidseg.types import Frame

log = logging.getLogger(__name__)

LIVE_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://", "udp://", "srt://", "rtmp://", "rtmps://", "tcp://")
# FFmpeg's socket timeout is a backstop behind PyAV's interrupt: this much longer than the
# longer of the two deadlines, so the interrupt always fires first.
SOCKET_BACKSTOP = 2.0
SENDER_CLOCK_WINDOW = 30.0  # seconds of frames over which the smallest sender delay is taken
_PENDING_SENDER_TIMES = 256  # packets' sender times kept until their frames are decoded


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
        password: the password of a URL that names a user and none (``rtsp://admin@cam/s``),
            so that it need not be on the command line; the entry point reads it from
            ``VIDSEG_SOURCE_PASSWORD``. Never shown (not in ``repr``, nor in the manifest).
    """

    transport: str = "tcp"
    open_timeout: float = 10.0
    read_timeout: float = 5.0
    reconnect_attempts: int | None = None
    startup_attempts: int | None = 0
    backoff_first: float = 0.5
    backoff_cap: float = 10.0
    password: str | None = field(default=None, repr=False, compare=False)

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


@dataclass(frozen=True)
class LiveFrame(Frame):
    """A frame of a live feed: a :class:`~vidseg.types.Frame` plus the offset between the clocks.

    Attributes:
        clock_offset: this machine's clock minus the sender's, in seconds, as
            :class:`SenderClock` estimated it when the frame was decoded (None while the sender's
            time is unknown). ``sender_wallclock + clock_offset`` is the frame's capture time
            on this machine's clock.
    """

    clock_offset: float | None = None


class SenderClock:
    """The offset between this machine's clock and a sender's, from the frames' delays.

    A frame's delay is when it was decoded here minus when the sender says it was captured. It
    holds the transport and decoding time *plus* whatever the two clocks disagree by, which for a
    camera without NTP may be minutes or years; the two cannot be told apart. So the smallest
    delay of the last ``window`` seconds counts as "no delay": it is the offset, and a frame is
    as late as its delay exceeds it. On one machine (or synchronised clocks) this underestimates
    every age by the fastest frame's transport time (about one frame interval on loopback);
    against an unsynchronised camera it still finds the frames that came late, which a raw
    difference of clocks would not (it would call every frame stale, or none).

    The window must outlast the gaps it should see across: after a freeze, the frames before it
    (still in the window) set the offset, and the burst delivered late shows its lateness. A
    sender clock that steps back by X makes frames look X late until the window forgets the
    earlier delays (``window`` seconds); one that steps forward is followed at once. Before any
    history (the source's first seconds) the first dated frames set the offset: if they were
    already late (a backlog that queued while the run loaded its model), they and their backlog
    pass as fresh, judged only by when they were decoded.

    Args:
        window: seconds (of this machine's monotonic clock) over which the minimum is taken.
    """

    def __init__(self, window: float = SENDER_CLOCK_WINDOW) -> None:
        self.window = window
        self._delays: deque[tuple[float, float]] = deque()  # (when, delay), delays increasing

    def observe(self, delay: float, at: float) -> float:
        """Record a frame's ``delay`` seen at monotonic time ``at``; returns the offset now."""
        while self._delays and self._delays[-1][1] >= delay:
            self._delays.pop()
        self._delays.append((at, delay))
        while self._delays[0][0] < at - self.window:
            self._delays.popleft()
        return self._delays[0][1]


def frame_age(frame: Frame, now: float) -> float | None:
    """Seconds since ``frame`` was captured, on this machine's clock at ``now`` (``time.time()``).

    By the sender's clock where the frame carries it (a :class:`LiveFrame` with
    ``sender_wallclock`` and ``clock_offset``): ``now - (sender_wallclock + clock_offset)``;
    never less than the time since it was decoded (``now - wallclock``), which is all a frame
    without the sender's time has. None when the frame has neither.
    """
    ages = [now - frame.wallclock] if frame.wallclock is not None else []
    offset = frame.clock_offset if isinstance(frame, LiveFrame) else None
    if frame.sender_wallclock is not None and offset is not None:
        ages.append(now - (frame.sender_wallclock + offset))
    return max(ages) if ages else None


def _sender_time(packet: Any) -> float | None:
    """The sender's wall-clock time of ``packet`` (Unix seconds), when FFmpeg attached one: its
    producer reference time, which the RTP demuxer derives from the last RTCP sender report."""
    if not packet.has_sidedata("prft"):
        return None
    wallclock_us = struct.unpack_from("<q", bytes(packet.get_sidedata("prft")))[0]  # AVProducerReferenceTime.wallclock
    return float(wallclock_us) / 1_000_000


class LiveSource:
    """Frames of a live feed, reconnecting by itself (see the module docstring).

    Args:
        url: the feed (its credentials never leave this object).
        options: timeouts, reconnection and the password of a URL that names only a user.
        source_id: name carried by every frame (default: the URL's last path part).
        stop: when set, the source stops at the next frame, or during a reconnect wait.

    Raises:
        SourceConnectionError: the first connection failed (wrong host, port, path or password)
            and ``reconnect_attempts`` is 0; the message is redacted. Also a ``ConnectionError``.
        SourceTimeoutError: the first connection got no answer within the open timeout (with
            ``reconnect_attempts`` 0). Also a ``TimeoutError``.
    """

    def __init__(
        self, url: str, options: LiveOptions | None = None, source_id: str | None = None,
        stop: threading.Event | None = None,
    ) -> None:  # fmt: skip
        self.options = options or LiveOptions()
        self._user_only = user_without_password(url) and not self.options.password
        self._url = with_password(url, self.options.password)
        self._where = redact_url(self._url)
        self._secrets = url_secrets(self._url)
        self._stop = stop or threading.Event()
        self._source_id = source_id or default_source_id(url)
        self._stats = SourceStats()
        self._clock = SenderClock()
        self._ended = ""  # why the last connection ended
        self.epoch = 0
        self.reconnects = 0
        self.state = "connecting"
        self._container: Any = self._connect_with_retries(first=True)
        self._info = self._describe(self._container)

    # ------------------------------------------------------------------ connecting
    def _open(self) -> Any:
        backstop = str(int((max(self.options.open_timeout, self.options.read_timeout) + SOCKET_BACKSTOP) * 1_000_000))
        options: dict[str, str]
        if self._url.lower().startswith(("rtsp://", "rtsps://")):
            # The RTSP demuxer's socket timeout (µs); it ignores the generic rw_timeout.
            options = {"timeout": backstop, "rtsp_transport": self.options.transport}
        else:
            # The generic protocol option: "timeout" means something else per protocol (RTMP's
            # makes the client listen for a connection instead of making one).
            options = {"rw_timeout": backstop}
        began = time.monotonic()
        try:
            timeouts = (self.options.open_timeout, self.options.read_timeout)
            container = av.open(self._url, options=options, timeout=timeouts)
        except (av.FFmpegError, OSError) as exc:
            raise self._error(exc, "connecting to", time.monotonic() - began) from None
        if not container.streams.video:
            container.close()
            raise SourceError(f"{self._where} holds no video stream; give a feed with video")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return container

    def _error(self, exc: BaseException, doing: str, waited: float) -> SourceError:
        """The redacted error for ``exc``, raised ``waited`` seconds into an open: also a
        ``ConnectionError`` or ``TimeoutError``."""
        # PyAV's interrupt fires only once the deadline has passed, and FFmpeg then reports
        # whatever the interrupted read left behind ("Invalid data found ..."): the deadline it is.
        if waited >= self.options.open_timeout or isinstance(exc, TimeoutError | av.error.ExitError):
            return SourceTimeoutError(
                f"{doing} {self._where}: no answer within {self.options.open_timeout:g} s; is the feed running and "
                "reachable? (a slow network may need a longer --open-timeout)"
            )
        why = redact_text(f"{type(exc).__name__}: {exc}", self._secrets)[:300]
        hint = connection_hint(exc, user_only=self._user_only)
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

    def _packets(self, container: Any) -> Iterator[Any]:
        """Packets of one connection, until it ends, times out or fails (then the caller
        reconnects); why it ended is left in ``self._ended``."""
        packets = container.demux(container.streams.video[0])
        self._ended = "no more frames"
        timed_out = f"no data for {self.options.read_timeout:g} s"
        try:
            while not self._stop.is_set():
                asked = time.monotonic()
                try:
                    packet = next(packets)
                except StopIteration:
                    return
                except (av.FFmpegError, OSError) as exc:
                    if time.monotonic() - asked >= self.options.read_timeout or isinstance(exc, TimeoutError):
                        self._ended = timed_out  # FFmpeg's words for it: "Immediate exit requested"
                    else:
                        why = redact_text(f"{type(exc).__name__}: {exc}", self._secrets)[:200]
                        self._ended = f"the connection was lost ({why})"
                    return
                if time.monotonic() - asked >= self.options.read_timeout:
                    # The interrupt fired and FFmpeg, instead of failing, flushed its parser and
                    # handed back the frame it held; it would fail only after another full read
                    # timeout. The feed sent nothing for the whole timeout: the connection is over.
                    self._ended = timed_out
                    return
                yield packet
        finally:
            packets.close()

    def _decoded(self, container: Any) -> Iterator[tuple[Any, float | None]]:
        """Decoded frames of one connection, each with its sender's time (None when unknown)."""
        senders: dict[int, float] = {}  # pts -> the sender's time of the packet, until its frame is decoded
        for packet in self._packets(container):
            sender = _sender_time(packet)
            if sender is not None and packet.pts is not None:
                senders[packet.pts] = sender
                if len(senders) > _PENDING_SENDER_TIMES:  # packets whose frames never came
                    del senders[next(iter(senders))]
            began = time.perf_counter()
            try:
                frames = packet.decode()
            except (av.error.InvalidDataError, ValueError):
                self._stats.corrupt_packets += 1
                continue
            finally:
                self._stats.decode_seconds += time.perf_counter() - began
            for decoded in frames:
                yield decoded, senders.pop(decoded.pts, None) if decoded.pts is not None else None

    def __iter__(self) -> Iterator[Frame]:
        container = self._container
        while container is not None and not self._stop.is_set():
            for decoded, sender in self._decoded(container):
                self._stats.decoded += 1
                if decoded.pts is None:  # no place in time (a stream's first frame may come so): skipped
                    self._stats.untimed += 1
                    continue
                began = time.perf_counter()
                image = decoded.to_ndarray(format="rgb24")
                self._stats.decode_seconds += time.perf_counter() - began
                wallclock = time.time()
                offset = self._clock.observe(wallclock - sender, time.monotonic()) if sender is not None else None
                yield LiveFrame(
                    image=image,
                    index=self._stats.emitted,
                    pts=decoded.pts,
                    time_base=Fraction(decoded.time_base) if decoded.time_base is not None else None,
                    time=float(decoded.time) if decoded.time is not None else None,
                    wallclock=wallclock,
                    sender_wallclock=sender,
                    source_id=self._source_id,
                    epoch=self.epoch,
                    clock_offset=offset,
                )
                self._stats.emitted += 1
                if self._stop.is_set():
                    break
            container.close()
            self._container = container = None
            if self._stop.is_set():
                break
            self.state = "reconnecting"
            log.warning("%s: %s; reconnecting", self._where, self._ended)
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


def connection_hint(exc: BaseException, user_only: bool = False) -> str:
    """What to check after a failed connection, from the error's kind and the text FFmpeg gives
    outside the quoted URL (whose port or path may well read "401" or "404")."""
    said = re.sub(r"'[^']*'", "", str(exc))
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError) or re.search(
        r"\b(401|403)\b|Unauthorized|Forbidden", said
    ):
        hint = "check the user name and password"
        if user_only:
            hint += (f" (the URL names a user and no password: the run takes it from {PASSWORD_ENV}, or give "
                     f"{URL_FILE_PREFIX}PATH)")  # fmt: skip
        return hint
    if isinstance(exc, av.error.HTTPNotFoundError) or re.search(r"\b404\b|Not Found", said):
        return "check the stream's path"
    return "check the host, port and path"
