"""What every frame source is: a description, an iterator of :class:`~vidseg.types.Frame`, counts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Protocol

from vidseg.types import Frame


@dataclass(frozen=True)
class SourceInfo:
    """What a source holds, as far as its container says before decoding.

    Attributes:
        uri: the path (or URL, credentials removed) that was opened.
        kind: ``"file"`` or ``"images"``.
        width, height: frame size after rotation.
        fps: average frame rate (None when unknown).
        frames: frame count the container declares (None when unknown; may be an estimate).
        duration: seconds (None when unknown).
        codec: codec name (``"h264"``, ``"jpeg"``, ...).
        container: container format name.
        pix_fmt: decoded pixel format (``"yuv420p10le"`` for 10-bit).
        time_base: unit of the frames' pts.
        rotation: clockwise degrees applied to decoded frames to display them upright.
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

    def lines(self) -> list[str]:
        """Human-readable description, one fact per line (``vidseg info``)."""
        fps = f"{self.fps:.3f}" if self.fps else "unknown"
        frames = str(self.frames) if self.frames is not None else "unknown"
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
        ]


@dataclass
class SourceStats:
    """Counts a source keeps while it is read (mutated only by the source's own thread)."""

    decoded: int = 0
    emitted: int = 0
    skipped_corrupt: int = 0
    errors: list[str] = field(default_factory=list)


class Source(Protocol):
    """A stream of frames. Iterate it once; close it when done (or use it as a context manager)."""

    @property
    def info(self) -> SourceInfo: ...

    @property
    def stats(self) -> SourceStats: ...

    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...
