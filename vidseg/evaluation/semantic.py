"""Semantic segmentation scores: per-class IoU, mean IoU and pixel accuracy, from a confusion
matrix accumulated frame by frame over label videos (``semantic.mkv``) or PNG folders of class ids.

A class counts in the mean IoU when it appears in the ground truth or the prediction of some
frame (a class neither ever shows has no IoU). Ground-truth pixels of ``ignore`` (255) are left
out, as in the usual benchmarks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vidseg.errors import InputError
from vidseg.evaluation.jf import FramePair
from vidseg.evaluation.loading import pair_sequences

IGNORE = 255


def confusion(frames: Iterable[FramePair], num_classes: int = 256, ignore: int = IGNORE) -> npt.NDArray[np.int64]:
    """The (num_classes, num_classes) matrix of pixel counts, ground truth by row, prediction by column."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    for pair in frames:
        gt, pred = pair.gt.astype(np.int64).ravel(), pair.pred.astype(np.int64).ravel()
        keep = gt != ignore
        gt, pred = gt[keep], pred[keep]
        if gt.size and (int(gt.max()) >= num_classes or int(pred.max()) >= num_classes):
            raise InputError(f"frame {pair.name}: class ids must be below {num_classes}; found "
                             f"{max(int(gt.max()), int(pred.max()))}")  # fmt: skip
        matrix += np.bincount(gt * num_classes + pred, minlength=num_classes * num_classes).reshape(num_classes, num_classes)
    return matrix


@dataclass(frozen=True)
class SemanticReport:
    """Per-class IoU (by class id), mean IoU over the classes that appear, and pixel accuracy."""

    iou: dict[int, float]
    miou: float
    pixel_accuracy: float
    pixels: int

    @classmethod
    def from_confusion(cls, matrix: npt.NDArray[np.int64]) -> SemanticReport:
        total = int(matrix.sum())
        if total == 0:
            raise InputError("no pixel to score: the ground truth is empty or all ignored (255)")
        true = np.diag(matrix)
        union = matrix.sum(axis=0) + matrix.sum(axis=1) - true
        iou = {int(k): float(true[k] / union[k]) for k in np.flatnonzero(union)}
        return cls(iou, float(np.mean(list(iou.values()))), float(true.sum() / total), total)

    def format(self, names: Sequence[str] = ()) -> str:
        def name(k: int) -> str:
            return names[k] if k < len(names) else str(k)

        lines = ["class                 IoU"] + [f"{name(k):<20s} {v:5.3f}" for k, v in sorted(self.iou.items())]
        lines += ["", f"mIoU {self.miou:.3f} over {len(self.iou)} classes; pixel accuracy {self.pixel_accuracy:.3f} "
                      f"({self.pixels} pixels)"]  # fmt: skip
        return "\n".join(lines)


def evaluate_semantic(pred_path: str | Path, gt_path: str | Path, fps: float | None = None) -> SemanticReport:
    """Score predicted class-id maps against ground truth; each path is a ``semantic.mkv`` (or the
    run folder holding it), a PNG folder of class ids, or a folder of such sequences. Frames are
    matched as :func:`vidseg.evaluation.evaluate` matches them (PNG names, else by time)."""
    matrix = np.zeros((256, 256), dtype=np.int64)
    for pair in pair_sequences(pred_path, gt_path, fps=fps, video_name="semantic.mkv"):
        matrix += confusion(pair.frames())
    return SemanticReport.from_confusion(matrix)
