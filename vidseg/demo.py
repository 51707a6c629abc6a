"""The demo job: generate a sample clip and run the file job on it with a default prompt.

It writes ``sample.mp4`` (854x480, 25 fps H.264: shapes moving over a textured background) and
then exactly what ``vidseg run sample.mp4 --point ...`` writes, and reports how well each
tracked shape matches the generator's ground truth (IoU).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from vidseg.config import TrackerConfig
from vidseg.errors import CheckpointError, ConfigError
from vidseg.prompt_spec import ScheduledPrompt
from vidseg.sinks.objects_jsonl import read_objects_jsonl
from vidseg.synthetic import moving_shapes_clip, write_clip_video
from vidseg.track_job import JobConfig, JobReport, run_job
from vidseg.tracking.registry import SYNTHETIC_MODEL
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


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`run_demo` did: the job's report and mean IoU per object against the truth."""

    job: JobReport
    sample: Path
    mean_iou: dict[int, float]


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
    job_config = JobConfig(
        source=str(sample),
        out=config.out / "run",
        prompts=prompts,
        tracker=config.tracker,
        cache_dir=config.cache_dir,
        download=config.download,
    )
    try:
        job = run_job(job_config)
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
        job = run_job(replace(job_config, tracker=tracker))
    ious: dict[int, list[float]] = {}
    for record in read_objects_jsonl(job.out / "objects.jsonl"):
        for obj in record.objects:
            truth = clip.mask(record.index, obj.obj_id)
            mask = obj.mask()
            union = np.logical_or(mask, truth).sum()
            ious.setdefault(obj.obj_id, []).append(float(np.logical_and(mask, truth).sum() / union) if union else 1.0)
    summary = DemoSummary(job=job, sample=sample, mean_iou={k: float(np.mean(v)) for k, v in ious.items()})
    log.info("sample clip: %s", sample)
    log.info("outputs: %s (masks.mkv, overlay.mp4, objects.jsonl, manifest.json)", job.out)
    log.info("mean IoU with the ground truth: %s", {k: round(v, 3) for k, v in summary.mean_iou.items()})
    return summary
