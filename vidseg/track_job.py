"""The file job: track prompted objects through a video (or image folder) and write the outputs.

decode (PyAV) -> track (the only thread touching the model) -> write (label video, overlay,
JSON lines, DAVIS PNGs), joined by bounded queues; a manifest records what was done.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vidseg import __version__
from vidseg.allocator import keep_freed_memory
from vidseg.config import TrackerConfig
from vidseg.errors import PromptError, SourceError, VidsegError
from vidseg.progress import Progress
from vidseg.prompt_spec import ScheduledPrompt
from vidseg.redis_bus import RedisBus
from vidseg.runner import StagedRun
from vidseg.sinks.outputs import FileOutputs, TrackedFrame
from vidseg.sinks.redis_stream import RedisConfig
from vidseg.sources import SourceInfo, open_source
from vidseg.tracking import Sam2Tracker, build_tracker
from vidseg.types import Frame

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobConfig:
    """Everything ``vidseg run`` needs (see ``vidseg run --help``)."""

    source: str
    out: Path
    prompts: tuple[ScheduledPrompt, ...]
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    every: int = 1
    start: float | None = None
    end: float | None = None
    image_fps: float = 24.0
    davis: Path | None = None
    overlay: bool = True
    visible_threshold: float = 0.5
    queue_size: int = 4
    cache_dir: Path | None = None
    download: bool = True
    redis: RedisConfig | None = None


@dataclass(frozen=True)
class JobReport:
    """How a run ended, and what it wrote."""

    status: str  # "completed", "interrupted" (stop / Ctrl-C), "aborted" (second Ctrl-C) or "failed"
    frames_read: int
    frames_processed: int
    frames_skipped: int
    seconds: float  # the whole job, model loading included
    run_seconds: float  # from the first frame read to the last frame written
    out: Path
    error: str | None = None


class _PromptFeeder:
    """Hands each scheduled prompt to the tracker on the first frame it is due."""

    def __init__(self, prompts: tuple[ScheduledPrompt, ...], origin: float) -> None:
        self._waiting = list(prompts)
        self._origin = origin

    def waiting(self) -> list[ScheduledPrompt]:
        """Prompts not applied yet."""
        return list(self._waiting)

    def feed(self, tracker: Sam2Tracker, frame: Frame) -> None:
        due = [p for p in self._waiting if p.due(frame, self._origin)]
        for scheduled in due:
            tracker.add(scheduled.prompt)
            self._waiting.remove(scheduled)
            log.info("frame %d: prompt for object %d (%s)", frame.index, scheduled.prompt.obj_id, scheduled.prompt.kind)


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _expected_frames(info: SourceInfo, config: JobConfig) -> int | None:
    """Frames the job will process, from the container's figures (None when unknown)."""
    if info.frames is None:
        return None
    frames = info.frames
    if info.fps and (config.start or config.end is not None):
        first = round((config.start or 0.0) * info.fps)
        last = min(frames, round(config.end * info.fps) + 1) if config.end is not None else frames
        frames = max(0, last - first)
    return -(-frames // config.every)


def run_job(
    config: JobConfig,
    stop: threading.Event | None = None,
    show_progress: bool = True,
    abort: threading.Event | None = None,
) -> JobReport:
    """Run the file job; see the module docstring.

    Args:
        config: what to read, how to track, where to write.
        stop: set it (e.g. from a signal handler) to stop reading; frames in flight finish and
            every output is closed.
        abort: set it to stop at once (frames in flight are dropped); outputs are still closed.
        show_progress: report frames, fps and ETA while running.

    Raises:
        VidsegError: bad source, prompts, checkpoint or outputs (before anything is written), or
            a stage failure (:class:`~vidseg.errors.PipelineError`, after the outputs are closed
            and the manifest is written).
    """
    started = time.time()
    keep_freed_memory()  # the model runs in a worker thread: keep its memory for the next frame
    source = open_source(config.source, every=config.every, start=config.start, end=config.end, fps=config.image_fps)
    try:
        remote = config.redis is not None and config.redis.accept_prompts
        if not config.prompts and not remote:
            raise PromptError("no prompts given: add at least one --point, --box, --mask or --prompts FILE")
        top = 255 if config.davis is not None else 65535
        for scheduled in config.prompts:
            scheduled.prompt.check_inside(source.info.height, source.info.width)
            if not 1 <= scheduled.prompt.obj_id <= top:
                why = " (DAVIS PNGs hold 8-bit ids; drop --davis for more)" if config.davis is not None else ""
                raise PromptError(
                    f"object id {scheduled.prompt.obj_id} is out of range: ids are 1..{top}{why}; 0 is the background"
                )
        tracker = build_tracker(**asdict(config.tracker), cache_dir=config.cache_dir, download=config.download)
        max_id = max((p.prompt.obj_id for p in config.prompts), default=1)
        # Redis first: an unreachable server stops the run before any output file exists.
        bus = RedisBus.open(
            config.redis, lambda: source.stats.skipped_corrupt, id_limit=top if max_id > 255 else min(top, 255)
        )
        try:
            outputs = FileOutputs(
                config.out,
                fps=source.info.fps or 25.0,
                max_id=max_id,
                davis=config.davis,
                overlay=config.overlay,
                visible_threshold=config.visible_threshold,
            )
        except BaseException as exc:
            if bus is not None:
                bus.close(exc)
            raise
    except BaseException:
        source.close()
        raise

    feeder = _PromptFeeder(config.prompts, source.info.start_time)
    progress = Progress(_expected_frames(source.info, config)) if show_progress else None
    stop_event = stop if stop is not None else threading.Event()

    def track(frame: Frame) -> TrackedFrame:
        feeder.feed(tracker, frame)
        if bus is not None:
            bus.feed(tracker, frame)
        return TrackedFrame(frame, tracker.step(frame))

    def write(item: TrackedFrame) -> None:
        record = outputs.write(item)
        if bus is not None:
            bus.publish(record, item.frame, item.result.model)
        if progress is not None:
            progress.update()

    run = StagedRun(
        "decode",
        source,
        [("track", track), ("write", write)],
        config.queue_size,
        stop_event,
        background=("decode", "write"),
        abort_event=abort,
    )
    error: BaseException | None = None
    run_started = time.perf_counter()
    if bus is not None:
        bus.started(lambda: outputs.frames / max(1e-9, time.perf_counter() - run_started))
    try:
        run.run()
    except BaseException as exc:  # a stage failure, or a second Ctrl-C (KeyboardInterrupt)
        error = exc
    run_seconds = time.perf_counter() - run_started
    if not run.stuck:  # never close a container a live thread still uses
        try:
            outputs.close()
        except VidsegError as exc:
            error = error or exc
        finally:
            source.close()
            if bus is not None:
                bus.close(error)
    if progress is not None:
        progress.finish()
    if error is None and outputs.frames == 0 and not stop_event.is_set():
        error = SourceError(
            f"no frame was decoded from {config.source} between --start {config.start} and --end {config.end} "
            f"(the source lasts {source.info.duration} s); check the times, or whether the file is damaged"
        )
    if isinstance(error, KeyboardInterrupt) or (abort is not None and abort.is_set()):
        status = "aborted"
    elif error is not None:
        status = "failed"
    else:
        status = "interrupted" if stop_event.is_set() else "completed"
    report = JobReport(
        status=status,
        frames_read=source.stats.decoded,
        frames_processed=outputs.frames,
        frames_skipped=source.stats.skipped_corrupt,
        seconds=time.time() - started,
        run_seconds=run_seconds,
        out=config.out,
        error=str(error) if error else None,
    )
    unapplied = feeder.waiting()
    expected = source.info.frames
    missing = None  # frames the container declares but the decoder never produced (whole-file runs only)
    if status == "completed" and expected and config.end is None and not config.start:
        missing = max(0, expected - report.frames_read)
        if missing:
            log.warning("%s: decoded %d of the %d frames the container declares; the file is damaged or cut short",
                        config.source, report.frames_read, expected)  # fmt: skip
    manifest = {
        "vidseg_version": __version__,
        "status": status,
        "error": report.error,
        "started": started,
        "seconds": report.seconds,
        "run_seconds": report.run_seconds,
        "source": _jsonable(source.info),
        "model": _jsonable(tracker.info),
        "prompts": [p.to_json() for p in config.prompts],
        "prompts_not_applied": [p.to_json() for p in unapplied],
        # The Redis URL may hold credentials: only its redacted form (under "redis") is written.
        "config": _jsonable({k: v for k, v in asdict(config).items() if k not in ("prompts", "redis")}),
        "frames": {
            "read": report.frames_read,
            "processed": report.frames_processed,
            "corrupt_packets_skipped": report.frames_skipped,
            "missing": missing,
        },
        "source_errors": source.stats.errors,
        "redis": bus.summary() if bus is not None else None,
        "timings": {name: {"busy_seconds": t.busy, "items": t.items} for name, t in run.timings.items()},
        "outputs": sorted(p.name for p in config.out.iterdir()),
    }
    (config.out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    if unapplied:
        log.warning("%d prompt(s) were never applied (scheduled after the last frame): %s",
                    len(unapplied), [p.to_json() for p in unapplied])  # fmt: skip
    if tracker.info.random_weights:
        log.warning("the model ran with random weights: its masks are meaningless (manifest.json says so)")
    if report.frames_skipped:
        log.warning("%d corrupt packet(s) were skipped; see manifest.json", report.frames_skipped)
    if error is not None:
        raise error
    return report
