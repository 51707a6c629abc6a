"""Object events from consecutive frame records: added, lost, reappeared, removed."""

from __future__ import annotations

import numpy as np

from vidseg.masks import encode_rle
from vidseg.pipeline.object_events import ObjectEvents
from vidseg.results import Event, EventKind, FrameRecord, ObjectRecord


def _frame(index: int, **visible: bool) -> FrameRecord:
    objects = []
    for name, shown in visible.items():
        mask = np.zeros((4, 4), bool)
        mask[1:3, 1:3] = shown
        obj_id = int(name.removeprefix("o"))
        objects.append(ObjectRecord(obj_id, 0.9 if shown else 0.1, shown, None, int(mask.sum()), encode_rle(mask)))
    return FrameRecord(index=index, pts=index, time_base=None, time=index / 25, objects=tuple(objects))


def test_events_follow_each_objects_presence() -> None:
    events = ObjectEvents(min_run=1)
    timeline = [
        _frame(0, o1=True),
        _frame(1, o1=True, o2=False),  # object 2 prompted but not seen yet: added, nothing else
        _frame(2, o1=False, o2=True),  # 1 lost; 2 appears for the first time (no "reappeared")
        _frame(3, o1=False, o2=True),
        _frame(4, o1=True, o2=True),  # 1 reappeared
        _frame(5, o2=True),  # 1 removed
    ]
    got = [(e.frame_index, e.kind, e.obj_id) for record in timeline for e in events.update(record)]
    assert got == [
        (0, EventKind.OBJECT_ADDED, 1),
        (1, EventKind.OBJECT_ADDED, 2),
        (2, EventKind.OBJECT_LOST, 1),
        (4, EventKind.OBJECT_REAPPEARED, 1),
        (5, EventKind.OBJECT_REMOVED, 1),
    ]


def test_presence_hovering_near_the_threshold_does_not_flap() -> None:
    """A change of visibility is an event only once it held for min_run frames in a row."""
    events = ObjectEvents(min_run=3)
    flicker = [True, True, False, True, False, False, True, False, True, True]  # never 3 frames of one change
    steady = [False, False, False, False, True, True, True]  # then lost (3 frames), then back (3 frames)
    timeline = [_frame(k, o1=shown) for k, shown in enumerate(flicker + steady)]
    got = [(e.frame_index, e.kind, e.detail) for record in timeline for e in events.update(record)]
    n = len(flicker)
    assert got == [
        (0, EventKind.OBJECT_ADDED, ""),
        (n + 2, EventKind.OBJECT_LOST, f"presence score 0.10, 0 px since frame {n}"),
        (n + 6, EventKind.OBJECT_REAPPEARED, f"since frame {n + 4}"),
    ]


def test_a_removed_object_forgets_its_pending_change() -> None:
    events = ObjectEvents(min_run=2)
    timeline = [_frame(0, o1=True), _frame(1, o1=False), _frame(2), _frame(3, o1=False), _frame(4, o1=False)]
    got = [(e.frame_index, e.kind) for record in timeline for e in events.update(record)]
    assert got == [(0, EventKind.OBJECT_ADDED), (2, EventKind.OBJECT_REMOVED), (3, EventKind.OBJECT_ADDED)]


def test_a_tiny_mask_is_not_visible() -> None:
    from fractions import Fraction

    from vidseg.types import Frame, ModelInfo, TrackingResult

    masks = np.zeros((2, 48, 64), bool)
    masks[0, 10:12, 10:13] = True  # 6 pixels
    masks[1, 20:30, 20:30] = True
    result = TrackingResult(frame_index=0, object_ids=np.array([1, 2]), masks=masks,
                            logits=np.where(masks, 5.0, -5.0).astype(np.float32), scores=np.array([0.9, 0.9], np.float32),
                            model=ModelInfo("m", 64, None, None, True, "cpu", "float32"))  # fmt: skip
    frame = Frame(np.zeros((48, 64, 3), np.uint8), index=0, pts=0, time_base=Fraction(1, 25), time=0.0)
    record = FrameRecord.build(frame, result, 0.5, min_area=16)
    assert [o.visible for o in record.objects] == [False, True]
    assert [o.area for o in record.objects] == [6, 100]


def test_event_fields_round_trip() -> None:
    event = Event(EventKind.PROMPT_REJECTED, 7, 0.28, 3, "point (900, 10) is outside the 854x480 frame", "req-1")
    fields = {k.encode(): v.encode() for k, v in event.to_fields().items()}
    assert Event.from_fields(fields) == event
    assert event.to_fields()["kind"] == "prompt_rejected"


def test_an_id_tracking_by_class_gives_back_reappears_and_is_not_added_again() -> None:
    events = ObjectEvents(min_run=2)
    timeline = [_frame(0, o1=True), _frame(1, o1=True), _frame(2), _frame(3)]
    got = [(e.frame_index, e.kind) for record in timeline for e in events.update(record)]
    got += [(e.frame_index, e.kind) for e in events.update(_frame(4, o1=True), returning=[1])]
    assert got == [(0, EventKind.OBJECT_ADDED), (2, EventKind.OBJECT_REMOVED), (4, EventKind.OBJECT_REAPPEARED)]
    got = [(e.frame_index, e.kind) for record in [_frame(5), _frame(6, o1=True)] for e in events.update(record)]
    assert got == [(5, EventKind.OBJECT_REMOVED), (6, EventKind.OBJECT_ADDED)]  # a prompt's re-add is an add
