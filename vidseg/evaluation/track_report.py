"""The tracking evaluation's report: scores per sequence and combined, each ground-truth instance's
predicted ids, the text table ``vidseg eval --tracks`` prints and the JSON it writes.

The scores are defined in :mod:`vidseg.evaluation.tracks`, which computes them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vidseg.evaluation.report import write_json_text

DEFAULT_IOU_THRESHOLD = 0.5


@dataclass(frozen=True)
class InstanceTracks:
    """The predicted ids one ground-truth instance was given over its sequence.

    Attributes:
        sequence, gt_id: the instance.
        frames: how many frames it is in.
        matched: predicted ids whose mask IoU with it reached the threshold on some frame.
        covering: predicted ids with more than half of their mask on it on some frame.
    """

    sequence: str
    gt_id: int
    frames: int
    matched: tuple[int, ...]
    covering: tuple[int, ...]


@dataclass(frozen=True)
class TrackScores:
    """The tracking scores of one sequence, or of all of them combined (``sequence`` = ``"all"``).

    Rates are fractions (0..1, MOTSA and sMOTSA can be negative); see the module docstring.
    """

    sequence: str
    hota: float
    deta: float
    assa: float
    loca: float
    idf1: float
    idp: float
    idr: float
    id_switches: int
    motsa: float
    smotsa: float
    motsp: float
    tp: int
    fp: int
    fn: int
    frames: int
    gt_detections: int
    pred_detections: int
    gt_instances: int
    pred_objects: int
    mean_matched: float  # predicted ids matched per ground-truth instance, averaged over the instances
    mean_covering: float  # predicted ids covering a ground-truth instance, averaged over the instances

    @property
    def objects_per_instance(self) -> float:
        """Predicted objects / ground-truth instances (nan without instances)."""
        return self.pred_objects / self.gt_instances if self.gt_instances else float("nan")

    @classmethod
    def from_trackeval(cls, sequence: str, results: Mapping[str, Mapping[str, Any]],
                       instances: Iterable[InstanceTracks], frames: int) -> TrackScores:  # fmt: skip
        """Scores from TrackEval's HOTA, CLEAR, Identity and Count results (one sequence's, or combined);
        ``frames``: how many ground-truth frames they cover (CLEAR leaves it out when nothing is predicted)."""
        hota, clear, ident, count = results["HOTA"], results["CLEAR"], results["Identity"], results["Count"]
        rows = list(instances)
        return cls(
            sequence=sequence,
            hota=float(np.mean(hota["HOTA"])), deta=float(np.mean(hota["DetA"])), assa=float(np.mean(hota["AssA"])),
            loca=float(np.mean(hota["LocA"])),
            idf1=float(ident["IDF1"]), idp=float(ident["IDP"]), idr=float(ident["IDR"]),
            id_switches=int(clear["IDSW"]), motsa=float(clear["MOTA"]), smotsa=float(clear["sMOTA"]),
            motsp=float(clear["MOTP"]), tp=int(clear["CLR_TP"]), fp=int(clear["CLR_FP"]), fn=int(clear["CLR_FN"]),
            frames=frames, gt_detections=int(count["GT_Dets"]), pred_detections=int(count["Dets"]),
            gt_instances=int(count["GT_IDs"]), pred_objects=int(count["IDs"]),
            mean_matched=float(np.mean([len(r.matched) for r in rows])) if rows else float("nan"),
            mean_covering=float(np.mean([len(r.covering) for r in rows])) if rows else float("nan"),
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "objects_per_instance": self.objects_per_instance}


# (header, width, format) of the per-sequence table's columns after the name
_COLUMNS: tuple[tuple[str, int, str], ...] = (
    ("HOTA", 5, ".3f"), ("DetA", 5, ".3f"), ("AssA", 5, ".3f"), ("IDF1", 5, ".3f"), ("IDSW", 5, "d"),
    ("MOTSA", 6, ".3f"), ("sMOTSA", 6, ".3f"), ("GT", 4, "d"), ("Pred", 5, "d"), ("Pred/GT", 7, ".2f"),
    ("Matched", 7, ".2f"), ("Covering", 8, ".2f"),
)  # fmt: skip


def _cells(s: TrackScores) -> tuple[float | int, ...]:
    return (s.hota, s.deta, s.assa, s.idf1, s.id_switches, s.motsa, s.smotsa, s.gt_instances, s.pred_objects,
            s.objects_per_instance, s.mean_matched, s.mean_covering)  # fmt: skip


def _row(name: str, width: int, s: TrackScores) -> str:
    cells = (f"{value:>{w}{spec}}" for value, (_, w, spec) in zip(_cells(s), _COLUMNS, strict=True))
    return f"{name:<{width}}  " + " ".join(cells)


def _ids(ids: tuple[int, ...], limit: int = 8) -> str:
    shown = ",".join(str(i) for i in ids[:limit])
    return (shown + (",..." if len(ids) > limit else "")) or "-"


@dataclass(frozen=True)
class TrackReport:
    """Tracking scores per sequence and combined, and the predicted ids of every ground-truth instance.

    Attributes:
        overall: all sequences combined.
        sequences: one row per sequence, in ground-truth order.
        instances: one row per ground-truth instance, by sequence then id.
        iou_threshold: the mask IoU at which MOTSA, IDF1, the ID switches and ``matched`` match.
        library: the metrics' implementation, with its version.
    """

    overall: TrackScores
    sequences: tuple[TrackScores, ...]
    instances: tuple[InstanceTracks, ...]
    iou_threshold: float = DEFAULT_IOU_THRESHOLD
    library: str = "trackeval"

    def format(self) -> str:
        """A text table: one row per sequence and the combined row, then each instance's predicted ids."""
        width = max(8, *(len(s.sequence) for s in self.sequences))
        header = f"{'Sequence':<{width}}  " + " ".join(f"{title:>{w}}" for title, w, _ in _COLUMNS)
        lines = [header, *(_row(s.sequence, width, s) for s in self.sequences)]
        if len(self.sequences) > 1:
            lines.append(_row("all", width, self.overall))
        lines += ["", f"{'Sequence':<{width}}  GT id  Frames  Matched ids  Covering ids"]
        lines += [f"{r.sequence:<{width}}  {r.gt_id:5d}  {r.frames:6d}  {_ids(r.matched):<11}  {_ids(r.covering)}"
                  for r in self.instances]  # fmt: skip
        o = self.overall
        lines += [
            "",
            f"{o.gt_instances} ground-truth instance(s), {o.pred_objects} predicted object(s) in {len(self.sequences)} "
            f"sequence(s), {o.frames} frame(s); TP {o.tp}, FP {o.fp}, FN {o.fn}, MOTSP {o.motsp:.3f}, LocA {o.loca:.3f}",
            f"Similarity: mask IoU. MOTSA, sMOTSA, IDF1, IDSW: matches at IoU >= {self.iou_threshold:g}; HOTA, DetA, "
            "AssA: means over IoU thresholds 0.05..0.95 (TrackEval's).",
            "Pred/GT: predicted objects per ground-truth instance. Matched, Covering: distinct predicted ids per "
            f"instance, averaged: matched at IoU >= {self.iou_threshold:g} on some frame, or with more than half of "
            "their mask on the instance on some frame (a split).",
            f"Computed with {self.library}.",
        ]  # fmt: skip
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: settings, the combined scores, per sequence and per instance."""
        return {
            "iou_threshold": self.iou_threshold,
            "library": self.library,
            "overall": self.overall.to_dict(),
            "sequences": [s.to_dict() for s in self.sequences],
            "instances": [asdict(r) for r in self.instances],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text (non-finite numbers, e.g. a ratio without instances, as null)."""
        return json.dumps(_finite(self.to_dict()), indent=indent)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write_track_report_json(report: TrackReport, path: str | Path) -> None:
    """Write :meth:`TrackReport.to_json` to ``path``.

    Raises:
        SinkError: the file cannot be written.
    """
    write_json_text(report.to_json(), path, "tracking evaluation report")
