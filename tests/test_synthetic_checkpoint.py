"""The shipped synthetic checkpoint tracks for real: `vidseg run` on generated clips, and a prompt
sent through Redis mid-run, checked against the generator's ground truth."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import redis

from vidseg.cli import main
from vidseg.config import TrackerConfig
from vidseg.datasets.moving_shapes import SyntheticClip, write_clip_video
from vidseg.datasets.synthetic_videos import VideoSpec, generate_video
from vidseg.formats.label_video import read_label_video
from vidseg.formats.objects_jsonl import read_objects_jsonl
from vidseg.models.tracking.registry import SYNTHETIC_MODEL
from vidseg.pipeline.job import JobConfig, JobReport, run_job
from vidseg.results import Event, EventKind
from vidseg.sinks.redis.schema import RedisConfig, encode_prompt
from vidseg.types import Prompt

pytestmark = pytest.mark.skipif(
    SYNTHETIC_MODEL.bundled is None or not SYNTHETIC_MODEL.bundled.is_file(),
    reason="the synthetic checkpoint is not installed (pipelines/train_synthetic.py --install writes it)",
)


@pytest.mark.parametrize("seed", [0, 2])
def test_run_follows_an_object_that_leaves_the_view_and_comes_back(tmp_path: Path, seed: int) -> None:
    spec = VideoSpec.at_difficulty(
        0.2, num_frames=40, height=256, width=256, min_objects=1, max_objects=1, leave_prob=1.0
    )
    video = generate_video(seed, spec)
    visibility = video.visibility(1)
    assert not visibility.all() and visibility[-1], "the clip must show the object leave and come back"
    clip = SyntheticClip(frames=list(video.frames), labels=video.labels.astype(np.uint16), fps=25.0)
    source = write_clip_video(clip, tmp_path / "clip.mp4", fps=25)
    x, y = video.click(0, 1)
    out = tmp_path / "out"
    assert main(["run", str(source), "--out", str(out), "--model", "vidseg_synthetic_tiny", "--point",
                 f"{x},{y}", "--device", "cpu"]) == 0  # fmt: skip

    records = list(read_objects_jsonl(out / "objects.jsonl"))
    labels = [frame.labels for frame in read_label_video(out / "masks.mkv")]
    assert len(records) == len(labels) == video.num_frames
    area0 = int(video.mask(0, 1).sum())
    ious = []
    for t, (record, label) in enumerate(zip(records, labels, strict=True)):
        truth = video.mask(t, 1)
        (obj,) = record.objects
        if truth.sum() >= 0.25 * area0:  # well inside the view (not a sliver at the border)
            union = np.logical_or(label == 1, truth).sum()
            ious.append(np.logical_and(label == 1, truth).sum() / union)
            assert ious[-1] >= 0.7, f"frame {t}: IoU {ious[-1]:.3f}"
            assert obj.visible, f"frame {t}: the object is in view but reported not visible"
        elif not truth.any():
            assert not obj.visible and not (label == 1).any(), f"frame {t}: out of view but reported visible"
    assert len(ious) >= 10


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.logical_and(a, b).sum() / max(1, np.logical_or(a, b).sum()))


def test_an_object_prompted_through_redis_mid_run_is_segmented_for_real(tmp_path: Path, redis_server) -> None:
    """The Redis prompt path with real shapes: a run that starts without prompts, then an object
    clicked through Redis while it goes, tracked from the frame the prompt was applied on and
    matching the ground truth there and after."""
    spec = VideoSpec.at_difficulty(0.2, num_frames=120, height=256, width=256, min_objects=1, max_objects=1,
                                   leave_prob=0.0, max_speed=0.004)  # fmt: skip
    video = generate_video(3, spec)
    assert video.mask(0, 1).sum() > 800 and video.visibility(1).all(), "the object stays in view"
    clip = SyntheticClip(frames=list(video.frames), labels=video.labels.astype(np.uint16), fps=25.0)
    source = write_clip_video(clip, tmp_path / "clip.mp4", fps=25)
    config = JobConfig(
        source=str(source),
        out=tmp_path / "out",
        prompts=(),
        tracker=TrackerConfig(model="vidseg_synthetic_tiny", device="cpu"),
        redis=RedisConfig(redis_server.url, source_id="cam"),
    )
    reports: list[JobReport] = []
    thread = threading.Thread(target=lambda: reports.append(run_job(config, show_progress=False)))
    thread.start()
    client = redis.Redis.from_url(redis_server.url)
    deadline = time.monotonic() + 120
    while not (client.exists("vidseg:cam:frames") and client.xlen("vidseg:cam:frames") >= 3):
        assert time.monotonic() < deadline, "the run published nothing"
        time.sleep(0.01)
    # The object moves at most ~1 px per frame: a click deep inside it now is still on it a few
    # frames later, when the pipeline applies it.
    x, y = video.click(int(client.xlen("vidseg:cam:frames")), 1)
    client.xadd("vidseg:cam:prompts", encode_prompt(Prompt(1, points=((float(x), float(y)),), labels=(1,))))
    thread.join(timeout=240)
    assert reports and reports[0].status == "completed" and reports[0].frames_processed == video.num_frames

    events = [Event.from_fields(fields) for _, fields in client.xrange("vidseg:cam:events")]
    client.close()
    (applied,) = [e for e in events if e.kind == EventKind.PROMPT_APPLIED]
    start = applied.frame_index
    assert start is not None and 3 <= start < video.num_frames - 20, "the prompt must be applied mid-run"
    labels = [frame.labels for frame in read_label_video(tmp_path / "out" / "masks.mkv")]
    for t, label in enumerate(labels):
        if t < start:
            assert not label.any(), f"an object shown on frame {t}, before any prompt"
        else:
            assert _iou(label == 1, video.mask(t, 1)) >= 0.7, f"frame {t} (prompted on {start})"
