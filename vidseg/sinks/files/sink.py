"""The file outputs of a run, written together frame by frame.

In ``--out DIR``: ``masks.mkv`` (lossless label video), ``overlay.mp4`` (H.264 preview),
``objects.jsonl`` (one record per frame); optionally DAVIS palette PNGs in another folder.
Video writers open at the first frame (when its size is known) and always close, so every file
stays playable after an interruption. The run's ``manifest.json`` is written beside them
(:mod:`vidseg.sinks.files.manifest`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vidseg.errors import InputError, SinkError
from vidseg.masks import to_label_map
from vidseg.pipeline.status import JobStatus
from vidseg.results import FrameResult
from vidseg.sinks.base import RunContext, SinkReport
from vidseg.sinks.files.davis import DavisWriter
from vidseg.sinks.files.label_video import LabelVideoWriter
from vidseg.sinks.files.objects_jsonl import ObjectsJsonlWriter
from vidseg.sinks.files.overlay_video import OverlayVideoWriter


class FileSink:
    """Writes label video, overlay video, JSON lines and (optionally) DAVIS PNGs.

    Args:
        out: output folder (created when the run opens).
        davis: folder for DAVIS PNGs, or None.
        overlay: write ``overlay.mp4``.
    """

    name = "files"
    OUTPUTS = ("masks.mkv", "overlay.mp4", "objects.jsonl", "manifest.json")

    def __init__(self, out: str | Path, davis: str | Path | None = None, overlay: bool = True,
                 overwrite: bool = False) -> None:  # fmt: skip
        self.out = Path(out)
        self._overwrite = overwrite
        self._davis_dir = Path(davis) if davis is not None else None
        self._overlay_on = overlay
        self._fps = 25.0
        self._bits = 8
        self._labels: LabelVideoWriter | None = None
        self._overlay: OverlayVideoWriter | None = None
        self._jsonl: ObjectsJsonlWriter | None = None
        self._davis: DavisWriter | None = None
        self.frames = 0

    def open(self, context: RunContext) -> None:
        self._bits = 8 if context.id_limit <= 255 else 16
        if self._davis_dir is not None and self._bits == 16:
            raise SinkError(
                f"DAVIS PNGs hold ids up to 255; object ids go up to {context.id_limit}: drop --davis, or keep "
                "object ids at most 255"
            )
        self._clear_earlier_run()
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(f"cannot create output folder {self.out}: {exc}") from exc
        self._fps = context.fps
        self._jsonl = ObjectsJsonlWriter(self.out / "objects.jsonl")
        if self._davis_dir is not None:
            try:
                self._davis = DavisWriter(self._davis_dir)
            except BaseException:
                self._jsonl.close()
                raise

    def _clear_earlier_run(self) -> None:
        """An earlier run's outputs are never left beside this run's (a stale overlay listed in a
        new manifest): they are removed with ``overwrite``, else the run refuses to start."""
        earlier = [self.out / name for name in self.OUTPUTS if (self.out / name).exists()]
        davis = [] if self._davis_dir is None or not self._davis_dir.is_dir() else sorted(self._davis_dir.glob("*.png"))
        if not earlier and not davis:
            return
        if not self._overwrite:
            names = [p.name for p in earlier] + ([f"{len(davis)} DAVIS PNGs in {self._davis_dir}"] if davis else [])
            raise SinkError(
                f"{self.out} already holds a run's outputs ({', '.join(names)}); give --overwrite to replace them, "
                "or choose another --out"
            )
        for path in [*earlier, *davis]:
            try:
                path.unlink()
            except OSError as exc:
                raise SinkError(f"cannot remove the earlier run's {path}: {exc.strerror or exc}") from None

    def write(self, result: FrameResult) -> None:
        assert self._jsonl is not None, "open() the sink first"
        frame, ids = result.frame, result.tracking.object_ids
        if self._labels is None:
            self._labels = LabelVideoWriter(self.out / "masks.mkv", frame.width, frame.height, self._bits, self._fps)
            if self._overlay_on:
                self._overlay = OverlayVideoWriter(self.out / "overlay.mp4", frame.width, frame.height, self._fps)
        if ids.size and int(ids.max()) >= (1 << self._bits):
            raise InputError(f"object id {int(ids.max())} does not fit the {self._bits}-bit label video")
        labels = to_label_map(result.masks, ids, dtype=np.uint8 if self._bits == 8 else np.uint16)
        self._labels.write(labels, time=frame.time)
        if self._overlay is not None:
            self._overlay.write(frame.image, result.masks, ids, time=frame.time, labels=labels)
        self._jsonl.write(result.record)
        if self._davis is not None:
            self._davis.write(labels, frame.index, frame.name)
        self.frames += 1

    def close(self, status: JobStatus, error: str | None = None) -> None:
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

    def report(self) -> SinkReport:
        files = sorted(p.name for p in self.out.iterdir()) if self.out.is_dir() else []
        return SinkReport(self.name, self.frames, None, {"out": str(self.out), "files": files})
