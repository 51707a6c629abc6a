"""What every frame source is: a description, an iterator of :class:`~vidseg.types.Frame`, counts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Protocol

from vidseg.errors import SourceError
from vidseg.redact import redact_url
from vidseg.types import Frame


def default_source_id(spec: str) -> str:
    """A source's name when none is given: the file's stem, or a URL's last path part without
    its query (credentials never in it): ``rtsp://u:p@cam/stream1?x=1`` -> ``stream1``."""
    return Path(redact_url(str(spec)).rstrip("/").split("?")[0]).stem or "source"


@dataclass(frozen=True)
class SourceInfo:
    """What a source holds, as far as its container says before decoding.

    Attributes:
        uri: the path (or URL, credentials removed) that was opened.
        kind: ``"file"`` or ``"images"``.
        width, height: frame size after rotation.
        fps: frame rate (None when unknown): the container's average, unless the first frames'
            timestamps contradict it (a Matroska muxer that wrote its 1 ms time base as the rate
            reads 1000); then FFmpeg's guess or the measured spacing.
        frames: frame count the container declares (None when unknown; may be an estimate).
        duration: seconds (None when unknown).
        codec: codec name (``"h264"``, ``"jpeg"``, ...).
        container: container format name.
        pix_fmt: decoded pixel format (``"yuv420p10le"`` for 10-bit).
        time_base: unit of the frames' pts.
        rotation: counterclockwise degrees the display matrix asks for (frames come out rotated).
        start_time: time of the stream's first frame (MPEG-TS and edited MP4s rarely start at 0);
            ``--start``, ``--end`` and prompt times count from it.
        frames_declared: ``frames`` is a count the container declares (not an estimate from
            duration x rate, which a variable frame rate makes wrong).
    """

    uri: str
    kind: str
    width: int
    height: int
    fps: float | None
    frames: int | None
    duration: float | None
    codec: str
    container: str
    pix_fmt: str
    time_base: Fraction | None
    rotation: int = 0
    start_time: float = 0.0
    frames_declared: bool = False

    def lines(self) -> list[str]:
        """Human-readable description, one fact per line (``vidseg info``)."""
        fps = f"{self.fps:.3f}" if self.fps else "unknown"
        frames = str(self.frames) if self.frames is not None else "unknown"
        if self.frames is not None and not self.frames_declared:
            frames += " (estimated from duration x frame rate)"
        duration = f"{self.duration:.3f} s" if self.duration is not None else "unknown"
        return [
            f"source:     {self.uri}",
            f"kind:       {self.kind} ({self.container})",
            f"video:      {self.codec}, {self.pix_fmt}, {self.width}x{self.height}",
            f"frame rate: {fps}",
            f"frames:     {frames}",
            f"duration:   {duration}",
            f"time base:  {self.time_base}",
            f"rotation:   {self.rotation} degrees",
            f"starts at:  {self.start_time:.3f} s",
        ]


def check_start(start: float | None, info: SourceInfo) -> None:
    """Refuse a ``--start`` at or past the end of a source whose duration is known, before
    anything is read or written (a run would otherwise find no frame, after creating its outputs).

    Raises:
        SourceError: ``start`` >= ``info.duration``.
    """
    if start is None or info.duration is None or start < info.duration:
        return
    raise SourceError(
        f"--start {start:g} s is at or past the end of {info.uri}, which lasts {info.duration:.3f} s "
        f"(counting from its first frame); give a --start below {info.duration:.3f} s, or leave it out"
    )


@dataclass
class SourceStats:
    """Counts a source keeps while it is read (mutated only by the source's own thread)."""

    decoded: int = 0
    emitted: int = 0
    corrupt_packets: int = 0
    untimed: int = 0  # decoded frames without a timestamp, not emitted (a live feed's first frame may be one)
    decode_seconds: float = 0.0  # time spent decoding and converting frames (not waiting for data); live feeds
    errors: list[str] = field(default_factory=list)


@dataclass
class FrameSelector:
    """Which decoded frames a source emits: those in [start, end] seconds, then every ``every``-th."""

    every: int = 1
    start: float | None = None
    end: float | None = None
    _kept: int = 0

    def __post_init__(self) -> None:
        if self.every < 1:
            raise SourceError(f"--every must be >= 1; found {self.every}")
        for name, value in (("--start", self.start), ("--end", self.end)):
            if value is not None and not (0 <= value < float("inf")):
                raise SourceError(f"{name} must be a time >= 0 seconds from the stream's start; found {value}")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise SourceError(f"--end ({self.end} s) is before --start ({self.start} s)")

    def past_end(self, time: float | None) -> bool:
        """True once frames are past ``end`` (the source can stop reading)."""
        return self.end is not None and time is not None and time > self.end + 1e-6

    def keep(self, time: float | None) -> bool:
        """Whether to emit a frame shown at ``time`` (call once per decoded frame, in order)."""
        if self.start is not None and time is not None and time < self.start - 1e-6:
            return False
        self._kept += 1
        return (self._kept - 1) % self.every == 0


class Source(Protocol):
    """A stream of frames. Iterate it once; close it when done (or use it as a context manager)."""

    @property
    def info(self) -> SourceInfo: ...

    @property
    def stats(self) -> SourceStats: ...

    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...
