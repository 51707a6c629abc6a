"""One id per thing, on constructed label maps: exact expectations for each rule of
:mod:`vidseg.prompts.class_tracker`."""

from __future__ import annotations

import numpy as np
import pytest

from vidseg.errors import ConfigError
from vidseg.prompts.class_tracker import ClassTracker, ClassTrackingOptions
from vidseg.prompts.proposers import RegionProposer
from vidseg.results import EventKind, SemanticMap

CLASSES = ("background", "car")
H, W = 40, 60
IMAGE = np.zeros((H, W, 3), np.uint8)


def _map(*boxes: tuple[int, int, int, int]) -> SemanticMap:
    labels = np.zeros((H, W), np.uint8)
    for x1, y1, x2, y2 in boxes:
        labels[y1:y2, x1:x2] = 1
    return SemanticMap(labels, CLASSES)


def _mask(x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[y1:y2, x1:x2] = True
    return mask


def _tracker(**options: object) -> ClassTracker:
    return ClassTracker(["car"], RegionProposer(min_area=10), ClassTrackingOptions(**options), known=CLASSES)  # type: ignore[arg-type]


def _new_ids(step) -> list[int]:
    return [c.obj_id for c in step.commands if c.request_id == "class:car"]


def test_a_partial_mask_does_not_spawn_an_object():
    tracker = _tracker()
    first = tracker.step(IMAGE, _map((10, 10, 40, 30)), frame=0)
    assert _new_ids(first) == [1]
    # The tracker follows only the left third of the region; the map still shows all of it, and
    # the part the mask leaves out (split into two pieces above and below it) is no new object.
    for t in range(1, 6):
        tracker.observe(t - 1, None, {1: _mask(10, 15, 20, 25)}, {1: True})
        step = tracker.step(IMAGE, _map((10, 10, 40, 30)), frame=t)
        assert step.commands == () and step.removals == ()
    assert tracker.created == {1: "car"}


def test_a_lost_object_found_within_the_window_keeps_its_id():
    tracker = _tracker(keep_frames=10, keep_seconds=0.0, confirm_maps=1)
    assert _new_ids(tracker.step(IMAGE, _map((5, 5, 15, 15)), frame=0)) == [1]
    tracker.observe(0, None, {1: _mask(5, 5, 15, 15)}, {1: True})
    for t in range(1, 4):  # occluded: no region, the tracker's mask is empty
        tracker.observe(t, None, {1: np.zeros((H, W), bool)}, {1: False})
        assert tracker.step(IMAGE, _map(), frame=t + 1).commands == ()
    step = tracker.step(IMAGE, _map((8, 6, 18, 16)), frame=5)  # back, a little to the right
    assert [(c.obj_id, c.request_id) for c in step.commands] == [(1, "class:car:returned")]
    assert step.commands[0].prompt is not None and step.commands[0].prompt.mask is not None
    assert np.array_equal(step.commands[0].prompt.mask, _mask(8, 6, 18, 16))
    assert tracker.created == {1: "car"}  # no new id


def test_a_lost_object_found_after_the_window_is_removed_and_a_new_id_is_given():
    tracker = _tracker(keep_frames=3, keep_seconds=0.0, confirm_maps=1)
    tracker.step(IMAGE, _map((5, 5, 15, 15)), frame=0)
    tracker.observe(0, 0.0, {1: _mask(5, 5, 15, 15)}, {1: True})
    removals = []
    for t in range(1, 6):
        tracker.observe(t, t / 25, {1: np.zeros((H, W), bool)}, {1: False})
        step = tracker.step(IMAGE, _map(), frame=t + 1)
        removals += step.removals
    assert [(obj_id, e.kind) for obj_id, e in removals] == [(1, EventKind.OBJECT_EXPIRED)]
    tracker.observe(6, 6 / 25, {}, {})  # the session no longer has it
    step = tracker.step(IMAGE, _map((5, 5, 15, 15)), frame=7)
    assert _new_ids(step) == [2]


def test_the_seconds_window_keeps_an_object_when_frames_come_slowly():
    tracker = _tracker(keep_frames=2, keep_seconds=5.0, confirm_maps=1)
    tracker.step(IMAGE, _map((5, 5, 15, 15)), frame=0)
    tracker.observe(0, 0.0, {1: _mask(5, 5, 15, 15)}, {1: True})
    for t in range(1, 5):  # a frame a second: 4 frames lost, but only 4 s
        tracker.observe(t, float(t), {1: np.zeros((H, W), bool)}, {1: False})
        assert tracker.step(IMAGE, _map(), frame=t + 1).removals == ()


def test_two_overlapping_objects_are_merged_with_an_event_naming_both():
    tracker = _tracker(merge_frames=3, confirm_maps=1)
    tracker.step(IMAGE, _map((5, 5, 20, 20)), frame=0)  # object 1
    tracker.observe(0, None, {1: _mask(5, 5, 20, 20)}, {1: True})
    tracker.step(IMAGE, _map((5, 5, 20, 20), (40, 5, 55, 20)), frame=1)  # object 2, elsewhere
    merged = []
    for t in range(1, 6):  # object 2 drifts onto object 1 and the two masks become one thing
        masks = {1: _mask(5, 5, 20, 20), 2: _mask(6, 5, 21, 20)}
        if merged:  # the session removed it
            del masks[2]
        tracker.observe(t, None, masks, dict.fromkeys(masks, True))
        merged += tracker.step(IMAGE, None, frame=t + 1).removals
    assert len(merged) == 1
    obj_id, event = merged[0]
    assert obj_id == 2 and event.kind is EventKind.OBJECT_MERGED and event.obj_id == 2
    assert "object 1" in event.detail and event.frame_index == 3  # the third frame in a row


def test_a_prompted_object_is_never_merged_away():
    tracker = _tracker(merge_frames=2)
    for t in range(4):  # objects 7 (clicked) and 8 (clicked) overlap: no rule removes either
        tracker.observe(t, None, {7: _mask(5, 5, 20, 20), 8: _mask(5, 5, 20, 21)}, {7: True, 8: True})
        assert tracker.step(IMAGE, None, frame=t + 1).removals == ()


def test_confirmation_emits_at_once_and_withdraws_later_without_holding_outputs_back():
    tracker = _tracker(confirm_maps=3, withdraw_maps=1)
    step = tracker.step(IMAGE, _map((5, 5, 15, 15)), frame=0)
    assert _new_ids(step) == [1]  # the object is made (and output) on the first frame, with its mask
    assert np.array_equal(step.commands[0].prompt.mask, _mask(5, 5, 15, 15))  # type: ignore[union-attr]
    tracker.observe(0, None, {1: _mask(5, 5, 15, 15)}, {1: True})
    assert tracker.step(IMAGE, _map((5, 5, 15, 15)), frame=1).removals == ()  # a second map agrees
    tracker.observe(1, None, {1: _mask(5, 5, 15, 15)}, {1: True})
    step = tracker.step(IMAGE, _map(), frame=2)  # the third map shows nothing: a spurious region
    assert [(obj_id, e.kind) for obj_id, e in step.removals] == [(1, EventKind.OBJECT_WITHDRAWN)]
    # With withdraw_maps=2 one map that misses it is not enough; a second is.
    tracker = _tracker(confirm_maps=3, withdraw_maps=2)
    tracker.step(IMAGE, _map((5, 5, 15, 15)), frame=0)
    removed = []
    for t in range(3):
        tracker.observe(t, None, {1: _mask(5, 5, 15, 15)}, {1: True})
        removed.append([(obj_id, e.kind) for obj_id, e in tracker.step(IMAGE, _map(), frame=t + 1).removals])
    assert removed == [[], [(1, EventKind.OBJECT_WITHDRAWN)], []]
    # A confirmed object is not withdrawn when the map misses it once.
    tracker = _tracker(confirm_maps=2)
    tracker.step(IMAGE, _map((5, 5, 15, 15)), frame=0)
    for t in range(3):
        tracker.observe(t, None, {1: _mask(5, 5, 15, 15)}, {1: True})
        assert tracker.step(IMAGE, _map((5, 5, 15, 15)) if t < 1 else _map(), frame=t + 1).removals == ()


def test_a_stale_map_is_checked_against_where_the_objects_were_and_makes_no_new_object_when_too_old():
    tracker = _tracker(max_map_age=2, confirm_maps=1)
    tracker.step(IMAGE, _map((5, 5, 15, 15)), frame=0)
    for t in range(0, 4):  # the object moves right by 5 px a frame
        tracker.observe(t, None, {1: _mask(5 + 5 * t, 5, 15 + 5 * t, 15)}, {1: True})
    # The map of frame 1 shows the object where it was then: that is object 1, not a new one.
    assert tracker.step(IMAGE, _map((10, 5, 20, 15)), frame=4, map_frame=2).commands == ()
    # A region no object covers, on a map 4 frames old, waits for a fresher map.
    assert tracker.step(IMAGE, _map((40, 25, 55, 38)), frame=8, map_frame=4).commands == ()
    assert _new_ids(tracker.step(IMAGE, _map((40, 25, 55, 38)), frame=8, map_frame=7)) == [2]


@pytest.mark.parametrize("options", [{"cover": 0}, {"merge_frames": 0}, {"keep_seconds": -1}, {"merge_iou": 2}])
def test_bad_options_are_refused(options):
    with pytest.raises(ConfigError):
        ClassTrackingOptions(**options)  # type: ignore[arg-type]


def test_an_object_the_tracker_is_losing_gets_its_region_back_instead_of_a_new_id():
    tracker = _tracker(confirm_maps=1)
    tracker.step(IMAGE, _map((10, 10, 30, 30)), frame=0)
    tracker.observe(0, None, {1: _mask(10, 10, 30, 30)}, {1: True})  # 400 px
    tracker.observe(1, None, {1: _mask(40, 30, 45, 35)}, {1: True})  # 25 px, elsewhere: the tracker drifted
    step = tracker.step(IMAGE, _map((12, 10, 32, 30)), frame=2)
    assert [(c.obj_id, c.request_id) for c in step.commands] == [(1, "class:car:returned")]
    assert tracker.created == {1: "car"}


def test_a_fragment_inside_an_object_of_another_class_makes_no_object():
    labels = np.zeros((H, W), np.uint8)
    labels[5:25, 5:35] = 2  # a truck ...
    labels[10:20, 15:25] = 1  # ... with a patch inside it the model calls car
    labels[28:38, 45:58] = 1  # a car on its own
    labels[20:27, 36:44] = 1  # and a car beside the truck, touching it
    semantic = SemanticMap(labels, ("background", "car", "truck"))
    tracker = ClassTracker(["car"], RegionProposer(min_area=10), known=semantic.classes)
    step = tracker.step(IMAGE, semantic, frame=0)
    assert sorted(int(c.prompt.mask.sum()) for c in step.commands) == [56, 130]  # type: ignore[union-attr]
    everything = ClassTracker(["car"], RegionProposer(min_area=10), ClassTrackingOptions(max_enclosed=1.0),
                              known=semantic.classes).step(IMAGE, semantic, frame=0)  # fmt: skip
    assert sorted(int(c.prompt.mask.sum()) for c in everything.commands) == [56, 100, 130]  # type: ignore[union-attr]


def test_a_lost_object_the_tracker_shows_on_another_keeps_its_id_for_when_it_returns():
    tracker = _tracker(confirm_maps=1, merge_frames=2)
    tracker.step(IMAGE, _map((2, 2, 12, 12), (40, 20, 50, 30)), frame=0)  # objects 1 and 2
    tracker.observe(0, None, {1: _mask(2, 2, 12, 12), 2: _mask(40, 20, 50, 30)}, {1: True, 2: True})
    events = []
    for t in range(1, 4):  # 1 leaves; the tracker lost it
        events += tracker.step(IMAGE, _map((40, 20, 50, 30)), frame=t).removals
        tracker.observe(t, None, {1: _mask(0, 0, 1, 1), 2: _mask(40, 20, 50, 30)}, {1: False, 2: True})
    for t in range(4, 6):  # ... then shows it on object 2: no merge of 2 into 1, and 1 is not removed for good
        events += tracker.step(IMAGE, _map((40, 20, 50, 30)), frame=t).removals
        tracker.observe(t, None, {1: _mask(40, 20, 50, 30), 2: _mask(40, 20, 50, 30)}, {1: True, 2: True})
    for t in range(6, 9):  # out of the tracker from the next step on
        step = tracker.step(IMAGE, _map((40, 20, 50, 30)), frame=t)
        assert step.commands == ()
        events += step.removals
        tracker.observe(t, None, {2: _mask(40, 20, 50, 30)}, {2: True})
    assert [(obj_id, e.kind) for obj_id, e in events] == [(1, EventKind.OBJECT_LOST)]
    step = tracker.step(IMAGE, _map((3, 2, 13, 12), (40, 20, 50, 30)), frame=9)  # back where it was
    assert [(c.obj_id, c.request_id) for c in step.commands] == [(1, "class:car:returned")]
