"""Typed, frozen records that travel between pipeline stages.

Each record validates its shapes and dtypes on construction, so a stage never receives data it
has to second-guess. Arrays inside are not copied; treat them as read-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from vidseg.errors import FrameError, InputError, PromptError

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
ImageArray = npt.NDArray[np.uint8]


def check_image(image: object, what: str = "frame") -> ImageArray:
    """Return ``image`` if it is an HxWx3 uint8 RGB array, else raise :class:`FrameError`."""
    if not isinstance(image, np.ndarray):
        raise FrameError(
            f"{what} must be a numpy array of shape (H, W, 3) and dtype uint8 (RGB); found {type(image).__name__}"
        )
    if image.ndim != 3 or image.shape[2] != 3:
        raise FrameError(
            f"{what} must have shape (H, W, 3) with 3 RGB channels; found shape {image.shape}. "
            "Convert grayscale or RGBA images to RGB first."
        )
    if image.dtype != np.uint8:
        raise FrameError(
            f"{what} must have dtype uint8 (0..255); found {image.dtype}. "
            "Scale float images with (img * 255).round().astype(np.uint8)."
        )
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise FrameError(f"{what} must not be empty; found shape {image.shape}")
    return image


def region_bounds(within: Sequence[int] | IntArray | None, height: int, width: int) -> tuple[int, int, int, int]:
    """A region box (x1, y1, x2, y2; x2/y2 exclusive) as ints, checked to lie inside a
    ``height`` x ``width`` mask; None: the whole mask."""
    if within is None:
        return 0, 0, width, height
    x1, y1, x2, y2 = (int(v) for v in within)
    if not (0 <= x1 <= x2 <= width and 0 <= y1 <= y2 <= height):
        raise InputError(f"region {(x1, y1, x2, y2)} is not inside the {width}x{height} mask")
    return x1, y1, x2, y2


def mask_box(mask: BoolArray, within: Sequence[int] | IntArray | None = None) -> tuple[int, int, int, int] | None:
    """Tight (x1, y1, x2, y2) box of an HxW mask, x2/y2 exclusive; None when the mask is empty.

    ``within``: a box (x1, y1, x2, y2) known to hold every pixel of the mask (the tracker's
    :attr:`TrackingResult.regions`); only that part of the mask is read.
    """
    x0, y0 = 0, 0
    if within is not None:
        x0, y0, x_end, y_end = region_bounds(within, mask.shape[0], mask.shape[1])
        mask = mask[y0:y_end, x0:x_end]
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    y1, y2 = int(rows[0]), int(rows[-1]) + 1
    cols = np.flatnonzero(mask[y1:y2].any(axis=0))  # only the rows that hold the mask
    return x0 + int(cols[0]), y0 + y1, x0 + int(cols[-1]) + 1, y0 + y2


@dataclass(frozen=True)
class Frame:
    """One decoded video frame and where it came from.

    Attributes:
        image: HxWx3 uint8 RGB pixels.
        index: position of the frame among those the source emitted (0-based).
        pts: presentation timestamp in ``time_base`` units, as the decoder reported it.
        time_base: unit of ``pts`` in seconds.
        time: ``pts * time_base`` in seconds (None when the source has no timestamps).
        wallclock: capture wall-clock time (seconds since the epoch), when known (live feeds:
            when the frame was decoded).
        sender_wallclock: the sender's wall-clock time of the frame, when the stream says it
            (RTCP sender reports).
        source_id: name of the source that produced the frame.
        epoch: increments when a live source reconnects (its pts may restart).
        name: the frame's own name, when it has one (an image file's stem), for outputs that
            pair results with source files (DAVIS PNGs).
    """

    image: ImageArray
    index: int
    pts: int | None = None
    time_base: Fraction | None = None
    time: float | None = None
    wallclock: float | None = None
    sender_wallclock: float | None = None
    source_id: str = ""
    epoch: int = 0
    name: str | None = None

    def __post_init__(self) -> None:
        check_image(self.image)
        if self.index < 0:
            raise InputError(f"frame index must be >= 0; found {self.index}")

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


@dataclass(frozen=True)
class Prompt:
    """A user prompt for one object: clicks, a box, both, or a mask.

    Coordinates are pixels of the frame the prompt applies to, x to the right and y down.

    Attributes:
        obj_id: the object the prompt is for (a new id starts a new object).
        points: clicked points as (x, y) pairs.
        labels: one label per point: 1 = positive (object), 0 = negative (background).
        box: (x1, y1, x2, y2) with x1 < x2 and y1 < y2.
        mask: HxW bool mask of the object, the size of the frame.

    Raises:
        PromptError: on a malformed prompt (mismatched labels, bad box, empty mask, ...).
    """

    obj_id: int
    points: tuple[tuple[float, float], ...] = ()
    labels: tuple[int, ...] = ()
    box: tuple[float, float, float, float] | None = None
    mask: BoolArray | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.obj_id, bool) or not isinstance(self.obj_id, (int, np.integer)):
            raise PromptError(f"obj_id must be an int; found {self.obj_id!r}")
        if self.obj_id < 0:
            raise PromptError(f"obj_id must be >= 0; found {self.obj_id}")
        object.__setattr__(self, "obj_id", int(self.obj_id))  # numpy ints become plain ints
        if len(self.points) != len(self.labels):
            raise PromptError(
                f"each point needs one label: found {len(self.points)} points and {len(self.labels)} labels"
            )
        for p in self.points:
            if len(p) != 2 or not all(np.isfinite(v) for v in p):
                raise PromptError(f"a point must be a finite (x, y) pair; found {p!r}")
        for lab in self.labels:
            if lab not in (0, 1):
                raise PromptError(f"point labels must be 1 (positive) or 0 (negative); found {lab!r}")
        if self.box is not None:
            if len(self.box) != 4 or not all(np.isfinite(v) for v in self.box):
                raise PromptError(f"a box must be four finite numbers (x1, y1, x2, y2); found {self.box!r}")
            x1, y1, x2, y2 = self.box
            if not (x1 < x2 and y1 < y2):
                raise PromptError(f"a box must have x1 < x2 and y1 < y2; found {self.box!r}")
        if self.mask is not None:
            if self.points or self.box is not None:
                raise PromptError("a mask prompt cannot be combined with points or a box; send them separately")
            if not isinstance(self.mask, np.ndarray) or self.mask.ndim != 2:
                shape = getattr(self.mask, "shape", None)
                raise PromptError(f"a mask prompt must be an HxW array; found shape {shape}")
            if self.mask.dtype != np.bool_:
                raise PromptError(f"a mask prompt must have dtype bool; found {self.mask.dtype} (use mask > 0)")
            if not self.mask.any():
                raise PromptError(
                    f"the mask prompt for object {self.obj_id} is empty (no pixel set); "
                    "give a mask that covers the object"
                )
        elif not self.points and self.box is None:
            raise PromptError(f"the prompt for object {self.obj_id} has no points, box or mask; give at least one")

    @property
    def kind(self) -> str:
        """'mask', 'box', 'points' or 'box+points'."""
        if self.mask is not None:
            return "mask"
        if self.box is not None:
            return "box+points" if self.points else "box"
        return "points"

    def geometry_json(self) -> dict[str, Any]:
        """The points (with their labels) and box as JSON-ready lists; a mask is left to the
        caller, which decides how to write it (RLE, or just its area)."""
        out: dict[str, Any] = {}
        if self.points:
            out["points"] = [list(xy) for xy in self.points]
            out["labels"] = list(self.labels)
        if self.box is not None:
            out["box"] = list(self.box)
        return out

    def misfit(self, height: int, width: int) -> str | None:
        """Why the prompt does not fit a ``height`` x ``width`` frame, or None when it does: every
        point and both corners of the box inside it (edges included), a mask of the frame's
        size. The one rule for prompts from every origin (command line, file, Redis, API)."""
        for x, y in self.points:
            if not (0 <= x <= width and 0 <= y <= height):
                return (
                    f"point ({x:g}, {y:g}) of object {self.obj_id} lies outside the {width}x{height} frame; "
                    f"expected 0 <= x <= {width} and 0 <= y <= {height}"
                )
        if self.box is not None:
            x1, y1, x2, y2 = self.box
            if not (x1 >= 0 and y1 >= 0 and x2 <= width and y2 <= height):
                return (
                    f"box {[f'{v:g}' for v in self.box]} of object {self.obj_id} reaches outside the {width}x{height} "
                    f"frame; expected 0 <= x1 < x2 <= {width} and 0 <= y1 < y2 <= {height}"
                )
        if self.mask is not None and self.mask.shape != (height, width):
            return (
                f"the mask prompt of object {self.obj_id} has shape {self.mask.shape}; "
                f"expected the frame's shape {(height, width)}"
            )
        return None

    def check_inside(self, height: int, width: int) -> None:
        """Raise :class:`PromptError` unless the prompt fits a ``height`` x ``width`` frame (see :meth:`misfit`)."""
        reason = self.misfit(height, width)
        if reason is not None:
            raise PromptError(reason)


@dataclass(frozen=True)
class ModelInfo:
    """What produced a result: model name, image size, and where its weights came from."""

    name: str
    image_size: int
    checkpoint: str | None
    checkpoint_sha256: str | None
    random_weights: bool
    device: str
    dtype: str


@dataclass(frozen=True)
class TrackingResult:
    """The tracker's output for one frame: parallel arrays over the N tracked objects.

    Attributes:
        frame_index: the tracker's frame counter for this frame.
        object_ids: (N,) int64 object ids, in the order objects were added.
        masks: (N, H, W) bool masks at frame size (``logits > 0``).
        logits: (N, H, W) float32 mask logits at frame size.
        scores: (N,) float32 presence probability in [0, 1] from SAM 2's object score.
        model: the model that produced the result (says whether weights were random).
        frame: the input frame's record, when a :class:`Frame` was given.
        regions: (N, 4) int64 boxes (x1, y1, x2, y2; x2/y2 exclusive) that each hold every pixel
            of the object's mask (not necessarily tightly), when the producer knows them: the
            tracker derives them from its low-resolution masks so that consumers read only that
            part of a full-size mask. None: unknown (the whole frame).
    """

    frame_index: int
    object_ids: IntArray
    masks: BoolArray
    logits: FloatArray
    scores: FloatArray
    model: ModelInfo
    frame: Frame | None = field(default=None, compare=False)
    regions: IntArray | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        n = self.object_ids.shape[0] if self.object_ids.ndim == 1 else -1
        if n < 0:
            raise InputError(f"object_ids must be 1-D; found shape {self.object_ids.shape}")
        if self.masks.ndim != 3 or self.masks.shape[0] != n or self.masks.dtype != np.bool_:
            raise InputError(f"masks must be a ({n}, H, W) bool array; found {self.masks.shape} {self.masks.dtype}")
        if self.logits.shape != self.masks.shape or self.logits.dtype != np.float32:
            raise InputError(
                f"logits must be float32 of shape {self.masks.shape}; found {self.logits.shape} {self.logits.dtype}"
            )
        if self.scores.shape != (n,):
            raise InputError(f"scores must have shape ({n},); found {self.scores.shape}")
        if self.regions is not None and (self.regions.shape != (n, 4) or self.regions.dtype.kind not in "iu"):
            raise InputError(
                f"regions must be a ({n}, 4) integer array or None; found {self.regions.shape} {self.regions.dtype}"
            )

    def region(self, k: int) -> IntArray | None:
        """The box holding the ``k``-th object's mask (see ``regions``), or None when unknown."""
        return None if self.regions is None else self.regions[k]

    def __len__(self) -> int:
        return int(self.object_ids.shape[0])

    @property
    def boxes(self) -> FloatArray:
        """(N, 4) float32 tight boxes (x1, y1, x2, y2) of each mask; zeros for an empty mask."""
        out = np.zeros((len(self), 4), dtype=np.float32)
        for i, mask in enumerate(self.masks):
            box = mask_box(mask, self.region(i))
            if box is not None:
                out[i] = box
        return out

    def visible(self, threshold: float = 0.5, masks: BoolArray | None = None) -> BoolArray:
        """(N,) bool: the object is present (score above ``threshold``) and its mask non-empty
        (``masks`` replaces this result's masks, e.g. after overlaps were resolved)."""
        masks = self.masks if masks is None else masks
        return (self.scores > threshold) & masks.reshape(len(self), masks.shape[1] * masks.shape[2]).any(axis=1)

    def mask_of(self, obj_id: int) -> BoolArray:
        """The mask of object ``obj_id``; raises :class:`KeyError` if it is not tracked."""
        hits = np.flatnonzero(self.object_ids == obj_id)
        if hits.size == 0:
            raise KeyError(f"object {obj_id} is not in this result (ids: {self.object_ids.tolist()})")
        return self.masks[int(hits[0])]
