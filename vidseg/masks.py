"""Mask encodings: COCO run-length encoding (with box and area in the same pass), and label maps.

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
from vidseg.types import BoolArray, region_bounds


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


@dataclass(frozen=True)
class MaskSummary:
    """What a frame record keeps of one mask, from one pass over it.

    Attributes:
        rle: the COCO RLE (the same string as pycocotools' ``encode``).
        box: tight (x1, y1, x2, y2), x2/y2 exclusive; None for an empty mask.
        area: number of mask pixels.
    """

    rle: Rle
    box: tuple[int, int, int, int] | None
    area: int


def summarize_mask(mask: BoolArray, within: Sequence[int] | npt.NDArray[np.int64] | None = None) -> MaskSummary:
    """COCO RLE, tight box and area of an HxW bool mask, reading it once.

    COCO runs go down the columns, so only where the values change matters: each column of the
    region, padded with background above and below, changes value once where a run starts and
    once after it ends. The run lengths, the box (first and last changing row and column) and the
    area (the foreground runs) all follow from those places.

    Args:
        mask: HxW bool.
        within: a box (x1, y1, x2, y2) known to hold every pixel of the mask (a tracker result's
            ``regions``): only that part is read, so the cost follows the object's size, not the
            frame's. None: the whole mask.
    """
    if mask.ndim != 2:
        raise InputError(f"need an HxW mask; found shape {mask.shape}")
    height, width = mask.shape
    x1, y1, x2, y2 = region_bounds(within, height, width)
    padded = np.zeros((y2 - y1 + 2, x2 - x1), dtype=bool)
    padded[1:-1] = mask[y1:y2, x1:x2]
    rows, cols = np.divmod(np.flatnonzero(padded[1:] != padded[:-1]), max(1, x2 - x1))  # (2-D nonzero is slow)
    if rows.size == 0:
        return MaskSummary(_compress([height * width], height, width), None, 0)
    # A column's first change is a run's start and its last one a run's end (the row after it).
    box = (x1 + int(cols.min()), y1 + int(rows.min()), x1 + int(cols.max()) + 1, y1 + int(rows.max()))
    changes = np.sort((cols + x1) * height + rows + y1)  # places in column-major order; ~2 per column
    # A run that ends at the bottom of a column and one that starts at the top of the next are
    # one run: their end and start fall on the same place and cancel out.
    same = np.flatnonzero(changes[1:] == changes[:-1])
    if same.size:
        changes = np.delete(changes, np.concatenate((same, same + 1)))
    if changes.size and changes[-1] == height * width:  # the mask runs to the last pixel
        changes = changes[:-1]
    counts = np.diff(np.concatenate(([0], changes, [height * width])))
    return MaskSummary(_compress(counts.tolist(), height, width), box, int(counts[1::2].sum()))


def _compress(counts: list[int], height: int, width: int) -> Rle:
    encoded = coco_mask.frPyObjects({"counts": counts, "size": [height, width]}, height, width)
    return Rle((height, width), encoded["counts"].decode("ascii"))


def encode_rle(mask: BoolArray, within: Sequence[int] | npt.NDArray[np.int64] | None = None) -> Rle:
    """COCO RLE of an HxW bool mask (the same string as pycocotools' ``encode``); ``within``: a
    box known to hold the whole mask, as :func:`summarize_mask`."""
    return summarize_mask(mask, within).rle


def rle_counts(rle: Rle) -> list[int]:
    """The run lengths of a compressed COCO RLE, checked: every character in ``'0'..'o'``, no
    number cut short, no negative run, and runs that add up to exactly height x width.

    pycocotools' own decoder checks none of this and writes past its buffer when the runs add up
    to more than the mask holds, so untrusted RLE (Redis prompts, files) goes through here.

    Raises:
        InputError: the counts are not a valid RLE of that size.
    """
    height, width = rle.size
    if height < 0 or width < 0:
        raise InputError(f"RLE size must be [height, width] >= 0; found {list(rle.size)}")
    text, total, covered = rle.counts, height * width, 0
    counts: list[int] = []
    p, n = 0, len(text)
    while p < n:
        x, k, more = 0, 0, True
        while more:
            if p >= n:
                raise InputError(f"RLE counts end in the middle of a number (at character {p})")
            c = ord(text[p]) - 48
            if not 0 <= c <= 63:
                raise InputError(f"RLE counts hold {text[p]!r} at character {p}; expected characters '0'..'o'")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        if x < 0 or x > total:
            raise InputError(f"RLE run {len(counts)} is {x}; runs must lie in 0..{total} for size {list(rle.size)}")
        counts.append(x)
        covered += x
        if covered > total:
            raise InputError(f"RLE runs add up to more than the {height}x{width} = {total} pixels of its size")
    if covered != total:
        raise InputError(f"RLE runs add up to {covered}; size {list(rle.size)} holds {total} pixels")
    return counts


def decode_rle(rle: Rle) -> BoolArray:
    """The HxW bool mask of a COCO RLE (checked first, see :func:`rle_counts`).

    Raises:
        InputError: the RLE is not valid for its size.
    """
    counts = rle_counts(rle)
    height, width = rle.size
    values = np.zeros(len(counts), dtype=bool)
    values[1::2] = True  # runs alternate background, object, ... starting with background
    flat = np.repeat(values, counts)
    return np.ascontiguousarray(flat.reshape(width, height).T)  # runs are column-major


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
    # The 5x5 mask's transform is sequential (the exact one runs in parallel and can break
    # near-ties differently from run to run); rounding makes ties exact, and argmax takes the first.
    depth = np.round(cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1], 4)
    y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
    return float(x), float(y)
