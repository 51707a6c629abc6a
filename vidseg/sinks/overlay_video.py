"""Overlay previews: the source frames with each object's mask tinted, outlined and labelled (H.264)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from vidseg.errors import SinkError
from vidseg.overlay import draw_overlay
from vidseg.types import BoolArray, ImageArray, IntArray

_TIME_BASE = Fraction(1, 90000)


class OverlayVideoWriter:
    """Writes overlay frames to an H.264 MP4 at the source's timing.

    H.264 in yuv420p needs even sizes: an odd frame gets one edge row/column repeated.
    """

    def __init__(self, path: str | Path, width: int, height: int, fps: float = 25.0, crf: int = 23) -> None:
        self.path = Path(path)
        self._even = (height + height % 2, width + width % 2)
        self._last_pts: int | None = None
        self.frames = 0
        self._fps = fps
        try:
            self._container: Any = av.open(str(self.path), mode="w")
            self._stream: Any = self._container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        except (av.FFmpegError, OSError) as exc:
            raise SinkError(f"cannot create overlay video {self.path}: {exc}") from exc
        self._stream.width, self._stream.height = self._even[1], self._even[0]
        self._stream.pix_fmt = "yuv420p"
        # The encoder's time base too, or it rounds timestamps to the nominal frame rate (VFR lost).
        self._stream.time_base = self._stream.codec_context.time_base = _TIME_BASE
        # A preview: cheap to encode, so it hides behind the model even on 2 CPU cores.
        self._stream.options = {"crf": str(crf), "preset": "ultrafast", "threads": "1"}

    def write(
        self,
        image: ImageArray,
        masks: BoolArray,
        object_ids: IntArray,
        time: float | None = None,
        labels: np.ndarray | None = None,
    ) -> None:
        """Draw the masks over ``image`` and append it, shown at ``time`` seconds (``labels``: the
        masks' label map, if already computed)."""
        frame_rgb = draw_overlay(image, masks, object_ids, labels=labels)
        pad_h, pad_w = self._even[0] - image.shape[0], self._even[1] - image.shape[1]
        if pad_h or pad_w:
            frame_rgb = np.pad(frame_rgb, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(frame_rgb, format="rgb24")
        pts = round((time if time is not None else self.frames / self._fps) * 90000)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        frame.pts, frame.time_base = pts, _TIME_BASE
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

    def __enter__(self) -> OverlayVideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
