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

import av
import numpy as np
import numpy.typing as npt

from vidseg.errors import InputError, SinkError, SourceFormatError, SourceNotFoundError
from vidseg.formats.encoder import VideoEncoder

LabelMap = npt.NDArray[np.uint8] | npt.NDArray[np.uint16]
_TIME_BASE = Fraction(1, 1000)  # what Matroska stores


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
        options = {"level": "3", "g": "1", "slicecrc": "1"}  # FFV1 v3, intra-only, checksummed slices
        # Short clusters (at most 1 s of frames each): a killed run loses at most the last second.
        self._encoder = VideoEncoder(
            self.path, "ffv1", width, height, self._format, _TIME_BASE, fps, options, container_format="matroska",
            muxer_options={"cluster_time_limit": "1000"},
        )  # fmt: skip

    @property
    def frames(self) -> int:
        return self._encoder.frames

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
        self._encoder.encode(labels, self._format, time)

    def close(self) -> None:
        """Flush and close; the file is playable afterwards (safe to call twice)."""
        self._encoder.close()

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
        if not container.streams.video:
            raise SourceFormatError(f"{file} has no video stream; expected a label video written by vidseg")
        stream = container.streams.video[0]
        fmt = stream.codec_context.pix_fmt
        if fmt not in ("gray", "gray16le"):
            raise SourceFormatError(f"{file} is not a label video: pixel format {fmt}, expected gray or gray16le")
        for frame in container.decode(stream):
            labels: LabelMap = frame.to_ndarray(format=fmt)  # type: ignore[assignment]
            yield LabelFrame(labels=labels, pts=frame.pts, time=float(frame.time) if frame.time is not None else None)
