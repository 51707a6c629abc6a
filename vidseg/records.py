"""Per-frame result records: what outputs (JSON lines, later Redis) carry for each frame.

A :class:`FrameRecord` is built once from a frame and its tracking result, and encodes to and
from plain JSON; masks travel as COCO RLE.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from vidseg.errors import InputError
from vidseg.masks import Rle, decode_rle, summarize_mask
from vidseg.types import BoolArray, Frame, TrackingResult

SCHEMA_VERSION = 1


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
    """

    obj_id: int
    score: float
    visible: bool
    bbox: tuple[int, int, int, int] | None
    area: int
    rle: Rle

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

    @classmethod
    def build(
        cls, frame: Frame, result: TrackingResult, threshold: float = 0.5, masks: BoolArray | None = None
    ) -> FrameRecord:
        """The record of ``frame``; ``masks`` replaces the result's masks with ones that lie inside
        them (e.g. overlaps resolved), so the result's ``regions`` still hold them."""
        masks = result.masks if masks is None else masks
        objects = []
        for k, obj_id in enumerate(result.object_ids.tolist()):
            summary = summarize_mask(masks[k], result.region(k))  # reads only where the tracker says the mask is
            score = float(result.scores[k])
            objects.append(
                ObjectRecord(
                    obj_id=int(obj_id),
                    score=score,
                    visible=score > threshold and summary.area > 0,  # as TrackingResult.visible
                    bbox=summary.box,
                    area=summary.area,
                    rle=summary.rle,
                )
            )
        return cls(index=frame.index, pts=frame.pts, time_base=frame.time_base, time=frame.time, objects=tuple(objects))

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "index": self.index,
            "pts": self.pts,
            "time_base": str(self.time_base) if self.time_base is not None else None,
            "time": self.time,
            "objects": [o.to_json() for o in self.objects],
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
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not a frame record: {exc!r} in {str(data)[:120]}") from exc
