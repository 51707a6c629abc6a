"""Dataset-level J&F: score every sequence pair, then average over all objects of all sequences.

The global numbers are DAVIS's (``evaluation_method.py`` in the reference): J-Mean, J-Recall and
J-Decay are means of the per-object statistics over every object of every sequence (likewise for
F), and J&F-Mean = (J-Mean + F-Mean) / 2.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vidseg.errors import ConfigError, InputError, SinkError
from vidseg.evaluation.jf import (
    DEFAULT_BOUND_TH,
    ObjectRule,
    ObjectScores,
    boundary_radius,
    check_bound_th,
    evaluate_sequence,
)
from vidseg.evaluation.loading import pair_sequences

log = logging.getLogger(__name__)

_GLOBAL_COLUMNS = ("J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")


@dataclass(frozen=True)
class EvalReport:
    """The evaluation of a prediction against its ground truth.

    Attributes:
        objects: one row per object of every sequence, in sequence then id order.
        j_mean, j_recall, j_decay, f_mean, f_recall, f_decay: means of the per-object statistics.
        jf_mean: (j_mean + f_mean) / 2, the DAVIS headline number.
        bound_th: F's matching tolerance used.
        keep_first_last: whether the first and last frame of each sequence were scored.
    """

    objects: tuple[ObjectScores, ...]
    j_mean: float
    j_recall: float
    j_decay: float
    f_mean: float
    f_recall: float
    f_decay: float
    jf_mean: float
    bound_th: float
    keep_first_last: bool
    objects_rule: ObjectRule = ObjectRule.ALL_FRAMES

    @classmethod
    def from_objects(
        cls, objects: tuple[ObjectScores, ...], bound_th: float = DEFAULT_BOUND_TH, keep_first_last: bool = False,
        objects_rule: ObjectRule = ObjectRule.ALL_FRAMES,
    ) -> EvalReport:
        """Average per-object scores into the dataset-level numbers.

        Raises:
            InputError: no objects.
        """
        if not objects:
            raise InputError("cannot report on zero objects; expected at least one ground-truth object")

        def mean(field: str) -> float:
            return float(np.mean([getattr(row, field) for row in objects]))

        j_mean, f_mean = mean("j_mean"), mean("f_mean")
        return cls(objects, j_mean, mean("j_recall"), mean("j_decay"), f_mean, mean("f_recall"), mean("f_decay"),
                   (j_mean + f_mean) / 2, bound_th, keep_first_last, ObjectRule(objects_rule))  # fmt: skip

    @property
    def sequences(self) -> tuple[str, ...]:
        """The sequences' names, in report order."""
        return tuple(dict.fromkeys(row.sequence for row in self.objects))

    def global_values(self) -> tuple[float, ...]:
        """J&F-Mean, J-Mean, J-Recall, J-Decay, F-Mean, F-Recall, F-Decay (DAVIS's column order)."""
        return (self.jf_mean, self.j_mean, self.j_recall, self.j_decay, self.f_mean, self.f_recall, self.f_decay)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the global numbers, then per object its statistics and per-frame J and F."""
        return {
            "j_and_f_mean": self.jf_mean,
            "j_mean": self.j_mean,
            "j_recall": self.j_recall,
            "j_decay": self.j_decay,
            "f_mean": self.f_mean,
            "f_recall": self.f_recall,
            "f_decay": self.f_decay,
            "bound_th": self.bound_th,
            "first_last_excluded": not self.keep_first_last,
            "objects_rule": self.objects_rule.value,
            "sequences": list(self.sequences),
            "objects": [
                {
                    "sequence": row.sequence,
                    "object": row.obj_id,
                    "j_and_f_mean": row.jf_mean,
                    "j_mean": row.j_mean,
                    "j_recall": row.j_recall,
                    "j_decay": row.j_decay,
                    "f_mean": row.f_mean,
                    "f_recall": row.f_recall,
                    "f_decay": row.f_decay,
                    "frames": list(row.frames),
                    "j": list(row.j),
                    "f": list(row.f),
                }
                for row in self.objects
            ],
        }


def evaluate(
    pred_path: str | Path,
    gt_path: str | Path,
    *,
    bound_th: float = DEFAULT_BOUND_TH,
    keep_first_last: bool = False,
    objects: ObjectRule | str = ObjectRule.ALL_FRAMES,
    fps: float | None = None,
) -> EvalReport:
    """Score predicted label maps against ground truth with the DAVIS J&F measures.

    Args:
        pred_path, gt_path: one sequence each, or a folder of sequences each (see
            :mod:`vidseg.evaluation.loading` for the layouts).
        bound_th: F's matching tolerance, a fraction of the image diagonal (< 1) or a radius in pixels.
        keep_first_last: also score each sequence's first and last frame (DAVIS excludes them).
        objects: which ids are objects: ``"all-frames"`` (the first frame's and every scored
            frame's) or ``"first-frame"`` (DAVIS 2017's ids 1..max of the first frame).
        fps: the source's frame rate, to place a label video's frames among PNG frames by time
            (default: read from the ``manifest.json`` beside ``masks.mkv``).

    Returns:
        The report: per-object rows and the dataset-level numbers.

    Raises:
        ConfigError: a bad ``bound_th``.
        SourceNotFoundError, SourceFormatError: a path is missing, or a file cannot be read.
        InputError: a layout that is not accepted, a missing sequence, a size mismatch, a sequence
            too short to score, or a ground truth without objects.

    Example:
        >>> report = evaluate("out/davis", "DAVIS/Annotations/480p")  # doctest: +SKIP
        >>> print(f"J&F {report.jf_mean:.3f}")  # doctest: +SKIP
    """
    check_bound_th(bound_th)
    try:
        rule = ObjectRule(objects)
    except ValueError:
        raise ConfigError(f"objects must be one of {[r.value for r in ObjectRule]}; found {objects!r}") from None
    rows_all: list[ObjectScores] = []
    for pair in pair_sequences(pred_path, gt_path, fps=fps):
        rows = evaluate_sequence(pair.name, pair.frames(), bound_th=bound_th, keep_first_last=keep_first_last,
                                 objects=rule)  # fmt: skip
        if not rows:
            log.warning("sequence %s: the ground truth holds no object (only background and void); it adds no rows",
                        pair.name)  # fmt: skip
            continue
        log.info("%s: %d object(s), J %.3f, F %.3f", pair.name, len(rows),
                 float(np.mean([r.j_mean for r in rows])), float(np.mean([r.f_mean for r in rows])))  # fmt: skip
        rows_all.extend(rows)
    if not rows_all:
        raise InputError(
            f"the ground truth at {gt_path} holds no object in any frame (only 0 = background and 255 = void); "
            "expected label maps whose nonzero pixel values are object ids"
        )
    return EvalReport.from_objects(tuple(rows_all), bound_th, keep_first_last, rule)


def format_report(report: EvalReport) -> str:
    """The report as a text table: one row per sequence and object, then the global numbers."""
    name_width = max(8, *(len(row.sequence) for row in report.objects))
    lines = [f"{'Sequence':<{name_width}}  Object  J-Mean  F-Mean  J&F-Mean"]
    lines += [
        f"{row.sequence:<{name_width}}  {row.obj_id:>6}  {row.j_mean:6.3f}  {row.f_mean:6.3f}  {row.jf_mean:8.3f}"
        for row in report.objects
    ]
    lines.append("")
    lines.append("  ".join(_GLOBAL_COLUMNS))
    lines.append(
        "  ".join(f"{value:>{len(col)}.3f}" for col, value in zip(_GLOBAL_COLUMNS, report.global_values(), strict=True))
    )
    frames = "all frames" if report.keep_first_last else "first and last frame of each sequence excluded"
    tolerance = (
        f"{report.bound_th:g} of the diagonal"
        if report.bound_th < 1
        else f"{boundary_radius((1, 1), report.bound_th)} px"
    )
    lines.append(
        f"{len(report.objects)} object(s) in {len(report.sequences)} sequence(s); {frames}; boundary tolerance {tolerance}"
    )
    lines.append(report.objects_rule.description)
    return "\n".join(lines)


def write_json_text(text: str, path: str | Path, what: str = "evaluation report") -> None:
    """Write ``text`` (a report's JSON) to ``path``, making its folder.

    Raises:
        SinkError: the file cannot be written (``what`` names it in the message).
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text + "\n")
    except OSError as exc:
        raise SinkError(f"cannot write the {what} to {target}: {exc}") from exc


def write_report_json(report: EvalReport, path: str | Path) -> None:
    """Write :meth:`EvalReport.to_dict` as JSON.

    Raises:
        SinkError: the file cannot be written.
    """
    write_json_text(json.dumps(report.to_dict(), indent=2), path)
