"""What the pipeline hands every sink for each frame, and the records and events inside it.

- :class:`FrameRecord` / :class:`ObjectRecord`: what the outputs report for a frame (ids, presence,
  box, area, COCO RLE mask), built once and encoded to and from plain JSON.
- :class:`Event`: something that happened (an object added, lost, reappeared or removed; a prompt
  applied or rejected; a sink that failed).
- :class:`FrameKey`: (source id, epoch, index), which names a frame across stages.
- :class:`FrameResult`: the frame, its tracking result with overlaps resolved, its record, a room
  for a semantic map, and the frame's events: the one thing every sink receives.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from fractions import Fraction
from typing import Any

import numpy as np

from vidseg.errors import InputError
from vidseg.masks import Rle, decode_rle, summarize_mask
from vidseg.types import BoolArray, Frame, TrackingResult

SCHEMA_VERSION = 2  # 2: epoch, wallclock, sender_wallclock; semantic histogram and each object's class
EVENT_SCHEMA_VERSION = 2  # 2: origin (of a prompt event)


class EventKind(str, Enum):
    OBJECT_ADDED = "object_added"
    OBJECT_LOST = "object_lost"
    OBJECT_REAPPEARED = "object_reappeared"
    OBJECT_REMOVED = "object_removed"
    PROMPT_APPLIED = "prompt_applied"
    PROMPT_REJECTED = "prompt_rejected"
    SOURCE_RECONNECTED = "source_reconnected"
    OBJECT_MERGED = "object_merged"  # a duplicate (made by class) removed: it was another object
    OBJECT_WITHDRAWN = "object_withdrawn"  # an object made by class whose region did not persist
    OBJECT_EXPIRED = "object_expired"  # an object made by class, lost for longer than the keep window


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
    origin: str | None = None  # a prompt's origin ("command line", "redis", "track-class", ...)

    def to_fields(self) -> dict[str, str]:
        """The fields of the event's stream entry."""
        body = {
            "kind": self.kind.value,
            "frame_index": self.frame_index,
            "time": self.time,
            "obj_id": self.obj_id,
            "detail": self.detail,
            "request_id": self.request_id,
            **({"origin": self.origin} if self.origin is not None else {}),
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
            origin=body.get("origin"),
        )




@dataclass(frozen=True)
class SemanticMap:
    """A frame's semantic label map.

    Attributes:
        labels: HxW uint8 class ids (0 = background), the frame's size.
        classes: the class name of each id.
        model: the model that made it.
        reused: the map of an earlier frame, reused (``--semantic-every K``).
    """

    labels: np.ndarray = field(repr=False)
    classes: tuple[str, ...]
    model: str = ""
    reused: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.labels, np.ndarray) or self.labels.ndim != 2 or self.labels.dtype != np.uint8:
            raise InputError(f"a semantic map must be an HxW uint8 array; found {getattr(self.labels, 'shape', None)} "
                             f"{getattr(self.labels, 'dtype', None)}")  # fmt: skip
        if self.labels.size and int(self.labels.max()) >= len(self.classes):
            raise InputError(f"semantic map holds class {int(self.labels.max())}; the model has {len(self.classes)}")

    def histogram(self) -> dict[str, int]:
        """Pixels of each class present, by name."""
        counts = np.bincount(self.labels.ravel(), minlength=len(self.classes))
        return {self.classes[k]: int(n) for k, n in enumerate(counts) if n}

    def majority(self, mask: np.ndarray) -> tuple[str, float] | None:
        """The class covering most of ``mask`` (HxW bool) and the fraction it covers; None for an
        empty mask or a map of another size."""
        if mask.shape != self.labels.shape or not mask.any():
            return None
        counts = np.bincount(self.labels[mask], minlength=len(self.classes))
        best = int(counts.argmax())
        return self.classes[best], float(counts[best] / counts.sum())


@dataclass(frozen=True)
class ObjectRecord:
    """One object on one frame.

    Attributes:
        obj_id: the object's id.
        score: presence probability in [0, 1] (SAM 2's object score).
        visible: score above the threshold and a non-empty mask.
        bbox: (x1, y1, x2, y2) of the mask (x2, y2 exclusive), or None when the mask is empty.
        area: mask pixels.
        rle: COCO RLE of the mask.
        semantic_class: the semantic class covering most of the mask, when a semantic model runs.
        class_fraction: the fraction of the mask that class covers.
        track_class: the class whose region started this object, when tracking by class created
            it (``--track-class``), else None (a user's prompt).
    """

    obj_id: int
    score: float
    visible: bool
    bbox: tuple[int, int, int, int] | None
    area: int
    rle: Rle
    semantic_class: str | None = None
    class_fraction: float | None = None
    track_class: str | None = None

    def mask(self) -> BoolArray:
        return decode_rle(self.rle)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.obj_id,
            "score": round(self.score, 5),
            "visible": self.visible,
            "bbox": list(self.bbox) if self.bbox is not None else None,
            "area": self.area,
            "rle": self.rle.to_json(),
            **({"class": self.semantic_class, "class_fraction": round(self.class_fraction or 0.0, 4)}
               if self.semantic_class is not None else {}),
            **({"track_class": self.track_class} if self.track_class is not None else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ObjectRecord:
        try:
            bbox = data["bbox"]
            return cls(
                obj_id=int(data["id"]),
                score=float(data["score"]),
                visible=bool(data["visible"]),
                bbox=(int(bbox[0]), int(bbox[1]), int(bbox[2]), int(bbox[3])) if bbox is not None else None,
                area=int(data["area"]),
                rle=Rle.from_json(data["rle"]),
                semantic_class=str(data["class"]) if data.get("class") is not None else None,
                class_fraction=float(data["class_fraction"]) if data.get("class_fraction") is not None else None,
                track_class=str(data["track_class"]) if data.get("track_class") is not None else None,
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise InputError(f"not an object record: {exc!r} in {str(data)[:120]}") from exc


@dataclass(frozen=True)
class FrameRecord:
    """Everything the outputs report for one processed frame."""

    index: int
    pts: int | None
    time_base: Fraction | None
    time: float | None
    objects: tuple[ObjectRecord, ...]
    epoch: int = 0  # a live source's reconnections before this frame
    wallclock: float | None = None  # when it was captured (live feeds: decoded)
    sender_wallclock: float | None = None  # the sender's clock, when the stream says it
    class_histogram: tuple[tuple[str, int], ...] | None = None  # pixels per class, when a semantic model runs
    semantic_reused: bool = False  # the semantic map is an earlier frame's (--semantic-every)

    @classmethod
    def build(
        cls, frame: Frame, result: TrackingResult, threshold: float = 0.5, masks: BoolArray | None = None,
        semantic: SemanticMap | None = None, by_class: Mapping[int, str] | None = None, min_area: int = 1,
    ) -> FrameRecord:
        """The record of ``frame``; ``masks`` replaces the result's masks with ones that lie inside
        them (e.g. overlaps resolved), so the result's ``regions`` still hold them; with
        ``semantic``, the class histogram and each object's majority class; ``by_class`` maps
        the ids that tracking by class created to their class. An object is visible when its
        score is above ``threshold`` and its mask holds at least ``min_area`` pixels."""
        masks = result.masks if masks is None else masks
        objects = []
        for k, obj_id in enumerate(result.object_ids.tolist()):
            summary = summarize_mask(masks[k], result.region(k))  # reads only where the tracker says the mask is
            score = float(result.scores[k])
            majority = semantic.majority(masks[k]) if semantic is not None else None
            objects.append(
                ObjectRecord(
                    obj_id=int(obj_id),
                    score=score,
                    visible=score > threshold and summary.area >= max(1, min_area),
                    bbox=summary.box,
                    area=summary.area,
                    rle=summary.rle,
                    semantic_class=majority[0] if majority is not None else None,
                    class_fraction=majority[1] if majority is not None else None,
                    track_class=by_class.get(int(obj_id)) if by_class else None,
                )
            )
        histogram = tuple(semantic.histogram().items()) if semantic is not None else None
        return cls(index=frame.index, pts=frame.pts, time_base=frame.time_base, time=frame.time, objects=tuple(objects),
                   epoch=frame.epoch, wallclock=frame.wallclock, sender_wallclock=frame.sender_wallclock,
                   class_histogram=histogram, semantic_reused=semantic.reused if semantic is not None else False)  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "index": self.index,
            "pts": self.pts,
            "time_base": str(self.time_base) if self.time_base is not None else None,
            "time": self.time,
            "epoch": self.epoch,
            "wallclock": self.wallclock,
            "sender_wallclock": self.sender_wallclock,
            "objects": [o.to_json() for o in self.objects],
            **({"semantic": {"histogram": dict(self.class_histogram), "reused": self.semantic_reused}}
               if self.class_histogram is not None else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FrameRecord:
        try:
            tb = data.get("time_base")
            return cls(
                index=int(data["index"]),
                pts=int(data["pts"]) if data.get("pts") is not None else None,
                time_base=Fraction(tb) if tb else None,
                time=float(data["time"]) if data.get("time") is not None else None,
                objects=tuple(ObjectRecord.from_json(o) for o in data["objects"]),
                epoch=int(data.get("epoch") or 0),
                wallclock=float(data["wallclock"]) if data.get("wallclock") is not None else None,
                sender_wallclock=float(data["sender_wallclock"]) if data.get("sender_wallclock") is not None else None,
                class_histogram=tuple((str(k), int(v)) for k, v in data["semantic"]["histogram"].items())
                if data.get("semantic") else None,
                semantic_reused=bool(data["semantic"].get("reused", False)) if data.get("semantic") else False,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not a frame record: {exc!r} in {str(data)[:120]}") from exc


@dataclass(frozen=True, order=True)
class FrameKey:
    """Names one frame across stages: a later stage joins two branches' results by it.

    Attributes:
        source_id: the source's id.
        epoch: increments when a live source reconnects (its indices and pts may restart).
        index: the frame's index among those the source emitted in this run.
    """

    source_id: str
    epoch: int
    index: int

    @classmethod
    def of(cls, frame: Frame) -> FrameKey:
        return cls(frame.source_id, frame.epoch, frame.index)

    def __str__(self) -> str:  # the Redis ``frame_key`` field
        return f"{self.epoch}:{self.index}"


@dataclass(frozen=True)
class FrameResult:
    """Everything the sinks receive for one processed frame.

    Attributes:
        frame: the decoded frame.
        tracking: the tracker's result (raw logits and masks).
        masks: (N, H, W) bool masks with overlaps resolved (the pixel goes to the object with the
            higher logit): every output shows these.
        record: the frame's :class:`FrameRecord` (built from ``masks``), what JSON lines and
            Redis carry.
        events: what happened on this frame (prompts applied or rejected, objects added, lost,
            reappeared, removed), in order.
        dropped: frames the source dropped or skipped (corrupt) since the previous result.
        semantic: the frame's semantic label map, when a semantic model runs (room for it).
    """

    frame: Frame
    tracking: TrackingResult
    masks: BoolArray = field(repr=False)
    record: FrameRecord = field(repr=False)
    events: tuple[Event, ...] = ()
    dropped: int = 0
    semantic: SemanticMap | None = None

    def __post_init__(self) -> None:
        if self.masks.shape != self.tracking.masks.shape:
            raise InputError(
                f"resolved masks must have the tracking result's shape {self.tracking.masks.shape}; "
                f"found {self.masks.shape}"
            )

    @property
    def key(self) -> FrameKey:
        return FrameKey.of(self.frame)

    @classmethod
    def build(
        cls,
        frame: Frame,
        tracking: TrackingResult,
        masks: BoolArray,
        events: tuple[Event, ...] = (),
        dropped: int = 0,
        threshold: float = 0.5,
        semantic: SemanticMap | None = None,
        by_class: Mapping[int, str] | None = None,
        min_area: int = 1,
    ) -> FrameResult:
        """The result of ``frame``: its record is built from ``masks`` (overlaps resolved), the
        semantic map when there is one, and the classes of objects tracking by class created;
        visibility as in :meth:`FrameRecord.build`."""
        record = FrameRecord.build(frame, tracking, threshold, masks=masks, semantic=semantic, by_class=by_class,
                                   min_area=min_area)  # fmt: skip
        return cls(frame, tracking, masks, record, events, dropped, semantic)
