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
    events = ObjectEvents()
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


def test_event_fields_round_trip() -> None:
    event = Event(EventKind.PROMPT_REJECTED, 7, 0.28, 3, "point (900, 10) is outside the 854x480 frame", "req-1")
    fields = {k.encode(): v.encode() for k, v in event.to_fields().items()}
    assert Event.from_fields(fields) == event
    assert event.to_fields()["kind"] == "prompt_rejected"
