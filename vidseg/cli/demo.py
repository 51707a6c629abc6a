"""The demo job: generate a sample clip and run the tracking job on it with a default prompt.

It writes ``sample.mp4`` (854x480, 25 fps H.264: shapes moving over a textured background),
then exactly what ``vidseg run sample.mp4 --point ... --redis URL`` writes and publishes, and
reports how well each tracked shape matches the generator's ground truth (IoU) and what a Redis
consumer reads back. Without ``--redis`` it starts a private ``redis-server`` on a free loopback
port (skipped with a note where none is installed).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from vidseg.config import TrackerConfig
from vidseg.datasets.moving_shapes import moving_shapes_clip, write_clip_video
from vidseg.devtools.redis_server import LocalRedisServer, redis_server_binary
from vidseg.errors import CheckpointError, ConfigError
from vidseg.formats.objects_jsonl import read_objects_jsonl
from vidseg.models.tracking.registry import SYNTHETIC_MODEL
from vidseg.pipeline.config import SemanticConfig
from vidseg.pipeline.job import JobConfig, JobReport, run_job
from vidseg.prompts.spec import ScheduledPrompt
from vidseg.redact import redact_url
from vidseg.results import Event
from vidseg.sinks.redis.client import connect
from vidseg.sinks.redis.schema import RedisConfig, decode_entry, decode_frame_entry
from vidseg.types import Prompt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoConfig:
    """Options of :func:`run_demo` (see ``vidseg demo --help``).

    ``fallback``: when the tracker's checkpoint cannot be found or downloaded, run the
    synthetic-only model shipped with vidseg instead, or, when none is shipped, random weights
    (with a warning); the demo then works offline.
    """

    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    download: bool = True
    cache_dir: Path | None = None
    frames: int = 48
    objects: int = 1
    out: Path = Path("out/demo")
    fallback: bool = False
    redis: str | None = field(default=None, repr=False)  # publish here; None: a private server, if installed
    local_redis: bool = True
    semantic: bool = False  # the shipped semantic U-Net beside the tracker


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`run_demo` did: the job's report and mean IoU per object against the truth."""

    job: JobReport
    sample: Path
    mean_iou: dict[int, float]
    redis: RedisReadBack | None = None


@dataclass(frozen=True)
class RedisReadBack:
    """What a consumer of the demo's streams reads back."""

    frames: int  # entries in the frames stream
    objects_on_first: int  # objects in the first frame entry
    events: tuple[str, ...]  # the event kinds, in order
    last_state: str  # the last status entry's state


def run_demo(config: DemoConfig) -> DemoSummary:
    """Write ``sample.mp4`` to ``config.out``, click each shape once on frame 0, and track them
    with the file job into ``config.out / "run"``."""
    if config.frames < 1 or config.objects < 1:
        raise ConfigError(f"need --frames >= 1 and --objects >= 1; found {config.frames} and {config.objects}")
    config.out.mkdir(parents=True, exist_ok=True)
    clip = moving_shapes_clip(num_frames=config.frames, height=480, width=854, num_objects=config.objects, seed=0)
    sample = write_clip_video(clip, config.out / "sample.mp4", fps=25)
    prompts = tuple(
        ScheduledPrompt(Prompt(obj_id, points=(clip.center(0, obj_id),), labels=(1,)))
        for obj_id in range(1, config.objects + 1)
    )
    with contextlib.ExitStack() as stack:
        url = config.redis or _private_redis(config, stack)
        redis_config = RedisConfig(url, source_id="demo") if url is not None else None
        job = _run_with_fallback(config, JobConfig(
            source=str(sample),
            out=config.out / "run",
            prompts=prompts,
            tracker=config.tracker,
            cache_dir=config.cache_dir,
            download=config.download,
            redis=redis_config,
            overwrite=True,  # the demo's own folder: each demo replaces the last
            semantic=SemanticConfig("vidseg_unet_synthetic") if config.semantic else None,
            overlay_classes=config.semantic,
        ))  # fmt: skip
        read_back = _read_back(redis_config) if redis_config is not None else None
    ious: dict[int, list[float]] = {}
    classes: dict[int, list[str]] = {}
    assert job.out is not None
    for record in read_objects_jsonl(job.out / "objects.jsonl"):
        for obj in record.objects:
            if obj.semantic_class is not None:
                classes.setdefault(obj.obj_id, []).append(obj.semantic_class)
            truth = clip.mask(record.index, obj.obj_id)
            mask = obj.mask()
            union = np.logical_or(mask, truth).sum()
            ious.setdefault(obj.obj_id, []).append(float(np.logical_and(mask, truth).sum() / union) if union else 1.0)
    summary = DemoSummary(job, sample, {k: float(np.mean(v)) for k, v in ious.items()}, read_back)
    log.info("sample clip: %s", sample)
    log.info("outputs: %s (masks.mkv, overlay.mp4, objects.jsonl, manifest.json)", job.out)
    log.info("mean IoU with the ground truth: %s", {k: round(v, 3) for k, v in summary.mean_iou.items()})
    if classes:
        log.info("semantic class of each object (most frames): %s; label maps in semantic.mkv",
                 {k: max(set(v), key=v.count) for k, v in classes.items()})  # fmt: skip
    if read_back is not None and redis_config is not None:
        log.info("Redis %s: a consumer read %d frame entries (%d object(s) on the first), events %s, last status %r",
                 redact_url(redis_config.url), read_back.frames, read_back.objects_on_first,
                 list(read_back.events), read_back.last_state)  # fmt: skip
    return summary


def _private_redis(config: DemoConfig, stack: contextlib.ExitStack) -> str | None:
    """A private redis-server for the demo, or None (with a note) where none is installed."""
    if not config.local_redis:
        return None
    if redis_server_binary() is None:
        log.info("redis-server is not installed: the demo writes files only (apt-get install redis-server "
                 "to see it publish too)")  # fmt: skip
        return None
    server = stack.enter_context(LocalRedisServer())
    log.debug("started a private redis-server on 127.0.0.1:%d for the demo", server.port)
    return server.url


def _run_with_fallback(config: DemoConfig, job_config: JobConfig) -> JobReport:
    try:
        return run_job(job_config)
    except CheckpointError as exc:  # raised before anything is written
        if not config.fallback:
            raise
        reason = str(exc).split(". ")[0]
        bundled = SYNTHETIC_MODEL.bundled
        if bundled is not None and bundled.is_file():
            log.warning("%s. Running the demo with %s instead: %s (%s)", reason, SYNTHETIC_MODEL.name,
                        SYNTHETIC_MODEL.description, bundled)  # fmt: skip
            tracker = replace(config.tracker, model=SYNTHETIC_MODEL.name, checkpoint=None, image_size=None)
        else:
            log.warning("%s, and no synthetic checkpoint is shipped with this copy of vidseg. Running the demo "
                        "with RANDOM weights: the pipeline runs end to end, but the masks are meaningless. Give "
                        "--checkpoint PATH to track for real.", reason)  # fmt: skip
            tracker = replace(config.tracker, checkpoint=None, random_weights=True)
        return run_job(replace(job_config, tracker=tracker))


def _read_back(config: RedisConfig) -> RedisReadBack:
    """Read the demo's streams as a consumer would."""
    client = connect(config.url)
    try:
        frames: Any = client.xrange(config.frames_key)
        events: Any = client.xrange(config.key("events"))
        status: Any = client.xrevrange(config.key("status"), count=1)
    finally:
        client.close()
    first = decode_entry(frames[0][1]) if frames else None
    return RedisReadBack(
        frames=len(frames),
        objects_on_first=len(first.objects) if first is not None else 0,
        events=tuple(Event.from_fields(fields).kind.value for _, fields in events),
        last_state=bytes(status[0][1].get(b"state", b"")).decode() if status else "",
    )


@dataclass(frozen=True)
class LiveDemoSummary:
    """What :func:`run_live_demo` saw."""

    job: JobReport
    entries: int  # frame entries read back from Redis
    latency_ms: tuple[float, float, float]  # capture-to-publish p50, p95, max
    dropped: int  # frames the newest-wins policy dropped
    prompts_applied: int


def run_live_demo(tracker: TrackerConfig, seconds: float = 20.0, out: Path = Path("out/demo-live"),
                  cache_dir: Path | None = None, download: bool = True) -> LiveDemoSummary:  # fmt: skip
    """Start the RTSP test feed and a private redis-server, run the live job on the feed for
    ``seconds`` with a click on the first frame, send a box prompt through Redis mid-run, and
    report the capture-to-publish latency, the drops and the entries a consumer reads back.

    Raises:
        ConfigError: redis-server or GStreamer's RTSP server is not installed (the message says
            which packages to install).
    """
    from vidseg.devtools.rtsp_feed import RtspTestFeed
    from vidseg.sinks.redis.schema import encode_prompt
    from vidseg.sources import LiveOptions

    if seconds <= 0:
        raise ConfigError(f"--seconds must be > 0; found {seconds}")
    with LocalRedisServer() as server, RtspTestFeed() as feed:
        log.info("RTSP test feed at %s, private redis-server at 127.0.0.1:%d", feed.url, server.port)
        redis_config = RedisConfig(server.url, source_id="live-demo")
        config = JobConfig(
            source=feed.url, out=out, overwrite=True, duration=seconds, tracker=tracker, cache_dir=cache_dir,
            download=download, prompts=(ScheduledPrompt(Prompt(1, points=((160.0, 120.0),), labels=(1,))),),
            redis=redis_config, live=LiveOptions(), segment_seconds=10.0,
        )  # fmt: skip
        reports: list[JobReport] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                reports.append(run_job(config))
            except BaseException as exc:  # re-raised in the caller's thread
                errors.append(exc)

        thread = threading.Thread(target=run, name="vidseg-live-demo")
        thread.start()
        client = connect(server.url)
        try:
            thread.join(min(seconds / 2, 10.0))
            if thread.is_alive():
                log.info("sending a box prompt for object 2 through Redis (as `vidseg prompt live-demo --box ...`)")
                fields: Any = encode_prompt(Prompt(2, box=(20.0, 20.0, 140.0, 120.0)), request_id="demo-box")
                client.xadd(redis_config.key("prompts"), fields)
            thread.join()
            if errors:
                raise errors[0]
            frames: Any = client.xrange(redis_config.frames_key)
        finally:
            client.close()
    latencies, dropped = [], 0
    for entry_id, fields in frames:
        entry = decode_frame_entry(fields)
        dropped += entry.context.dropped
        if entry.record.wallclock is not None:
            latencies.append((int(entry_id.decode().split("-")[0]) / 1000 - entry.record.wallclock) * 1000)
    latencies.sort()
    stats = (
        (float(np.median(latencies)), latencies[int(0.95 * (len(latencies) - 1))], latencies[-1]) if latencies
        else (float("nan"),) * 3
    )  # fmt: skip
    manifest = json.loads((out / "manifest.json").read_text())
    summary = LiveDemoSummary(reports[0], len(frames), stats, dropped, int(manifest["redis"]["prompts_applied"]))
    log.info("live demo: %d frames processed, %d entries read back from Redis, %d frames dropped (newest wins), "
             "capture-to-publish latency p50 %.0f ms, p95 %.0f ms, max %.0f ms; Redis prompts applied: %d; "
             "outputs in %s", summary.job.frames_processed, summary.entries, summary.dropped, *summary.latency_ms,
             summary.prompts_applied, out)  # fmt: skip
    return summary
