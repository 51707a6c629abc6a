"""Semantic segmentation scores: per-class IoU, mean IoU and pixel accuracy, from a confusion
matrix accumulated frame by frame over label videos (``semantic.mkv``) or PNG folders of class ids.

A class counts in the mean IoU when it appears in the ground truth or the prediction of some
frame (a class neither ever shows has no IoU). Ground-truth pixels of ``ignore`` (255) are left
out, as in the usual benchmarks.

Class names come from the prediction: a run's ``manifest.json`` records its semantic model under
``"semantic"``, whose ``"classes"`` list gives class id k the name ``classes[k]``. Without it
(PNG folders, older runs) the classes are shown by id.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vidseg.errors import InputError
from vidseg.evaluation.jf import FramePair
from vidseg.evaluation.loading import LabelFormat, LabelSequence, SequencePair, pair_sequences
from vidseg.evaluation.report import write_json_text

log = logging.getLogger(__name__)

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
    """Per-class IoU (by class id), mean IoU over the classes that appear, and pixel accuracy;
    ``classes``: the class names by id when the prediction records them (else empty)."""

    iou: dict[int, float]
    miou: float
    pixel_accuracy: float
    pixels: int
    classes: tuple[str, ...] = ()

    @classmethod
    def from_confusion(cls, matrix: npt.NDArray[np.int64], classes: Sequence[str] = ()) -> SemanticReport:
        total = int(matrix.sum())
        if total == 0:
            raise InputError("no pixel to score: the ground truth is empty or all ignored (255)")
        true = np.diag(matrix)
        union = matrix.sum(axis=0) + matrix.sum(axis=1) - true
        iou = {int(k): float(true[k] / union[k]) for k in np.flatnonzero(union)}
        return cls(iou, float(np.mean(list(iou.values()))), float(true.sum() / total), total, tuple(classes))

    def name(self, class_id: int, names: Sequence[str] = ()) -> str:
        """Class ``class_id``'s name from ``names``, else from :attr:`classes`, else its id."""
        known = names or self.classes
        return known[class_id] if class_id < len(known) else str(class_id)

    def format(self, names: Sequence[str] = ()) -> str:
        """A table of per-class IoU (named by ``names``, else :attr:`classes`, else by id) and the means."""
        width = max([20, *(len(self.name(k, names)) for k in self.iou)])
        lines = [f"{'class':<{width}s}  IoU"] + [f"{self.name(k, names):<{width}s} {v:5.3f}"
                                                for k, v in sorted(self.iou.items())]  # fmt: skip
        lines += ["", f"mIoU {self.miou:.3f} over {len(self.iou)} classes; pixel accuracy {self.pixel_accuracy:.3f} "
                      f"({self.pixels} pixels)"]  # fmt: skip
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the means, and per class its id, name (None when unknown) and IoU."""
        named = len(self.classes)
        per_class = [{"id": k, "name": self.classes[k] if k < named else None, "iou": v} for k, v in sorted(self.iou.items())]
        return {
            "miou": self.miou,
            "pixel_accuracy": self.pixel_accuracy,
            "pixels": self.pixels,
            "classes": per_class,
            "class_names": list(self.classes),
        }


def write_semantic_report_json(report: SemanticReport, path: str | Path) -> None:
    """Write :meth:`SemanticReport.to_dict` as JSON.

    Raises:
        SinkError: the file cannot be written.
    """
    write_json_text(json.dumps(report.to_dict(), indent=2), path, "semantic evaluation report")


def manifest_classes(manifest: Path) -> tuple[str, ...] | None:
    """The class names a run's ``manifest.json`` records (``"semantic"."classes"``, list index =
    class id); None when the file, the key or a list of names is not there."""
    try:
        classes = json.loads(manifest.read_text())["semantic"]["classes"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes):
        return tuple(classes)
    log.warning("%s: \"semantic\".\"classes\" is not a list of class names; classes are shown by id", manifest)
    return None


def _run_folder(sequence: LabelSequence) -> Path:
    return sequence.path.parent if sequence.format is LabelFormat.VIDEO else sequence.path


def prediction_classes(pairs: Sequence[SequencePair]) -> tuple[str, ...]:
    """The class names of the predictions, from each prediction's run ``manifest.json`` (see
    :func:`manifest_classes`); empty when none records them, or when two runs record different
    lists (their ids would not mean the same classes, so no names are shown)."""
    found: dict[tuple[str, ...], Path] = {}
    for pair in pairs:
        manifest = _run_folder(pair.pred) / "manifest.json"
        classes = manifest_classes(manifest)
        if classes is not None:
            found.setdefault(classes, manifest)
    if len(found) > 1:
        shown = "; ".join(f"{path}: {len(names)} classes" for names, path in list(found.items())[:3])
        log.warning("the predictions' manifests name their classes differently (%s); classes are shown by id", shown)
        return ()
    return next(iter(found), ())


def evaluate_semantic(pred_path: str | Path, gt_path: str | Path, fps: float | None = None) -> SemanticReport:
    """Score predicted class-id maps against ground truth; each path is a ``semantic.mkv`` (or the
    run folder holding it), a PNG folder of class ids, or a folder of such sequences. Frames are
    matched as :func:`vidseg.evaluation.evaluate` matches them (PNG names, else by time). The
    report names the classes when the prediction's ``manifest.json`` records them."""
    matrix = np.zeros((256, 256), dtype=np.int64)
    pairs = pair_sequences(pred_path, gt_path, fps=fps, video_name="semantic.mkv")
    for pair in pairs:
        matrix += confusion(pair.frames())
    report = SemanticReport.from_confusion(matrix)
    return dataclasses.replace(report, classes=prediction_classes(pairs))
