"""Lossless label videos: one frame of object ids per processed frame (FFV1 in Matroska).

Pixel value = object id, 0 = background; 8-bit gray, or 16-bit gray when ids exceed 255. FFV1
is lossless, so :func:`read_label_video` returns exactly the maps that were written. Each frame
keeps its source timestamp (Matroska stores times in milliseconds).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from vidseg.errors import InputError, SinkError, SourceFormatError, SourceNotFoundError

LabelMap = npt.NDArray[np.uint8] | npt.NDArray[np.uint16]
_DEFAULT_TIME_BASE = Fraction(1, 1000)


@dataclass(frozen=True)
class LabelFrame:
    """A label map read back, with its timestamp."""

    labels: LabelMap
    pts: int | None
    time: float | None


class LabelVideoWriter:
    """Writes label maps to an FFV1 video.

    Args:
        path: output file (``.mkv``).
        width, height: frame size.
        bits: 8 (ids up to 255) or 16 (ids up to 65535).
        fps: nominal rate, for players; frames carry their own timestamps.
    """

    def __init__(self, path: str | Path, width: int, height: int, bits: int = 8, fps: float = 25.0) -> None:
        if bits not in (8, 16):
            raise SinkError(f"label videos are 8 or 16 bit; found bits={bits}")
        self.path = Path(path)
        self.bits = bits
        self._size = (height, width)
        self._dtype = np.uint8 if bits == 8 else np.uint16
        self._format = "gray" if bits == 8 else "gray16le"
        self._last_pts: int | None = None
        self.frames = 0
        try:
            self._container: Any = av.open(str(self.path), mode="w", format="matroska")
            self._stream: Any = self._container.add_stream("ffv1", rate=Fraction(fps).limit_denominator(1001))
        except (av.FFmpegError, OSError) as exc:
            raise SinkError(f"cannot create label video {self.path}: {exc}") from exc
        self._stream.width = width
        self._stream.height = height
        self._stream.pix_fmt = self._format
        # The encoder's time base too, or it rounds timestamps to the nominal frame rate (VFR lost).
        self._stream.time_base = self._stream.codec_context.time_base = _DEFAULT_TIME_BASE
        self._stream.options = {"level": "3", "g": "1", "slicecrc": "1"}

    def write(self, labels: np.ndarray, time: float | None = None) -> None:
        """Append one label map (HxW uint8/uint16), shown at ``time`` seconds (default: frame count / fps).

        Raises:
            InputError: wrong shape, or ids that do not fit the video's bit depth.
        """
        if labels.shape != self._size:
            raise InputError(f"label map has shape {labels.shape}; this video is {self._size}")
        if labels.dtype != self._dtype:
            if labels.size and int(labels.max()) > np.iinfo(self._dtype).max:
                raise InputError(
                    f"label map holds id {int(labels.max())}, more than a {self.bits}-bit video holds; "
                    "open the writer with bits=16"
                )
            labels = labels.astype(self._dtype)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(labels), format=self._format)
        pts = round((time if time is not None else self.frames / float(self._stream.rate or 25)) * 1000)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # timestamps must increase; keep order when ms collide
        frame.pts = pts
        frame.time_base = _DEFAULT_TIME_BASE
        self._last_pts = pts
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        """Flush and close; the file is playable afterwards (safe to call twice)."""
        if self._container is None:
            return
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
        finally:
            self._container.close()
            self._container = None

    def __enter__(self) -> LabelVideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_label_video(path: str | Path) -> Iterator[LabelFrame]:
    """Yield the label maps of a video written by :class:`LabelVideoWriter`, exactly as written."""
    file = Path(path)
    if not file.is_file():
        raise SourceNotFoundError(f"label video {file} does not exist")
    try:
        container = av.open(str(file))
    except av.FFmpegError as exc:
        raise SourceFormatError(f"{file} is not a readable label video: {exc}") from exc
    with container:
        stream = container.streams.video[0]
        fmt = stream.codec_context.pix_fmt
        if fmt not in ("gray", "gray16le"):
            raise SourceFormatError(f"{file} is not a label video: pixel format {fmt}, expected gray or gray16le")
        for frame in container.decode(stream):
            labels: LabelMap = frame.to_ndarray(format=fmt)  # type: ignore[assignment]
            yield LabelFrame(labels=labels, pts=frame.pts, time=float(frame.time) if frame.time is not None else None)
