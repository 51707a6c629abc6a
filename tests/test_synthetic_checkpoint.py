"""The shipped synthetic checkpoint tracks for real: `vidseg run` on a generated clip, checked
against the generator's ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidseg.cli import main
from vidseg.datasets.synthetic_videos import VideoSpec, generate_video
from vidseg.sinks.label_video import read_label_video
from vidseg.sinks.objects_jsonl import read_objects_jsonl
from vidseg.synthetic import SyntheticClip, write_clip_video
from vidseg.tracking.registry import SYNTHETIC_MODEL

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
