"""The file outputs of a tracking run, written together frame by frame.

In ``--out DIR``: ``masks.mkv`` (lossless label video), ``overlay.mp4`` (H.264 preview),
``objects.jsonl`` (one record per frame); optionally DAVIS palette PNGs in another folder.
Writers open at the first frame (when its size is known) and always close, so every file stays
playable after an interruption.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidseg.errors import InputError, SinkError
from vidseg.masks import exclusive_masks, to_label_map
from vidseg.records import FrameRecord
from vidseg.sinks.davis import DavisWriter
from vidseg.sinks.label_video import LabelVideoWriter
from vidseg.sinks.objects_jsonl import ObjectsJsonlWriter
from vidseg.sinks.overlay_video import OverlayVideoWriter
from vidseg.types import Frame, TrackingResult


@dataclass(frozen=True)
class TrackedFrame:
    """A frame and what the tracker found on it: the record that crosses track -> write."""

    frame: Frame
    result: TrackingResult


class FileOutputs:
    """Writes label video, overlay video, JSON lines and (optionally) DAVIS PNGs.

    Args:
        out: output folder (created).
        fps: nominal rate for the videos.
        max_id: largest object id expected (16-bit label video above 255).
        davis: folder for DAVIS PNGs, or None.
        overlay: write ``overlay.mp4``.
        visible_threshold: presence score above which an object counts as visible.
    """

    def __init__(
        self,
        out: str | Path,
        fps: float = 25.0,
        max_id: int = 255,
        davis: str | Path | None = None,
        overlay: bool = True,
        visible_threshold: float = 0.5,
    ) -> None:
        self.out = Path(out)
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(f"cannot create output folder {self.out}: {exc}") from exc
        self._fps = fps
        self._bits = 8 if max_id <= 255 else 16
        self._threshold = visible_threshold
        self._overlay_on = overlay
        self._labels: LabelVideoWriter | None = None
        self._overlay: OverlayVideoWriter | None = None
        self._jsonl = ObjectsJsonlWriter(self.out / "objects.jsonl")
        self._davis = DavisWriter(davis) if davis is not None else None
        if self._davis is not None and self._bits == 16:
            raise SinkError(f"DAVIS PNGs hold ids up to 255; object ids go up to {max_id}")
        self.frames = 0

    def write(self, item: TrackedFrame) -> FrameRecord:
        """Write one frame to every output; returns the frame's record (for further sinks)."""
        frame, result = item.frame, item.result
        if self._labels is None:
            self._labels = LabelVideoWriter(self.out / "masks.mkv", frame.width, frame.height, self._bits, self._fps)
            if self._overlay_on:
                self._overlay = OverlayVideoWriter(self.out / "overlay.mp4", frame.width, frame.height, self._fps)
        if result.object_ids.size and int(result.object_ids.max()) >= (1 << self._bits):
            raise InputError(f"object id {int(result.object_ids.max())} does not fit the {self._bits}-bit label video")
        # Every output shows the same masks: overlaps go to the object with the higher logit.
        masks = exclusive_masks(result.masks, result.logits)
        labels = to_label_map(masks, result.object_ids, dtype=self._labels_dtype())
        self._labels.write(labels, time=frame.time)
        if self._overlay is not None:
            self._overlay.write(frame.image, masks, result.object_ids, time=frame.time, labels=labels)
        record = FrameRecord.build(frame, result, self._threshold, masks=masks)
        self._jsonl.write(record)
        if self._davis is not None:
            self._davis.write(labels, frame.index, frame.name)
        self.frames += 1
        return record

    def _labels_dtype(self) -> type:
        return np.uint8 if self._bits == 8 else np.uint16

    def close(self) -> None:
        """Close every writer (each even if another fails); safe to call twice."""
        errors = []
        for writer in (self._labels, self._overlay, self._jsonl, self._davis):
            if writer is None:
                continue
            try:
                writer.close()
            except Exception as exc:  # keep closing the others
                errors.append(exc)
        if errors:
            raise SinkError(f"closing outputs failed: {errors[0]}") from errors[0]
