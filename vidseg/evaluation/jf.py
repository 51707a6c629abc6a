"""DAVIS J&F: region similarity J and boundary accuracy F, per frame, per object and per sequence.

The definitions are those of the DAVIS 2017 semi-supervised benchmark (the reference is
``davisvideochallenge/davis2017-evaluation``: ``davis2017/metrics.py`` for J and F, ``utils.py``
for the statistics, ``evaluation.py`` and ``davis.py`` for objects, void and frames):

- **J** is the IoU of the two binary masks; 1 when both are empty.
- **F** compares the masks' one-pixel boundaries (see :func:`boundary_map`). A boundary pixel of one
  mask is matched when the other's boundary has a pixel within ``radius`` (Euclidean, a disk; see
  :func:`boundary_radius`). Precision and recall give F = 2PR / (P + R). Both boundaries empty
  gives 1; exactly one empty gives 0 (DAVIS sets P=1, R=0 or P=0, R=1).
- **Statistics** over an object's frames (:func:`summarize`): mean, recall (share of frames
  scoring more than 0.5) and decay (first quarter's mean minus last quarter's, DAVIS's four
  overlapping bins).
- **Frames:** the first and the last frame of each sequence are excluded (the first carries the
  prompt), unless ``keep_first_last`` is set.
- **Objects** are the ids found in any ground-truth frame (0 is background). DAVIS takes ids
  ``1..max`` of the first frame; the two agree on DAVIS data, where every object is in frame 0, and
  ours also counts objects that enter later. An object missing from a predicted frame has an empty
  mask there. Predicted ids that never occur in the ground truth are ignored.
- **Void:** ground-truth pixels of value 255 count as background and are *not* excluded. That is
  what the DAVIS 2017 semi-supervised evaluation does: ``davis.py`` zeroes 255 in the annotations
  and ``evaluation.py`` passes no void mask to the semi-supervised measures. So id 255 is never
  an object.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from vidseg.errors import ConfigError, InputError

LabelArray = npt.NDArray[np.integer[Any]] | npt.NDArray[np.bool_]
BoolArray = npt.NDArray[np.bool_]

VOID_ID = 255
DEFAULT_BOUND_TH = 0.008
RECALL_THRESHOLD = 0.5
_DECAY_BINS = 4


def _as_masks(pred: npt.ArrayLike, gt: npt.ArrayLike) -> tuple[BoolArray, BoolArray]:
    p = np.asarray(pred)
    g = np.asarray(gt)
    if p.ndim != 2 or p.shape != g.shape:
        raise InputError(
            f"expected two HxW masks of the same size; found shapes {p.shape} (prediction) and {g.shape} (ground truth)"
        )
    return p != 0, g != 0


def region_similarity(pred: npt.ArrayLike, gt: npt.ArrayLike) -> float:
    """J: the intersection over union of two masks (nonzero = foreground); 1.0 when both are empty.

    Raises:
        InputError: the masks are not 2-D or differ in size.

    Example:
        >>> region_similarity(np.array([[1, 1, 0, 0]]), np.array([[0, 1, 1, 0]]))
        0.3333333333333333
    """
    p, g = _as_masks(pred, gt)
    union = int(np.count_nonzero(p | g))
    if union == 0:
        return 1.0
    return int(np.count_nonzero(p & g)) / union


def boundary_map(mask: npt.ArrayLike) -> BoolArray:
    """The one-pixel boundary of a mask, DAVIS's ``seg2bmap`` rule.

    A pixel is on the boundary when it differs from any of its right, bottom and bottom-right
    neighbours that lie inside the image. The boundary therefore sits half a pixel towards the
    origin: the last row and column of a blob, and the row and column just before it. A mask that
    fills the whole image has no boundary.
    """
    m = np.asarray(mask) != 0
    if m.ndim != 2:
        raise InputError(f"expected an HxW mask; found shape {m.shape}")
    # Repeating the last row and column makes the missing neighbours equal to the pixel itself.
    padded = np.pad(m, ((0, 1), (0, 1)), mode="edge")
    return (m != padded[:-1, 1:]) | (m != padded[1:, :-1]) | (m != padded[1:, 1:])


def check_bound_th(bound_th: float) -> None:
    """Raise :class:`ConfigError` unless ``bound_th`` is a fraction in (0, 1) or a whole radius >= 1."""
    if not bound_th > 0 or math.isinf(bound_th):  # `not >` also rejects NaN
        raise ConfigError(
            f"bound_th must be a fraction of the image diagonal in (0, 1) or a radius >= 1; found {bound_th}"
        )
    if bound_th >= 1 and bound_th != int(bound_th):
        raise ConfigError(
            f"bound_th >= 1 is a radius in pixels and must be a whole number; found {bound_th} (or give a fraction < 1)"
        )


def boundary_radius(shape: tuple[int, ...], bound_th: float = DEFAULT_BOUND_TH) -> int:
    """The matching tolerance in pixels: ``ceil(bound_th * diagonal)`` for ``bound_th < 1``, else ``bound_th``.

    Example: a 100x100 image has a diagonal of 141.4 px, so the default 0.008 gives ceil(1.13) = 2.
    """
    check_bound_th(bound_th)
    if bound_th >= 1:
        return int(bound_th)
    height, width = shape[:2]
    return math.ceil(bound_th * math.sqrt(height * height + width * width))


def disk(radius: int) -> npt.NDArray[np.uint8]:
    """A (2r+1)x(2r+1) disk: the offsets with dy² + dx² <= r².

    This is the structuring element DAVIS dilates with (``skimage.morphology.disk``). OpenCV's
    ``MORPH_ELLIPSE`` kernel is not the same shape (its 5x5 one also holds the offsets (±1, ±2)), so
    the disk is built here and handed to ``cv2.dilate``.
    """
    offsets = np.arange(-radius, radius + 1)
    return (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius * radius).astype(np.uint8)


def _window(mask: BoolArray) -> tuple[slice, slice] | None:
    """The mask's bounding box grown by one pixel (clipped to the image), or None when it is empty.

    The boundary map of this crop equals the crop of the full boundary map, and no boundary pixel
    lies outside it; dilation treats pixels beyond the crop as unset. So F on the crop equals F on
    the full image, at a cost that scales with the objects rather than the frame.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    height, width = mask.shape
    return (
        slice(max(int(rows[0]) - 1, 0), min(int(rows[-1]) + 2, height)),
        slice(max(int(cols[0]) - 1, 0), min(int(cols[-1]) + 2, width)),
    )


def boundary_measure(pred: npt.ArrayLike, gt: npt.ArrayLike, bound_th: float = DEFAULT_BOUND_TH) -> float:
    """F: the boundary F-measure of two masks (nonzero = foreground), as DAVIS computes it.

    Args:
        pred, gt: HxW masks of the same size.
        bound_th: matching tolerance, a fraction of the image diagonal (< 1) or a radius in pixels.

    Returns:
        2PR / (P + R), where P is the share of the prediction's boundary pixels that have a
        ground-truth boundary pixel within the radius, and R the converse. 1.0 when neither mask has
        a boundary, 0.0 when exactly one has.

    Raises:
        InputError: the masks are not 2-D or differ in size.
        ConfigError: ``bound_th`` is not positive, or is >= 1 and not whole.
    """
    p, g = _as_masks(pred, gt)
    radius = boundary_radius(p.shape, bound_th)
    window = _window(p | g)
    if window is None:
        return 1.0
    pred_edge = boundary_map(p[window])
    gt_edge = boundary_map(g[window])
    n_pred = int(np.count_nonzero(pred_edge))
    n_gt = int(np.count_nonzero(gt_edge))
    if n_pred == 0 or n_gt == 0:
        return 1.0 if n_pred == n_gt else 0.0
    kernel = disk(radius)
    near_gt = cv2.dilate(gt_edge.astype(np.uint8), kernel) > 0
    near_pred = cv2.dilate(pred_edge.astype(np.uint8), kernel) > 0
    precision = int(np.count_nonzero(pred_edge & near_gt)) / n_pred
    recall = int(np.count_nonzero(gt_edge & near_pred)) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class Summary:
    """Statistics of one measure over an object's evaluated frames."""

    mean: float
    recall: float
    decay: float


def decay_bins(count: int) -> list[tuple[int, int]]:
    """DAVIS's four decay bins over ``count`` frames, as half-open index ranges; neighbours share a frame.

    The edges are ``round(linspace(1, count, 5)) - 1`` with halves rounded up (DAVIS adds 1e-10
    before ``np.round``), and bin i covers ``edges[i] .. edges[i + 1]`` inclusive. For 8 frames:
    [0, 3), [2, 5), [4, 6), [5, 8). DAVIS stores the edges as uint8, which wraps from 256 scored
    frames on (its decay then comes out NaN); here they stay ints, so the two agree up to 255.
    """
    if count < 1:
        raise InputError(f"decay needs at least one frame; found {count}")
    edges = [math.floor(x + 0.5) - 1 for x in np.linspace(1, count, _DECAY_BINS + 1)]
    return [(edges[i], edges[i + 1] + 1) for i in range(_DECAY_BINS)]


def summarize(values: Sequence[float]) -> Summary:
    """Mean, recall (share of values > 0.5) and decay (first bin's mean minus last bin's) of per-frame values.

    Raises:
        InputError: ``values`` is empty.
    """
    if len(values) == 0:
        raise InputError("cannot summarise an object over zero frames; expected at least one evaluated frame")
    array = np.asarray(values, dtype=np.float64)
    bins = decay_bins(len(array))
    first, last = bins[0], bins[-1]
    return Summary(
        mean=float(array.mean()),
        recall=float(np.mean(array > RECALL_THRESHOLD)),
        decay=float(array[first[0] : first[1]].mean() - array[last[0] : last[1]].mean()),
    )


@dataclass(frozen=True)
class FramePair:
    """A ground-truth label map and the predicted one for the same frame (pixel value = object id)."""

    name: str
    pred: LabelArray
    gt: LabelArray

    def __post_init__(self) -> None:
        for role, labels in (("prediction", self.pred), ("ground truth", self.gt)):
            if labels.ndim != 2 or not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == np.bool_):
                raise InputError(
                    f"frame {self.name}: the {role} must be an HxW integer label map; "
                    f"found shape {labels.shape}, dtype {labels.dtype}"
                )
        if self.pred.shape != self.gt.shape:
            raise InputError(
                f"frame {self.name}: the prediction is {self.pred.shape[0]}x{self.pred.shape[1]} but the ground "
                f"truth is {self.gt.shape[0]}x{self.gt.shape[1]} (height x width); predict at the ground truth's size"
            )


@dataclass(frozen=True)
class ObjectScores:
    """J and F of one object of one sequence: statistics and the per-frame values they come from."""

    sequence: str
    obj_id: int
    j_mean: float
    j_recall: float
    j_decay: float
    f_mean: float
    f_recall: float
    f_decay: float
    frames: tuple[str, ...]
    j: tuple[float, ...]
    f: tuple[float, ...]

    def __post_init__(self) -> None:
        if not len(self.frames) == len(self.j) == len(self.f):
            raise InputError(
                f"object {self.obj_id} of {self.sequence!r}: expected one J and one F per frame; "
                f"found {len(self.frames)} frames, {len(self.j)} J and {len(self.f)} F values"
            )

    @property
    def jf_mean(self) -> float:
        return (self.j_mean + self.f_mean) / 2

    @classmethod
    def from_frames(
        cls, sequence: str, obj_id: int, frames: Sequence[str], j: Sequence[float], f: Sequence[float]
    ) -> ObjectScores:
        """Summarise per-frame J and F values (already restricted to the evaluated frames)."""
        sj, sf = summarize(j), summarize(f)
        return cls(sequence, obj_id, sj.mean, sj.recall, sj.decay, sf.mean, sf.recall, sf.decay,
                   tuple(frames), tuple(float(v) for v in j), tuple(float(v) for v in f))  # fmt: skip


class ObjectRule(str, Enum):
    """Which ids of a ground-truth sequence are its objects."""

    ALL_FRAMES = "all-frames"  # ids of the first frame and of every scored frame (vidseg's default)
    FIRST_FRAME = "first-frame"  # ids 1..max of the first frame, void aside (DAVIS 2017's code)

    @property
    def description(self) -> str:
        if self is ObjectRule.FIRST_FRAME:
            return "objects: ids 1..max of each sequence's first ground-truth frame (DAVIS 2017's rule)"
        return "objects: ids in each sequence's first ground-truth frame or any scored frame (vidseg's rule)"


def _object_ids(labels: LabelArray) -> set[int]:
    return {int(v) for v in np.unique(labels)} - {0}


def score_frame(pair: FramePair, bound_th: float = DEFAULT_BOUND_TH) -> dict[int, tuple[float, float]]:
    """(J, F) of every id present in either label map of one frame; ground-truth void counts as background.

    Ids absent from both maps are left out: they score (1.0, 1.0).
    """
    gt = np.where(pair.gt == VOID_ID, 0, pair.gt)
    scores: dict[int, tuple[float, float]] = {}
    for obj_id in sorted(_object_ids(gt) | _object_ids(pair.pred)):
        pred_mask, gt_mask = pair.pred == obj_id, gt == obj_id
        scores[obj_id] = (region_similarity(pred_mask, gt_mask), boundary_measure(pred_mask, gt_mask, bound_th))
    return scores


def evaluate_sequence(
    sequence: str,
    frames: Iterable[FramePair],
    *,
    bound_th: float = DEFAULT_BOUND_TH,
    keep_first_last: bool = False,
    objects: ObjectRule = ObjectRule.ALL_FRAMES,
) -> tuple[ObjectScores, ...]:
    """Score every ground-truth object of one sequence, frames in order.

    Frames are consumed one at a time (nothing but the per-frame scores is kept). Which ids are
    objects follows ``objects``: by default the ids of the first frame and of every scored frame
    (an id seen only in the unscored last frame is no object: it would score 1.0 on every frame);
    with :attr:`ObjectRule.FIRST_FRAME`, DAVIS 2017's ids 1..max of the first frame.

    Args:
        sequence: name carried by the results.
        frames: the sequence's frames in order.
        bound_th: F's matching tolerance (see :func:`boundary_radius`).
        keep_first_last: also score the first and last frame (DAVIS excludes them).
        objects: which ids are the sequence's objects (see :class:`ObjectRule`).

    Returns:
        One :class:`ObjectScores` per ground-truth object, by id; empty when the ground truth has
        no object.

    Raises:
        InputError: no frames, or none left once the first and last are excluded.
    """
    check_bound_th(bound_th)
    objects = ObjectRule(objects)
    gt_ids: set[int] = set()
    first_ids: set[int] = set()
    last_ids: set[int] = set()  # of the frame held back: objects only if it turns out scored
    names: list[str] = []
    per_frame: list[dict[int, tuple[float, float]]] = []
    pending: FramePair | None = None  # held back until the next frame shows it was not the last
    total = 0
    for pair in frames:
        total += 1
        ids = _object_ids(pair.gt) - {VOID_ID}
        if total == 1:
            first_ids = ids
        gt_ids |= last_ids
        last_ids = ids
        if keep_first_last:
            names.append(pair.name)
            per_frame.append(score_frame(pair, bound_th))
            continue
        if pending is not None:
            names.append(pending.name)
            per_frame.append(score_frame(pending, bound_th))
        pending = pair if total > 1 else None
    if total == 0:
        raise InputError(f"sequence {sequence!r} has no frames; expected at least one ground-truth frame")
    if not names:
        raise InputError(
            f"sequence {sequence!r} has {total} frame(s); with the first and last excluded (DAVIS semi-supervised) "
            "none is left to score. Evaluate at least 3 frames, or keep them (keep_first_last=True, "
            "vidseg eval --keep-first-last)"
        )
    if keep_first_last or total == 1:
        gt_ids |= last_ids
    gt_ids |= first_ids
    if objects is ObjectRule.FIRST_FRAME:
        gt_ids = set(range(1, max(first_ids) + 1)) if first_ids else set()
    rows = []
    for obj_id in sorted(gt_ids):
        values = [scores.get(obj_id, (1.0, 1.0)) for scores in per_frame]
        rows.append(ObjectScores.from_frames(sequence, obj_id, names, [v[0] for v in values], [v[1] for v in values]))
    return tuple(rows)
