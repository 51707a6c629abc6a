"""A proposer that needs no semantic map (Mask R-CNN) runs in its own thread: on a file the
objects are those of the same proposals made in line; on a live feed the tracker does not wait
for it (it proposes on a few frames while the tracker steps many)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from PIL import Image

from tests.conftest import RtspFeed
from vidseg.config import TrackerConfig
from vidseg.datasets.synthetic_videos import VideoSpec, generate_video
from vidseg.models.semantic import build_semantic_model
from vidseg.models.semantic.build import SHIPPED_WEIGHTS
from vidseg.models.tracking.registry import SYNTHETIC_MODEL
from vidseg.pipeline.config import SemanticConfig
from vidseg.pipeline.job import JobConfig, run_job
from vidseg.prompts.maskrcnn import MaskRcnnProposer
from vidseg.prompts.proposers import Proposal, RegionProposer
from vidseg.results import SemanticMap
from vidseg.sinks.files.objects_jsonl import read_objects_jsonl
from vidseg.sources import LiveOptions
from vidseg.types import ImageArray

pytestmark = pytest.mark.skipif(not (SHIPPED_WEIGHTS / "vidseg_unet_synthetic.pt").is_file(),
                                reason="the shipped U-Net weights are missing from this tree")  # fmt: skip


class LabellingProposer:
    """Instances from the image alone, as Mask R-CNN gives them: the shipped U-Net labels the
    frame and the region proposer takes that map's regions. It needs no map from the pipeline,
    so the job runs it in its own thread."""

    def __init__(self) -> None:
        self.model = build_semantic_model("vidseg_unet_synthetic")
        self.classes: tuple[str, ...] | None = tuple(self.model.classes)
        self.regions = RegionProposer()
        self.calls = 0

    def propose(self, image: ImageArray, semantic: SemanticMap | None, classes: Sequence[str]) -> list[Proposal]:
        assert semantic is None, "a map-free proposer is never handed the pipeline's map"
        self.calls += 1
        return self.regions.propose(image, self.model.label(image), classes)


def _frames(tmp_path, seed: int = 90_123):
    spec = VideoSpec.at_difficulty(0.3, num_frames=14, height=128, width=128, min_objects=2, max_objects=3)
    video = generate_video(seed, spec)
    folder = tmp_path / "frames"
    folder.mkdir()
    for t in range(video.num_frames):
        Image.fromarray(video.frames[t]).save(folder / f"{t:05d}.png")
    return folder, video


def _objects(path):
    return [[(o.obj_id, o.visible, o.bbox, o.area, o.rle, o.track_class) for o in r.objects]
            for r in read_objects_jsonl(path)]  # fmt: skip


def test_a_map_free_proposer_in_its_own_thread_makes_the_objects_the_same_proposals_make_in_line(tmp_path):
    folder, video = _frames(tmp_path)
    tracker = TrackerConfig(model=SYNTHETIC_MODEL.name, device="cpu")
    classes = ("rectangle", "disc", "triangle")
    # In line: the semantic model's map, then its regions proposed on the tracker's thread.
    inline = JobConfig(source=str(folder), out=tmp_path / "inline", image_fps=10.0, tracker=tracker,
                       semantic=SemanticConfig("vidseg_unet_synthetic", concurrent=False), track_classes=classes)  # fmt: skip
    run_job(inline, show_progress=False)
    # Threaded: the same regions from a proposer that labels the frame itself, in its own thread.
    proposer = LabellingProposer()
    threaded = JobConfig(source=str(folder), out=tmp_path / "threaded", image_fps=10.0, tracker=tracker,
                         track_classes=classes)  # fmt: skip
    report = run_job(threaded, show_progress=False, proposer=proposer)
    assert report.frames_processed == video.num_frames
    assert proposer.calls == video.num_frames  # every frame of a file is proposed on
    expected, found = _objects(tmp_path / "inline" / "objects.jsonl"), _objects(tmp_path / "threaded" / "objects.jsonl")
    assert any(frame for frame in expected), "the clip should give objects by class"
    assert found == expected
    import json

    timings = json.loads((tmp_path / "threaded" / "manifest.json").read_text())["timings"]
    assert timings["propose"]["items"] == video.num_frames and "semantic" not in timings


@pytest.mark.timeout(240)
def test_on_a_live_feed_the_tracker_does_not_wait_for_mask_rcnn(tmp_path):
    """Mask R-CNN takes seconds per frame on this CPU; in line, the tracker stepped one frame per
    proposal. Here it steps many frames while Mask R-CNN works on a few."""
    proposer = MaskRcnnProposer.build(random_weights=True)
    calls = []
    original = proposer.propose

    def counted(image, semantic, classes):
        calls.append(image.shape)
        return original(image, semantic, classes)

    proposer.propose = counted  # type: ignore[method-assign]  # counts the real model's calls
    feed = RtspFeed().start()
    try:
        config = JobConfig(source=feed.url, out=tmp_path / "out", live=LiveOptions(open_timeout=10.0),
                           tracker=TrackerConfig(random_weights=True, image_size=64, device="cpu"), duration=10.0,
                           track_classes=("person",))  # fmt: skip
        report = run_job(config, show_progress=False, proposer=proposer)
    finally:
        feed.stop()
    assert calls and all(shape == (240, 320, 3) for shape in calls)
    assert report.frames_processed >= 4 * len(calls), (report.frames_processed, len(calls))
