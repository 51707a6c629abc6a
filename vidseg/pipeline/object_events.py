"""Object events from consecutive frame results.

An id seen for the first time is *added*; a visible object that stops being visible (its
presence score fell below the threshold) is *lost*; a lost object that is visible again has
*reappeared*; an id no longer tracked is *removed*.
"""

from __future__ import annotations

from vidseg.results import Event, EventKind, FrameRecord


class ObjectEvents:
    """Turns the sequence of frame records into object events (see the module docstring)."""

    def __init__(self) -> None:
        self._visible: dict[int, bool] = {}
        self._ever_visible: set[int] = set()

    def update(self, record: FrameRecord) -> list[Event]:
        """The events of ``record``, given the records seen before it."""
        events = []
        current = {obj.obj_id: obj for obj in record.objects}
        for obj_id, obj in current.items():
            before = self._visible.get(obj_id)
            if before is None:
                events.append(Event(EventKind.OBJECT_ADDED, record.index, record.time, obj_id))
            elif before and not obj.visible:
                detail = f"presence score {obj.score:.2f}"
                events.append(Event(EventKind.OBJECT_LOST, record.index, record.time, obj_id, detail))
            elif not before and obj.visible and obj_id in self._ever_visible:
                events.append(Event(EventKind.OBJECT_REAPPEARED, record.index, record.time, obj_id))
            self._visible[obj_id] = obj.visible
            if obj.visible:
                self._ever_visible.add(obj_id)
        for obj_id in sorted(set(self._visible) - set(current)):
            events.append(Event(EventKind.OBJECT_REMOVED, record.index, record.time, obj_id))
            del self._visible[obj_id]
            self._ever_visible.discard(obj_id)
        return events
