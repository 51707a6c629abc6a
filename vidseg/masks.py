"""Mask encodings: COCO run-length encoding, and label maps (tight boxes: ``vidseg.types.mask_box``).

COCO RLE follows pycocotools: column-major runs, compressed to the ASCII ``counts`` string
(decoded to ``str`` so it fits JSON), with ``size = [height, width]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
from pycocotools import mask as coco_mask

from vidseg.errors import InputError
from vidseg.types import BoolArray


@dataclass(frozen=True)
class Rle:
    """A COCO compressed RLE mask: ``size`` is (height, width), ``counts`` the ASCII runs."""

    size: tuple[int, int]
    counts: str

    def to_json(self) -> dict[str, object]:
        return {"size": list(self.size), "counts": self.counts}

    @classmethod
    def from_json(cls, data: object) -> Rle:
        if not isinstance(data, dict) or "size" not in data or "counts" not in data:
            raise InputError(f"an RLE mask must be a mapping with 'size' and 'counts'; found {data!r:.80}")
        size = data["size"]
        if not (isinstance(size, (list, tuple)) and len(size) == 2):
            raise InputError(f"RLE 'size' must be [height, width]; found {size!r}")
        counts = data["counts"]
        if isinstance(counts, bytes):
            counts = counts.decode("ascii")
        if not isinstance(counts, str):
            raise InputError(f"RLE 'counts' must be the compressed string form; found {type(counts).__name__}")
        return cls((int(size[0]), int(size[1])), counts)


def encode_rle(mask: BoolArray) -> Rle:
    """COCO RLE of an HxW bool mask."""
    if mask.ndim != 2:
        raise InputError(f"encode_rle needs an HxW mask; found shape {mask.shape}")
    encoded = coco_mask.encode(np.asfortranarray(mask, dtype=np.uint8))
    return Rle((int(encoded["size"][0]), int(encoded["size"][1])), encoded["counts"].decode("ascii"))


def decode_rle(rle: Rle) -> BoolArray:
    """The HxW bool mask of a COCO RLE."""
    try:
        decoded = coco_mask.decode({"size": list(rle.size), "counts": rle.counts.encode("ascii")})
    except Exception as exc:  # pycocotools raises bare errors on bad input
        raise InputError(f"invalid RLE counts for size {rle.size}: {exc}") from exc
    return np.asarray(decoded, dtype=bool)


def label_dtype(max_id: int) -> type[np.uint8] | type[np.uint16]:
    """uint8 for ids up to 255, uint16 up to 65535."""
    if max_id < 0 or max_id > 65535:
        raise InputError(f"object ids must be in 0..65535 for a label map; found {max_id}")
    return np.uint8 if max_id <= 255 else np.uint16


def exclusive_masks(masks: BoolArray, logits: npt.NDArray[np.float32]) -> BoolArray:
    """Masks with overlaps resolved: a pixel claimed by several objects goes to the one with the
    highest logit there (SAM 2's non-overlap rule), so every pixel has at most one object."""
    if masks.shape != logits.shape or masks.ndim != 3:
        raise InputError(f"masks {masks.shape} and logits {logits.shape} must both be (N, H, W)")
    if masks.shape[0] < 2:
        return masks
    overlap = masks.sum(axis=0) > 1
    if not overlap.any():
        return masks
    winner = np.argmax(np.where(masks, logits, -np.inf), axis=0)
    resolved = masks.copy()
    for k in range(masks.shape[0]):
        resolved[k] &= ~overlap | (winner == k)
    return resolved


def to_label_map(
    masks: BoolArray, object_ids: Sequence[int] | npt.NDArray[np.int64], dtype: type | None = None
) -> npt.NDArray[np.uint8] | npt.NDArray[np.uint16]:
    """Merge (N, H, W) masks into one HxW map of object ids (0 = background).

    Where masks overlap, the object listed later wins (the order the tracker reports them).
    """
    ids = [int(v) for v in object_ids]
    if masks.ndim != 3 or masks.shape[0] != len(ids):
        raise InputError(f"need (N, H, W) masks for {len(ids)} ids; found shape {masks.shape}")
    if 0 in ids:
        raise InputError("object id 0 is the background in a label map; use ids >= 1")
    out_dtype = dtype if dtype is not None else label_dtype(max(ids, default=0))
    labels: npt.NDArray[np.uint8] | npt.NDArray[np.uint16] = np.zeros(masks.shape[1:], dtype=out_dtype)
    for mask, obj_id in zip(masks, ids, strict=True):
        labels[mask] = obj_id
    return labels


def interior_point(mask: BoolArray) -> tuple[float, float]:
    """The (x, y) pixel centre deepest inside ``mask`` (farthest from its edge): where a person
    would click to pick the object. Raises ValueError for an empty mask."""
    if not mask.any():
        raise ValueError("cannot pick a point inside an empty mask")
    padded = np.pad(mask.astype(np.uint8), 1)  # the frame border counts as an edge
    depth = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
    return float(x), float(y)
