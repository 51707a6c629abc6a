"""Video object segmentation evaluation: the DAVIS J&F measures over PNG folders and label videos."""

from __future__ import annotations

from vidseg.evaluation.jf import (
    DEFAULT_BOUND_TH,
    VOID_ID,
    FramePair,
    ObjectScores,
    Summary,
    boundary_map,
    boundary_measure,
    boundary_radius,
    evaluate_sequence,
    region_similarity,
    summarize,
)
from vidseg.evaluation.loading import LabelSequence, SequencePair, open_labels, pair_sequences
from vidseg.evaluation.report import EvalReport, evaluate, format_report, write_report_json
from vidseg.evaluation.tracks import InstanceTracks, TrackReport, TrackScores, evaluate_tracks, write_track_report_json

__all__ = [
    "DEFAULT_BOUND_TH",
    "VOID_ID",
    "EvalReport",
    "FramePair",
    "InstanceTracks",
    "LabelSequence",
    "ObjectScores",
    "SequencePair",
    "Summary",
    "TrackReport",
    "TrackScores",
    "boundary_map",
    "boundary_measure",
    "boundary_radius",
    "evaluate",
    "evaluate_sequence",
    "evaluate_tracks",
    "format_report",
    "open_labels",
    "pair_sequences",
    "region_similarity",
    "summarize",
    "write_report_json",
    "write_track_report_json",
]
