"""Overlay previews: the source frames with each object's mask tinted, outlined and labelled (H.264)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from vidseg.formats.encoder import VideoEncoder
from vidseg.results import SemanticMap
from vidseg.sinks.files.drawing import draw_classes, draw_overlay
from vidseg.types import BoolArray, ImageArray, IntArray

_TIME_BASE = Fraction(1, 90000)


class OverlayVideoWriter:
    """Writes overlay frames to an H.264 MP4 at the source's timing.

    H.264 in yuv420p needs even sizes: an odd frame gets one edge row/column repeated.
    """

    def __init__(self, path: str | Path, width: int, height: int, fps: float = 25.0, crf: int = 23) -> None:
        self.path = Path(path)
        self._even = (height + height % 2, width + width % 2)
        # A preview: cheap to encode, so it hides behind the model even on 2 CPU cores.
        # A keyframe (and so a new MP4 fragment, written through to disk) at least every 2 s of
        # frames: after a kill the preview plays up to a couple of seconds before it.
        gop = str(max(1, min(250, round(2 * fps))))
        options = {"crf": str(crf), "preset": "ultrafast", "threads": "1", "g": gop, "keyint_min": gop}
        self._encoder = VideoEncoder(
            self.path, "libx264", self._even[1], self._even[0], "yuv420p", _TIME_BASE, fps, options
        )

    @property
    def frames(self) -> int:
        return self._encoder.frames

    def write(
        self,
        image: ImageArray,
        masks: BoolArray,
        object_ids: IntArray,
        time: float | None = None,
        labels: np.ndarray | None = None,
        semantic: SemanticMap | None = None,
    ) -> None:
        """Draw the masks over ``image`` and append it, shown at ``time`` seconds (``labels``: the
        masks' label map, if already computed; ``semantic``: a class colour layer with a legend
        drawn under the masks)."""
        if semantic is not None:
            image = draw_classes(image, semantic.labels, semantic.classes)
        frame_rgb = draw_overlay(image, masks, object_ids, labels=labels)
        pad_h, pad_w = self._even[0] - image.shape[0], self._even[1] - image.shape[1]
        if pad_h or pad_w:
            frame_rgb = np.pad(frame_rgb, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        self._encoder.encode(frame_rgb, "rgb24", time)

    def close(self) -> None:
        """Flush and close; the file is playable afterwards (safe to call twice)."""
        self._encoder.close()

    def __enter__(self) -> OverlayVideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
