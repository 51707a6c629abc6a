"""Tracking by class on constructed label maps: exact expectations."""

from __future__ import annotations

import numpy as np
import pytest

from vidseg.errors import ConfigError
from vidseg.prompts.commands import Origin
from vidseg.prompts.proposers import ClassTracker, RegionProposer
from vidseg.results import SemanticMap

CLASSES = ("background", "car", "person")


def _map() -> SemanticMap:
    labels = np.zeros((40, 60), np.uint8)
    labels[5:15, 5:15] = 1  # a car, 100 px
    labels[20:30, 30:50] = 1  # another car, 200 px
    labels[30:32, 0:2] = 1  # a speck of car, 4 px
    labels[5:20, 40:45] = 2  # a person, 75 px
    return SemanticMap(labels, CLASSES)


def test_regions_of_the_wanted_class_above_the_minimum_area_largest_first():
    proposals = RegionProposer(min_area=10).propose(_map(), ["car"])
    assert [(p.class_name, p.area) for p in proposals] == [("car", 200), ("car", 100)]
    assert proposals[1].mask[5:15, 5:15].all() and proposals[1].mask.sum() == 100
    both = RegionProposer(min_area=10).propose(_map(), ["car", "person"])
    assert sorted(p.area for p in both) == [75, 100, 200]
    with pytest.raises(ConfigError, match="'truck'"):
        RegionProposer().propose(_map(), ["truck"])


def test_touching_objects_of_one_class_merge_into_one_region():
    labels = np.zeros((20, 40), np.uint8)
    labels[5:15, 5:20] = 1
    labels[5:15, 20:35] = 1  # touching the first
    (only,) = RegionProposer(min_area=10).propose(SemanticMap(labels, CLASSES), ["car"])
    assert only.area == 300


def test_new_ids_only_for_regions_no_tracked_object_covers():
    tracker = ClassTracker(["car"], RegionProposer(min_area=10), iou_threshold=0.5, first_id=1)
    tracked = {1: np.zeros((40, 60), bool)}
    tracked[1][5:15, 5:14] = True  # object 1 (prompted by a click) covers the small car: IoU 0.9
    commands = tracker.new_objects(_map(), tracked)
    assert [c.obj_id for c in commands] == [2]  # the big car; id 1 is taken
    assert commands[0].origin is Origin.CLASS and commands[0].request_id == "class:car"
    assert commands[0].prompt is not None and commands[0].prompt.mask is not None
    assert commands[0].prompt.mask.sum() == 200
    # On the next frame the big car is tracked as object 2: nothing new.
    tracked[2] = commands[0].prompt.mask
    assert tracker.new_objects(_map(), tracked) == []
    assert tracker.created == {2: "car"}


def test_max_objects_caps_the_objects_created_by_class():
    tracker = ClassTracker(["car", "person"], RegionProposer(min_area=10), max_objects=2)
    assert [c.obj_id for c in tracker.new_objects(_map(), {})] == [1, 2]
    assert tracker.new_objects(_map(), {}) == []  # the cap holds across frames
