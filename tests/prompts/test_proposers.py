"""Tracking by class on constructed label maps: exact expectations."""

from __future__ import annotations

import numpy as np
import pytest

from vidseg.errors import ConfigError
from vidseg.prompts.class_tracker import ClassTracker
from vidseg.prompts.commands import Origin, PromptCommand
from vidseg.prompts.maskrcnn import MaskRcnnProposer, coco_categories, instances_to_proposals
from vidseg.prompts.proposers import RegionProposer
from vidseg.prompts.router import PromptRouter
from vidseg.results import SemanticMap

CLASSES = ("background", "car", "person")
IMAGE = np.zeros((40, 60, 3), np.uint8)  # the region proposer reads the map only


def _map() -> SemanticMap:
    labels = np.zeros((40, 60), np.uint8)
    labels[5:15, 5:15] = 1  # a car, 100 px
    labels[20:30, 30:50] = 1  # another car, 200 px
    labels[30:32, 0:2] = 1  # a speck of car, 4 px
    labels[5:20, 40:45] = 2  # a person, 75 px
    return SemanticMap(labels, CLASSES)


def test_regions_of_the_wanted_class_above_the_minimum_area_largest_first():
    proposals = RegionProposer(min_area=10).propose(IMAGE, _map(), ["car"])
    assert [(p.class_name, p.area) for p in proposals] == [("car", 200), ("car", 100)]
    assert proposals[1].mask[5:15, 5:15].all() and proposals[1].mask.sum() == 100
    both = RegionProposer(min_area=10).propose(IMAGE, _map(), ["car", "person"])
    assert sorted(p.area for p in both) == [75, 100, 200]
    with pytest.raises(ConfigError, match="'truck'"):
        RegionProposer().propose(IMAGE, _map(), ["truck"])


def test_touching_objects_of_one_class_merge_into_one_region():
    labels = np.zeros((20, 40), np.uint8)
    labels[5:15, 5:20] = 1
    labels[5:15, 20:35] = 1  # touching the first
    (only,) = RegionProposer(min_area=10).propose(IMAGE, SemanticMap(labels, CLASSES), ["car"])
    assert only.area == 300


def test_new_ids_only_for_regions_no_tracked_object_covers():
    tracker = ClassTracker(["car"], RegionProposer(min_area=10), first_id=1)
    tracked = {1: np.zeros((40, 60), bool)}
    tracked[1][5:15, 5:14] = True  # object 1 (prompted by a click) covers the small car: IoU 0.9
    commands = tracker.new_objects(IMAGE, _map(), tracked)
    assert [c.obj_id for c in commands] == [2]  # the big car; id 1 is taken
    assert commands[0].origin is Origin.CLASS and commands[0].request_id == "class:car"
    assert commands[0].prompt is not None and commands[0].prompt.mask is not None
    assert commands[0].prompt.mask.sum() == 200
    # On the next frame the big car is tracked as object 2: nothing new.
    tracked[2] = commands[0].prompt.mask
    assert tracker.new_objects(IMAGE, _map(), tracked) == []
    assert tracker.created == {2: "car"}


def test_max_objects_caps_the_objects_created_by_class():
    tracker = ClassTracker(["car", "person"], RegionProposer(min_area=10), max_objects=2)
    assert [c.obj_id for c in tracker.new_objects(IMAGE, _map(), {})] == [1, 2]
    assert tracker.new_objects(IMAGE, _map(), {}) == []  # the cap holds across frames


def test_classes_are_checked_against_the_model_and_can_be_added_while_running():
    with pytest.raises(ConfigError, match="'truck' is not a class"):
        ClassTracker(["truck"], RegionProposer(), known=CLASSES)
    with pytest.raises(ConfigError, match="'background'"):
        ClassTracker(["background"], RegionProposer(), known=CLASSES)
    tracker = ClassTracker([], RegionProposer(min_area=10), known=CLASSES)
    assert tracker.new_objects(IMAGE, _map(), {}) == []  # nothing asked for yet
    assert ClassTracker(["car"], RegionProposer()).new_objects(IMAGE, None, {}) == []  # no map yet: wait for one
    assert "not a class" in (tracker.add_class("truck") or "")
    assert tracker.add_class("person") is None and tracker.add_class("person") is None
    assert tracker.classes == ("person",)
    assert [c.obj_id for c in tracker.new_objects(IMAGE, _map(), {})] == [1]


class _Session:
    """The router's target: records what it is asked to do."""

    def __init__(self) -> None:
        self.added: list[int] = []

    @property
    def object_ids(self) -> tuple[int, ...]:
        return tuple(self.added)

    @property
    def pending_ids(self) -> tuple[int, ...]:
        return ()

    def add(self, prompt) -> None:
        self.added.append(prompt.obj_id)

    def remove_object(self, obj_id: int) -> None:
        self.added.remove(obj_id)


def test_a_track_class_command_goes_to_the_class_handler_or_is_rejected_without_one():
    from vidseg.types import Frame

    frame = Frame(index=3, image=IMAGE, pts=3, time_base=None)
    router = PromptRouter(255)
    router.submit(PromptCommand.track("car", origin=Origin.REDIS, request_id="r1"))
    (event,) = router.apply_due(_Session(), frame)
    assert event.kind.value == "prompt_rejected" and "--semantic" in event.detail and event.request_id == "r1"
    tracker = ClassTracker([], RegionProposer(min_area=10), known=CLASSES)
    router.track_class = tracker.add_class
    router.submit(PromptCommand.track("truck", origin=Origin.REDIS))
    router.submit(PromptCommand.track("car", origin=Origin.REDIS, request_id="r2"))
    bad, good = router.apply_due(_Session(), frame)
    assert bad.kind.value == "prompt_rejected" and "'truck'" in bad.detail
    assert good.kind.value == "prompt_applied" and good.detail == "track_class car" and good.origin == "redis"
    assert tracker.classes == ("car",) and router.counts(Origin.REDIS) == (1, 2)


def test_mask_rcnn_instances_keep_touching_objects_of_one_class_apart():
    """The difference between the two proposers, on two touching shapes of one class: the
    semantic map's regions merge them, instance masks (constructed here as Mask R-CNN's output
    would be, since its weights are not reachable offline) give one proposal each."""
    from vidseg.datasets.synthetic_videos import VideoSpec, generate_video

    spec = VideoSpec(num_frames=12, height=96, width=96, min_objects=2, max_objects=2, shapes=("rectangle",),
                     min_size=0.3, max_size=0.3, occlusion_prob=1.0, leave_prob=0.0)  # fmt: skip
    video = generate_video(0, spec)
    t = next(t for t in range(video.num_frames) if _touching(video.labels[t] == 1, video.labels[t] == 2))
    labels = video.labels[t]
    classes = ("background", "disc", "ellipse", "rectangle")
    merged = RegionProposer(min_area=10).propose(video.frames[t], SemanticMap(video.class_labels[t], classes), ["rectangle"])
    assert len(merged) == 1
    categories = coco_categories()
    car = categories.index("car")
    instances = np.stack([labels == 1, labels == 2, labels == 1])
    proposals = instances_to_proposals(instances, [car, car, categories.index("person")], [0.9, 0.8, 0.95],
                                       categories, ["car"], min_score=0.5, min_area=10)  # fmt: skip
    assert len(proposals) == 2
    expected = sorted([labels == 1, labels == 2], key=lambda m: -int(m.sum()))
    for proposal, mask in zip(proposals, expected, strict=True):
        assert proposal.class_name == "car" and np.array_equal(proposal.mask, mask)
    tracker = ClassTracker(["car"], _Fixed(proposals), first_id=1)
    assert [c.obj_id for c in tracker.new_objects(video.frames[t], None, {})] == [1, 2]
    low = instances_to_proposals(instances, [car, car, car], [0.9, 0.3, 0.2], categories, ["car"], 0.5, 10)
    assert len(low) == 1  # below min_score
    with pytest.raises(ConfigError, match="COCO"):
        instances_to_proposals(instances, [car] * 3, [0.9] * 3, categories, ["disc"], 0.5, 10)


class _Fixed:
    """Stands in for Mask R-CNN's instances: a proposer that needs no semantic map."""

    classes = ("car",)

    def __init__(self, proposals) -> None:
        self.proposals = proposals

    def propose(self, image, semantic, classes):
        return self.proposals


def _touching(a: np.ndarray, b: np.ndarray) -> bool:
    import cv2

    return bool(a.any() and b.any() and (cv2.dilate(a.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & b).any())


def test_mask_rcnn_with_random_weights_runs_and_gives_proposals_of_the_frame_size():
    proposer = MaskRcnnProposer.build(random_weights=True, min_score=0.0, min_area=1)
    image = np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8)
    proposals = proposer.propose(image, None, ["person", "car"])
    assert all(p.mask.shape == (64, 80) and p.mask.dtype == bool and p.class_name in ("person", "car")
               for p in proposals)  # fmt: skip
    assert "person" in (proposer.classes or ())


def test_mask_rcnn_offline_is_one_clear_error(tmp_path):
    from vidseg.errors import CheckpointError

    with pytest.raises(CheckpointError, match=r"maskrcnn_resnet50_fpn_coco-bf2d0c1e\.pth.*--proposer"):
        MaskRcnnProposer.build(cache_dir=tmp_path, download=False)
