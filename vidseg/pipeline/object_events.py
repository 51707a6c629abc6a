"""Object events from consecutive frame results.

An id seen for the first time is *added*; a visible object that stops being visible (its
presence score fell below the threshold, or its mask shrank below the smallest visible area) is
*lost*; a lost object that is visible again has *reappeared*; an id no longer tracked is
*removed*; a removed id that tracking by class gives back to the lost object it was has
*reappeared*, not been added again. A change of visibility becomes an event only once it has
held for ``min_run`` frames in a row, so an object whose presence hovers near the threshold does
not flap between lost and reappeared; each frame's record still says what that frame saw.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vidseg.errors import ConfigError
from vidseg.results import Event, EventKind, FrameRecord


@dataclass
class _Change:
    visible: bool  # the state it would change to
    frames: int  # frames in a row it has held
    since: int  # the first of them


class ObjectEvents:
    """Turns the sequence of frame records into object events (see the module docstring).

    Args:
        min_run: frames in a row a change of visibility must hold before it is an event (1:
            every change at once).
    """

    def __init__(self, min_run: int = 3) -> None:
        if isinstance(min_run, bool) or not isinstance(min_run, int) or min_run < 1:
            raise ConfigError(f"min_run (frames a change must hold) must be a whole number >= 1; found {min_run!r}")
        self.min_run = min_run
        self._visible: dict[int, bool] = {}  # the state last reported
        self._ever_visible: set[int] = set()
        self._change: dict[int, _Change] = {}
        self._returning: set[int] = set()  # ids given back (not added) on the frame being updated

    def update(self, record: FrameRecord, returning: Iterable[int] = ()) -> list[Event]:
        """The events of ``record``, given the records seen before it; ``returning``: ids that
        tracking by class gave back to a lost object on this frame (not new objects)."""
        self._returning = set(returning)
        events = []
        current = {obj.obj_id: obj for obj in record.objects}
        for obj_id, obj in current.items():
            before = self._visible.get(obj_id)
            if before is None and obj_id in self._returning:  # tracking by class gave a lost object its id back
                if obj.visible:
                    events.append(Event(EventKind.OBJECT_REAPPEARED, record.index, record.time, obj_id,
                                        "tracked again under its own id"))  # fmt: skip
                self._visible[obj_id] = obj.visible
            elif before is None:
                events.append(Event(EventKind.OBJECT_ADDED, record.index, record.time, obj_id))
                self._visible[obj_id] = obj.visible
            elif obj.visible == before:
                self._change.pop(obj_id, None)
            else:
                change = self._change.get(obj_id)
                change = _Change(obj.visible, change.frames + 1, change.since) if change else _Change(obj.visible, 1, record.index)
                self._change[obj_id] = change
                if change.frames >= self.min_run:
                    del self._change[obj_id]
                    self._visible[obj_id] = obj.visible
                    held = f" since frame {change.since}" if change.since != record.index else ""
                    if not obj.visible:
                        why = f"presence score {obj.score:.2f}, {obj.area} px"
                        events.append(Event(EventKind.OBJECT_LOST, record.index, record.time, obj_id, why + held))
                    elif obj_id in self._ever_visible:
                        events.append(Event(EventKind.OBJECT_REAPPEARED, record.index, record.time, obj_id,
                                            held.strip()))  # fmt: skip
            if obj.visible and self._visible[obj_id]:
                self._ever_visible.add(obj_id)
        for obj_id in sorted(set(self._visible) - set(current)):
            events.append(Event(EventKind.OBJECT_REMOVED, record.index, record.time, obj_id))
            del self._visible[obj_id]
            self._change.pop(obj_id, None)
            self._ever_visible.discard(obj_id)
        return events
