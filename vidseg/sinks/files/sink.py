"""The file outputs of a run, written together frame by frame.

In ``--out DIR``: ``masks.mkv`` (lossless label video), ``overlay.mp4`` (H.264 preview),
``objects.jsonl`` (one record per frame), ``semantic.mkv`` (the semantic model's class ids, a
lossless label video, when one runs); optionally DAVIS palette PNGs in another folder.
Video writers open at the first frame (when its size is known) and always close, so every file
stays playable after an interruption. The run's ``manifest.json`` is written beside them
(:mod:`vidseg.sinks.files.manifest`).

With ``segment_seconds`` (live runs: an endless stream never makes one endless file) the three
files go to ``DIR/segment-00000/``, ``DIR/segment-00001/`` ...: a segment is closed (playable,
complete) once it spans ``segment_seconds`` of the frames' own times, or when the frame size
changes (a feed that reconnected at another resolution), and the oldest closed segments beyond
``keep_segments`` are removed. :meth:`FileSink.report` lists them for the manifest.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidseg.errors import ConfigError, InputError, SinkError
from vidseg.formats.davis import DavisWriter
from vidseg.formats.label_video import LabelVideoWriter
from vidseg.formats.objects_jsonl import ObjectsJsonlWriter
from vidseg.masks import to_label_map
from vidseg.results import FrameResult
from vidseg.run_status import JobStatus
from vidseg.sinks.base import RunContext, SinkReport
from vidseg.sinks.files.overlay_video import OverlayVideoWriter


@dataclass
class Segment:
    """One set of output files and what it holds."""

    folder: Path
    frames: int = 0
    first_time: float | None = None
    last_time: float | None = None
    closed: bool = False

    def to_json(self, out: Path) -> dict[str, object]:
        return {"folder": str(self.folder.relative_to(out)) if self.folder != out else ".", "frames": self.frames,
                "first_time": self.first_time, "last_time": self.last_time, "closed": self.closed}  # fmt: skip


class _Writers:
    """The label video, overlay and JSON lines of one segment (videos opened at the first frame)."""

    def __init__(self, folder: Path, bits: int, fps: float, overlay: bool, overlay_classes: bool = False) -> None:
        self.folder, self._bits, self._fps, self._overlay_on = folder, bits, fps, overlay
        self._overlay_classes = overlay_classes
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(f"cannot create output folder {folder}: {exc}") from exc
        self.jsonl = ObjectsJsonlWriter(folder / "objects.jsonl")
        self.labels: LabelVideoWriter | None = None
        self.overlay: OverlayVideoWriter | None = None
        self.semantic: LabelVideoWriter | None = None
        self.size: tuple[int, int] | None = None

    def write(self, result: FrameResult) -> np.ndarray:
        frame, ids = result.frame, result.tracking.object_ids
        if self.labels is None:
            self.size = (frame.height, frame.width)
            self.labels = LabelVideoWriter(self.folder / "masks.mkv", frame.width, frame.height, self._bits, self._fps)
            if self._overlay_on:
                self.overlay = OverlayVideoWriter(self.folder / "overlay.mp4", frame.width, frame.height, self._fps)
        if ids.size and int(ids.max()) >= (1 << self._bits):
            raise InputError(f"object id {int(ids.max())} does not fit the {self._bits}-bit label video")
        labels = to_label_map(result.masks, ids, dtype=np.uint8 if self._bits == 8 else np.uint16)
        self.labels.write(labels, time=frame.time)
        if self.overlay is not None:
            self.overlay.write(frame.image, result.masks, ids, time=frame.time, labels=labels,
                               semantic=result.semantic if self._overlay_classes else None)  # fmt: skip
        if result.semantic is not None:
            if self.semantic is None:
                self.semantic = LabelVideoWriter(self.folder / "semantic.mkv", frame.width, frame.height, 8, self._fps)
            self.semantic.write(result.semantic.labels, time=frame.time)
        self.jsonl.write(result.record)
        return labels

    def close(self) -> list[Exception]:
        errors = []
        for writer in (self.labels, self.overlay, self.semantic, self.jsonl):
            if writer is None:
                continue
            try:
                writer.close()
            except Exception as exc:  # keep closing the others
                errors.append(exc)
        return errors


class FileSink:
    """Writes label video, overlay video, JSON lines and (optionally) DAVIS PNGs.

    Args:
        out: output folder (created when the run opens).
        davis: folder for DAVIS PNGs, or None.
        overlay: write ``overlay.mp4``.
        overlay_classes: draw the semantic map in ``overlay.mp4`` (a colour per class, under the
            objects, with a legend), when a semantic model runs.
        overwrite: replace an earlier run's outputs in ``out`` (else the run refuses to start).
        segment_seconds: cut the outputs into segments of this many seconds (None: one set).
        keep_segments: keep at most this many closed segments (None: all).
    """

    name = "files"
    OUTPUTS = ("masks.mkv", "overlay.mp4", "semantic.mkv", "objects.jsonl", "manifest.json")

    def __init__(
        self, out: str | Path, davis: str | Path | None = None, overlay: bool = True, overwrite: bool = False,
        segment_seconds: float | None = None, keep_segments: int | None = None, overlay_classes: bool = False,
    ) -> None:  # fmt: skip
        if segment_seconds is not None and not segment_seconds > 0:
            raise ConfigError(f"--segment-seconds must be > 0; found {segment_seconds!r}")
        if keep_segments is not None and keep_segments < 1:
            raise ConfigError(f"--keep-segments must be >= 1; found {keep_segments!r}")
        self.out = Path(out)
        self._overwrite = overwrite
        self._davis_dir = Path(davis) if davis is not None else None
        self._overlay_on = overlay
        self._overlay_classes = overlay_classes
        self._segment_seconds = segment_seconds
        self._keep = keep_segments
        self._fps = 25.0
        self._bits = 8
        self._writers: _Writers | None = None
        self._davis: DavisWriter | None = None
        self.segments: list[Segment] = []
        self.removed_segments = 0
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
        self._start_segment()
        if self._davis_dir is not None:
            try:
                self._davis = DavisWriter(self._davis_dir)
            except BaseException:
                self.close(JobStatus.FAILED)
                raise

    def _start_segment(self) -> None:
        folder = self.out if self._segment_seconds is None else self.out / f"segment-{len(self.segments) + self.removed_segments:05d}"
        self._writers = _Writers(folder, self._bits, self._fps, self._overlay_on, self._overlay_classes)
        self.segments.append(Segment(folder))

    def _clear_earlier_run(self) -> None:
        """An earlier run's outputs are never left beside this run's (a stale overlay listed in a
        new manifest): they are removed with ``overwrite``, else the run refuses to start."""
        earlier = [self.out / name for name in self.OUTPUTS if (self.out / name).exists()]
        earlier += sorted(self.out.glob("segment-*")) if self.out.is_dir() else []
        davis = [] if self._davis_dir is None or not self._davis_dir.is_dir() else sorted(self._davis_dir.glob("*.png"))
        if not earlier and not davis:
            return
        if not self._overwrite:
            names = [p.name for p in earlier[:6]] + ([f"{len(davis)} DAVIS PNGs in {self._davis_dir}"] if davis else [])
            raise SinkError(
                f"{self.out} already holds a run's outputs ({', '.join(names)}); give --overwrite to replace them, "
                "or choose another --out"
            )
        for path in [*earlier, *davis]:
            try:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
            except OSError as exc:
                raise SinkError(f"cannot remove the earlier run's {path}: {exc.strerror or exc}") from None

    def _frame_time(self, result: FrameResult) -> float | None:
        frame = result.frame
        return frame.wallclock if frame.wallclock is not None else frame.time

    def write(self, result: FrameResult) -> None:
        assert self._writers is not None, "open() the sink first"
        frame = result.frame
        segment = self.segments[-1]
        now = self._frame_time(result)
        if segment.frames and (
            (self._writers.size is not None and self._writers.size != (frame.height, frame.width))
            or (self._segment_seconds is not None and now is not None and segment.first_time is not None
                and now - segment.first_time >= self._segment_seconds)
        ):  # fmt: skip
            self._rotate()
            segment = self.segments[-1]
        labels = self._writers.write(result)
        if self._davis is not None:
            self._davis.write(labels, frame.index, frame.name)
        segment.frames += 1
        segment.first_time = now if segment.first_time is None else segment.first_time
        segment.last_time = now
        self.frames += 1

    def _rotate(self) -> None:
        """Close the current segment (its files complete and playable) and start the next."""
        assert self._writers is not None
        if self._segment_seconds is None:
            raise InputError(
                f"the frame size changed mid-run ({self._writers.size[1] if self._writers.size else '?'} wide before); "
                "one label video holds one size: give --segment-seconds to cut the outputs into segments"
            )
        errors = self._writers.close()
        if errors:
            raise SinkError(f"closing segment {self._writers.folder} failed: {errors[0]}") from errors[0]
        self.segments[-1].closed = True
        self._start_segment()
        self._prune()

    def _prune(self) -> None:
        """Remove the oldest closed segments beyond ``keep_segments``."""
        closed = [s for s in self.segments if s.closed]
        while self._keep is not None and len(closed) > self._keep:
            oldest = closed.pop(0)
            shutil.rmtree(oldest.folder, ignore_errors=True)
            self.segments.remove(oldest)
            self.removed_segments += 1

    def close(self, status: JobStatus, error: str | None = None) -> None:
        """Close every writer (each even if another fails); safe to call twice."""
        errors = self._writers.close() if self._writers is not None else []
        if self.segments and self._writers is not None:
            self.segments[-1].closed = True
            if self._segment_seconds is not None:
                self._prune()
        self._writers = None
        if self._davis is not None:
            try:
                self._davis.close()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise SinkError(f"closing outputs failed: {errors[0]}") from errors[0]

    def report(self) -> SinkReport:
        files = sorted(p.name for p in self.out.iterdir()) if self.out.is_dir() else []
        details: dict[str, object] = {"out": str(self.out), "files": files}
        if self._segment_seconds is not None:
            details["segments"] = [s.to_json(self.out) for s in self.segments]
            details["segments_removed"] = self.removed_segments
        return SinkReport(self.name, self.frames, None, details)
