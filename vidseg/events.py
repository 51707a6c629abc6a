"""What happened to the tracked objects and to the prompts, as events for downstream services.

Object events come from consecutive frame records: an id seen for the first time is *added*; a
visible object that stops being visible (its presence score fell below the threshold) is *lost*;
a lost object that is visible again has *reappeared*; an id no longer tracked is *removed*.
Prompt events say whether a prompt was applied, or rejected and why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum

from vidseg.records import FrameRecord

EVENT_SCHEMA_VERSION = 1


class EventKind(str, Enum):
    OBJECT_ADDED = "object_added"
    OBJECT_LOST = "object_lost"
    OBJECT_REAPPEARED = "object_reappeared"
    OBJECT_REMOVED = "object_removed"
    PROMPT_APPLIED = "prompt_applied"
    PROMPT_REJECTED = "prompt_rejected"


@dataclass(frozen=True)
class Event:
    """One event.

    Attributes:
        kind: what happened.
        frame_index: the processed frame it happened on (None: between frames).
        time: that frame's time in seconds, when known.
        obj_id: the object concerned, when there is one.
        detail: a human-readable reason or description (e.g. why a prompt was rejected).
        request_id: the id a client gave its prompt, echoed back.
    """

    kind: EventKind
    frame_index: int | None = None
    time: float | None = None
    obj_id: int | None = None
    detail: str = ""
    request_id: str | None = None

    def to_fields(self) -> dict[str, str]:
        """The fields of the event's stream entry."""
        body = {
            "kind": self.kind.value,
            "frame_index": self.frame_index,
            "time": self.time,
            "obj_id": self.obj_id,
            "detail": self.detail,
            "request_id": self.request_id,
        }
        return {"schema_version": str(EVENT_SCHEMA_VERSION), "kind": self.kind.value, "event": json.dumps(body)}

    @classmethod
    def from_fields(cls, fields: dict[bytes, bytes] | dict[str, str]) -> Event:
        """The event of a stream entry (inverse of :meth:`to_fields`)."""
        text = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
                for k, v in fields.items()}  # fmt: skip
        body = json.loads(text["event"])
        return cls(
            kind=EventKind(body["kind"]),
            frame_index=body["frame_index"],
            time=body["time"],
            obj_id=body["obj_id"],
            detail=body["detail"],
            request_id=body["request_id"],
        )


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
