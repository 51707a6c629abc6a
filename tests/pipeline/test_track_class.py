"""Tracking by class end to end with the shipped models: the U-Net's regions of one class become
tracked objects, one per shape of that class, each keeping its id, scored against the
generator's instance ground truth."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vidseg.config import TrackerConfig
from vidseg.datasets.synthetic_videos import SHAPE_IDS, SyntheticVideo, VideoSpec, generate_video
from vidseg.evaluation.jf import region_similarity
from vidseg.formats.objects_jsonl import read_objects_jsonl
from vidseg.models.semantic.build import SHIPPED_WEIGHTS
from vidseg.models.tracking.registry import SYNTHETIC_MODEL
from vidseg.pipeline.config import SemanticConfig
from vidseg.pipeline.job import JobConfig, run_job

pytestmark = pytest.mark.skipif(not (SHIPPED_WEIGHTS / "vidseg_unet_synthetic.pt").is_file(),
                                reason="the shipped U-Net weights are missing from this tree")  # fmt: skip

TRACKED, OTHERS = "rectangle", ("disc", "triangle")


def _clip(seed0: int) -> SyntheticVideo:
    """A clip with two or three rectangles and at least one shape of another class, apart."""
    spec = VideoSpec.at_difficulty(0.2, num_frames=16, height=128, width=128, min_objects=3, max_objects=4,
                                   occlusion_prob=0.0, leave_prob=0.0, shapes=(TRACKED, *OTHERS))  # fmt: skip
    for seed in range(seed0, seed0 + 500):
        video = generate_video(seed, spec)
        kinds = [obj.shape for obj in video.objects]
        if kinds.count(TRACKED) >= 2 and len(kinds) > kinds.count(TRACKED):
            return video
    raise AssertionError("no clip of the wanted make-up")


@pytest.mark.parametrize("seed0", [0, 7000])
def test_track_class_makes_one_object_per_shape_of_the_class_that_keeps_its_id(tmp_path, seed0):
    video = _clip(seed0)
    folder = tmp_path / "frames"
    folder.mkdir()
    for t in range(video.num_frames):
        Image.fromarray(video.frames[t]).save(folder / f"{t:05d}.png")
    config = JobConfig(source=str(folder), out=tmp_path / "out", image_fps=10.0,
                       tracker=TrackerConfig(model=SYNTHETIC_MODEL.name, device="cpu"),
                       semantic=SemanticConfig("vidseg_unet_synthetic"), track_classes=(TRACKED,),
                       overlay_classes=True)  # fmt: skip
    run_job(config, show_progress=False)
    records = list(read_objects_jsonl(tmp_path / "out" / "objects.jsonl"))
    assert len(records) == video.num_frames
    created = sorted({o.obj_id for r in records for o in r.objects})
    truth = [obj.obj_id for obj in video.objects if obj.class_id == SHAPE_IDS[TRACKED]]
    assert len(created) == len(truth), f"objects {created} for the {len(truth)} {TRACKED}s"
    assert all(o.track_class == TRACKED for r in records for o in r.objects)
    # Match each object to the instance it covers best over the clip; every instance once.
    scores = {}
    for obj_id in created:
        per_instance = {}
        for inst in truth:
            ious = [region_similarity(next(o for o in r.objects if o.obj_id == obj_id).mask(), video.labels[t] == inst)
                    for t, r in enumerate(records) if any(o.obj_id == obj_id for o in r.objects)]  # fmt: skip
            per_instance[inst] = float(np.mean(ious))
        best = max(per_instance, key=per_instance.__getitem__)
        scores[obj_id] = (best, per_instance[best])
    assert sorted(inst for inst, _ in scores.values()) == sorted(truth), scores
    assert all(iou >= 0.6 for _, iou in scores.values()), scores
    # Created on the first frame, and tracked to the end.
    assert {o.obj_id for o in records[0].objects} == set(created)
    assert {o.obj_id for o in records[-1].objects if o.visible} == set(created)
    assert (tmp_path / "out" / "overlay.mp4").stat().st_size > 0
