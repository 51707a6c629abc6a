"""Multi-object tracking and segmentation (MOTS) scores of instance label maps.

Each nonzero id of a label map is one object's mask in that frame (a *detection*), and an id's
masks over a sequence are its *track*. The ground truth's tracks are scored against the
prediction's with the measures of the MOTS and HOTA papers, computed by TrackEval (HOTA's
reference implementation, the evaluation code of the MOTChallenge and KITTI tracking benchmarks)
on the mask IoU of every ground-truth and predicted detection of each frame:

- **HOTA**, with **DetA** (detection accuracy) and **AssA** (association accuracy), each the mean
  over TrackEval's 19 localisation thresholds 0.05, 0.10, ..., 0.95; **LocA**, the mean IoU of
  the matched detections.
- **MOTSA** (MOTA on masks): (TP - FP - IDSW) / ground-truth detections, a ground-truth and a
  predicted mask matching when their IoU is at least ``iou_threshold`` (0.5: since the masks of a
  label map never overlap, at most one predicted mask can pass per ground-truth mask, bar an exact
  tie; TrackEval matches at IoU >= the threshold where the MOTS paper says >); **sMOTSA** (soft MOTSA: the sum of the matches' IoU in place of TP), **MOTSP** (their
  mean IoU) and the **ID switches** (IDSW): a ground-truth track matched to another predicted id
  than at its previous match.
- **IDF1** = 2 IDTP / (ground-truth + predicted detections), with IDP and IDR: IDTP counts the
  detections matched (IoU >= ``iou_threshold``) under the one-to-one pairing of whole
  ground-truth tracks with whole predicted tracks that matches the most.
- **Predicted objects per ground-truth instance**: for each instance, the distinct predicted ids
  *matched* to it (IoU >= ``iou_threshold`` on some frame: an id switch adds one) and those
  *covering* it (more than half of the predicted mask on the instance on some frame: a split
  into two ids adds one even when a part is too small to match); and over each sequence and all
  of them, predicted objects / ground-truth instances.

Frames are the ground truth's, matched with the prediction's as the J&F evaluation matches them
(:func:`vidseg.evaluation.loading.pair_sequences`); every frame is scored, the first included.
Ground-truth pixels of 255 are void, as in the MOTS benchmarks' ignore regions: no instance, and a
predicted mask with more than half of its pixels on void is left out of that frame (neither a
match nor a false positive). Ids are per sequence; sequences are combined as TrackEval combines
them (counts summed, AssA weighted by matches).

TrackEval is an optional dependency, imported on first use: ``pip install 'vidseg[eval]'``. (It
requires opencv-python, which installs beside vidseg's opencv-python-headless and shares its
``cv2`` folder; both are the same OpenCV, but the GUI build needs libGL.so.1.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vidseg.errors import ConfigError, InputError
from vidseg.evaluation.jf import VOID_ID, FramePair, LabelArray
from vidseg.evaluation.loading import pair_sequences
from vidseg.evaluation.track_report import (
    DEFAULT_IOU_THRESHOLD,
    InstanceTracks,
    TrackReport,
    TrackScores,
    write_track_report_json,
)

__all__ = [
    "DEFAULT_IOU_THRESHOLD",
    "FrameOverlaps",
    "InstanceTracks",
    "TrackReport",
    "TrackScores",
    "check_iou_threshold",
    "evaluate_tracks",
    "score_tracks",
    "write_track_report_json",
]

log = logging.getLogger(__name__)

COVER_SHARE = 0.5  # a predicted mask covers an instance when more than this share of it lies on the instance
VOID_SHARE = 0.5  # a predicted mask with more than this share on ground-truth void is left out (MOTS's ignore rule)
_DENSE_BINS = 1 << 22  # joint histograms up to this many cells are counted directly, larger ones via np.unique
_INSTALL_HINT = "pip install 'vidseg[eval]' (or pip install trackeval)"

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _trackeval_metrics() -> Any:
    """TrackEval's metrics module, imported on first use (an optional dependency)."""
    try:
        from trackeval import metrics
    except ImportError as exc:
        raise ConfigError(f"tracking metrics (vidseg eval --tracks) need TrackEval: {_INSTALL_HINT}; "
                          f"importing it failed: {exc}") from None  # fmt: skip
    return metrics


def check_iou_threshold(iou_threshold: float) -> None:
    """Raise :class:`ConfigError` unless ``iou_threshold`` is in (0, 1]."""
    if not 0 < iou_threshold <= 1:  # also rejects NaN
        raise ConfigError(f"iou_threshold must be a mask IoU in (0, 1]; found {iou_threshold}")


def _joint_histogram(gt: LabelArray, pred: LabelArray) -> tuple[IntArray, IntArray, IntArray]:
    """The ids present in each map and the pixel count of every (ground-truth id, predicted id) pair."""
    g, p = gt.astype(np.int64).ravel(), pred.astype(np.int64).ravel()
    g_bins, p_bins = int(g.max(initial=0)) + 1, int(p.max(initial=0)) + 1
    if g_bins * p_bins <= _DENSE_BINS:  # the usual case (8-bit ids): one bincount, no sort
        joint = np.bincount(g * p_bins + p, minlength=g_bins * p_bins).reshape(g_bins, p_bins)
        g_values, p_values = np.flatnonzero(joint.sum(axis=1)), np.flatnonzero(joint.sum(axis=0))
        return g_values, p_values, joint[np.ix_(g_values, p_values)]
    g_values, g_index = np.unique(g, return_inverse=True)
    p_values, p_index = np.unique(p, return_inverse=True)
    joint = np.bincount(g_index * len(p_values) + p_index, minlength=len(g_values) * len(p_values))
    return g_values, p_values, joint.reshape(len(g_values), len(p_values))


@dataclass(frozen=True)
class FrameOverlaps:
    """One frame's detections and how they overlap.

    Attributes:
        gt_ids: the ground-truth ids in the frame (0 and void aside), ascending.
        pred_ids: the predicted ids kept (0 and masks mostly on void aside), ascending.
        iou: (len(gt_ids), len(pred_ids)) mask IoU.
        covers: (len(gt_ids), len(pred_ids)) whether more than half of the predicted mask lies on
            the ground-truth mask.
        dropped: predicted ids left out because more than half of their mask lies on void.
    """

    gt_ids: IntArray
    pred_ids: IntArray
    iou: FloatArray
    covers: npt.NDArray[np.bool_]
    dropped: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        expected = (len(self.gt_ids), len(self.pred_ids))
        if self.iou.shape != expected or self.covers.shape != expected:
            raise InputError(f"expected IoU and cover matrices of shape {expected} (ground truth x prediction); "
                             f"found {self.iou.shape} and {self.covers.shape}")  # fmt: skip

    @classmethod
    def from_pair(cls, pair: FramePair) -> FrameOverlaps:
        """The overlaps of one frame's label maps, from their joint histogram (one pass over the pixels)."""
        gt_values, pred_values, joint = _joint_histogram(pair.gt, pair.pred)
        pred_area = joint.sum(axis=0)
        on_void = joint[gt_values == VOID_ID].sum(axis=0)
        is_pred = pred_values != 0
        mostly_void = is_pred & (on_void > VOID_SHARE * pred_area)
        keep_pred = is_pred & ~mostly_void
        keep_gt = (gt_values != 0) & (gt_values != VOID_ID)
        inter = joint[keep_gt][:, keep_pred].astype(np.float64)
        gt_area = joint[keep_gt].sum(axis=1).astype(np.float64)
        kept_area = pred_area[keep_pred].astype(np.float64)
        union = gt_area[:, None] + kept_area[None, :] - inter
        return cls(
            gt_ids=gt_values[keep_gt], pred_ids=pred_values[keep_pred], iou=inter / union,
            covers=inter > COVER_SHARE * kept_area[None, :],
            dropped=tuple(int(v) for v in pred_values[mostly_void]),
        )  # fmt: skip


@dataclass
class _SequenceData:
    """TrackEval's per-sequence input (ids renumbered 0..n-1), gathered frame by frame."""

    gt_index: dict[int, int] = field(default_factory=dict)
    pred_index: dict[int, int] = field(default_factory=dict)
    gt_ids: list[IntArray] = field(default_factory=list)
    pred_ids: list[IntArray] = field(default_factory=list)
    similarity: list[FloatArray] = field(default_factory=list)
    gt_frames: dict[int, int] = field(default_factory=dict)
    matched: dict[int, set[int]] = field(default_factory=dict)
    covering: dict[int, set[int]] = field(default_factory=dict)

    def add(self, frame: FrameOverlaps, iou_threshold: float) -> None:
        for gt_id in frame.gt_ids.tolist():
            self.gt_index.setdefault(gt_id, len(self.gt_index))
            self.gt_frames[gt_id] = self.gt_frames.get(gt_id, 0) + 1
        for pred_id in frame.pred_ids.tolist():
            self.pred_index.setdefault(pred_id, len(self.pred_index))
        self.gt_ids.append(np.array([self.gt_index[v] for v in frame.gt_ids.tolist()], dtype=np.int64))
        self.pred_ids.append(np.array([self.pred_index[v] for v in frame.pred_ids.tolist()], dtype=np.int64))
        self.similarity.append(frame.iou)
        # TrackEval compares with a float epsilon of slack; so does "matched", to agree with its matches.
        passes = frame.iou >= iou_threshold - np.finfo(np.float64).eps
        for pairs, into in ((passes, self.matched), (frame.covers, self.covering)):
            for r, c in np.argwhere(pairs).tolist():
                into.setdefault(int(frame.gt_ids[r]), set()).add(int(frame.pred_ids[c]))

    def trackeval_input(self) -> dict[str, Any]:
        return {
            "num_timesteps": len(self.gt_ids),
            "num_gt_ids": len(self.gt_index),
            "num_tracker_ids": len(self.pred_index),
            "num_gt_dets": sum(len(ids) for ids in self.gt_ids),
            "num_tracker_dets": sum(len(ids) for ids in self.pred_ids),
            "gt_ids": self.gt_ids,
            "tracker_ids": self.pred_ids,
            "similarity_scores": self.similarity,
        }

    def instances(self, sequence: str) -> tuple[InstanceTracks, ...]:
        return tuple(
            InstanceTracks(sequence, gt_id, self.gt_frames[gt_id], tuple(sorted(self.matched.get(gt_id, ()))),
                           tuple(sorted(self.covering.get(gt_id, ()))))
            for gt_id in sorted(self.gt_index)
        )  # fmt: skip


class _Metrics:
    """TrackEval's HOTA, CLEAR, Identity and Count, configured once."""

    def __init__(self, iou_threshold: float) -> None:
        metrics = _trackeval_metrics()
        config = {"THRESHOLD": iou_threshold, "PRINT_CONFIG": False}
        self.by_name = {
            "HOTA": metrics.HOTA(),
            "CLEAR": metrics.CLEAR(dict(config)),
            "Identity": metrics.Identity(dict(config)),
            "Count": metrics.Count(),
        }

    def sequence(self, data: dict[str, Any]) -> dict[str, Any]:
        return {name: metric.eval_sequence(data) for name, metric in self.by_name.items()}

    def combine(self, per_sequence: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        return {name: metric.combine_sequences({seq: res[name] for seq, res in per_sequence.items()})
                for name, metric in self.by_name.items()}  # fmt: skip


def _library() -> str:
    try:
        return f"trackeval {metadata.version('trackeval')}"
    except metadata.PackageNotFoundError:
        return "trackeval"


def score_tracks(
    sequences: Mapping[str, Iterable[FramePair]], iou_threshold: float = DEFAULT_IOU_THRESHOLD
) -> TrackReport:
    """Score sequences of frame pairs (each consumed once, in order) with the tracking measures.

    Args:
        sequences: per sequence name, its frames in order (ground truth and prediction).
        iou_threshold: the mask IoU at which MOTSA, IDF1, ID switches and ``matched`` count a match.

    Raises:
        ConfigError: a bad threshold, or TrackEval is not installed.
        InputError: no ground-truth instance in any frame.
    """
    check_iou_threshold(iou_threshold)
    metrics = _Metrics(iou_threshold)
    results: dict[str, dict[str, Any]] = {}
    rows: list[TrackScores] = []
    instances: list[InstanceTracks] = []
    for name, frames in sequences.items():
        data = _SequenceData()
        dropped = 0
        for pair in frames:
            overlaps = FrameOverlaps.from_pair(pair)
            dropped += len(overlaps.dropped)
            data.add(overlaps, iou_threshold)
        if not data.gt_ids:
            raise InputError(f"sequence {name!r} has no frames; expected at least one ground-truth frame")
        if dropped:
            log.info("sequence %s: %d predicted mask(s) lie mostly on ground-truth void (255) and are left out",
                     name, dropped)  # fmt: skip
        if not data.gt_index:
            log.warning("sequence %s: the ground truth holds no instance; its predicted masks all count as false "
                        "positives", name)  # fmt: skip
        results[name] = metrics.sequence(data.trackeval_input())
        seq_instances = data.instances(name)
        rows.append(TrackScores.from_trackeval(name, results[name], seq_instances, len(data.gt_ids)))
        instances.extend(seq_instances)
        log.info("%s: HOTA %.3f, IDF1 %.3f, MOTSA %.3f, %d ID switch(es)", name, rows[-1].hota, rows[-1].idf1,
                 rows[-1].motsa, rows[-1].id_switches)  # fmt: skip
    if not instances:
        raise InputError("the ground truth holds no instance in any frame (only 0 = background and 255 = void); "
                         "expected label maps whose nonzero pixel values are object ids")  # fmt: skip
    overall = TrackScores.from_trackeval("all", metrics.combine(results), instances, sum(r.frames for r in rows))
    return TrackReport(overall, tuple(rows), tuple(instances), iou_threshold, _library())


def evaluate_tracks(
    pred_path: str | Path,
    gt_path: str | Path,
    *,
    fps: float | None = None,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
) -> TrackReport:
    """Score predicted instance label maps against ground truth with the MOTS / HOTA tracking measures.

    Args:
        pred_path, gt_path: one sequence each, or a folder of sequences each, in any of the layouts
            :func:`vidseg.evaluation.evaluate` reads (PNG folders, ``masks.mkv`` or a run folder,
            a DAVIS ``Annotations/480p``-style collection).
        fps: the source's frame rate, to place a label video's frames among PNG frames by time
            (default: from the ``manifest.json`` beside ``masks.mkv``).
        iou_threshold: the mask IoU at which MOTSA, IDF1 and ID switches count a match.

    Returns:
        The report; ``report.format()`` is the table ``vidseg eval --tracks`` prints.

    Raises:
        ConfigError: a bad threshold, or TrackEval is not installed (``pip install 'vidseg[eval]'``).
        SourceNotFoundError, SourceFormatError: a path is missing, or a file cannot be read.
        InputError: a layout that is not accepted, a missing sequence, a size mismatch, or a ground
            truth without instances.

    Example:
        >>> report = evaluate_tracks("out/clip/masks.mkv", "gt/clip")  # doctest: +SKIP
        >>> print(f"HOTA {report.overall.hota:.3f}, IDF1 {report.overall.idf1:.3f}")  # doctest: +SKIP
    """
    check_iou_threshold(iou_threshold)
    _trackeval_metrics()  # fail on a missing dependency before reading any frame
    pairs = pair_sequences(pred_path, gt_path, fps=fps)
    return score_tracks({pair.name: pair.frames() for pair in pairs}, iou_threshold)
