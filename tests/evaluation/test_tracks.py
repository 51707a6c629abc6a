"""Tracking scores (HOTA, IDF1, ID switches, MOTSA, predicted ids per instance) against figures worked out by hand.

The scene: two ground-truth instances in 4 frames of 10x40 pixels, still.
  A (id 1): rows 2-7, columns 2-9 (48 px).
  B (id 2): rows 2-6, columns 20-31 (60 px).
A "split" prediction covers B with two ids: columns 20-26 (35 px, IoU 7/12 = 0.583) and 27-31
(25 px, IoU 5/12 = 0.417); a "switch" prediction gives A id 1 in frames 0-1 and id 3 in frames 2-3.

HOTA by hand: TrackEval's 19 localisation thresholds are 0.05..0.95; 11 of them (0.05..0.55) are
at most 7/12, so B's larger part matches there and not at the other 8. Per threshold,
DetA = TP / (TP + FN + FP) and AssA = the mean over matches of the match's track pair
|matches| / (|gt track| + |pred track| - |matches|); HOTA = sqrt(DetA x AssA), then each is
averaged over the 19 thresholds.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from vidseg.errors import ConfigError, InputError
from vidseg.evaluation import FramePair, TrackReport, evaluate_tracks, write_track_report_json
from vidseg.evaluation.tracks import FrameOverlaps, score_tracks
from vidseg.formats.davis import DavisWriter
from vidseg.formats.label_video import LabelVideoWriter

pytest.importorskip("trackeval", reason="tracking metrics need TrackEval: pip install 'vidseg[eval]'")

SHAPE = (10, 40)
FRAMES = 4
A = (slice(2, 8), slice(2, 10))
B = (slice(2, 7), slice(20, 32))
B_LEFT, B_RIGHT = (slice(2, 7), slice(20, 27)), (slice(2, 7), slice(27, 32))


def gt_frame(t: int) -> np.ndarray:
    labels = np.zeros(SHAPE, np.uint8)
    labels[A], labels[B] = 1, 2
    return labels


def pred_frame(t: int, *, switch: bool, split: bool, ids: tuple[int, int] = (1, 2)) -> np.ndarray:
    labels = np.zeros(SHAPE, np.uint8)
    labels[A] = 3 if switch and t >= FRAMES // 2 else ids[0]
    labels[B] = ids[1]
    if split:
        labels[B_RIGHT] = 4
    return labels


GT = [gt_frame(t) for t in range(FRAMES)]
PERFECT = [pred_frame(t, switch=False, split=False, ids=(5, 9)) for t in range(FRAMES)]
SWITCH = [pred_frame(t, switch=True, split=False) for t in range(FRAMES)]
SPLIT = [pred_frame(t, switch=False, split=True) for t in range(FRAMES)]
BOTH = [pred_frame(t, switch=True, split=True) for t in range(FRAMES)]
EMPTY = [np.zeros(SHAPE, np.uint8)] * FRAMES

LOW, HIGH = 11, 8  # thresholds at most 7/12, and above it


def over_thresholds(low: float, high: float) -> float:
    return (LOW * low + HIGH * high) / (LOW + HIGH)


def pairs(pred: Sequence[np.ndarray], gt: Sequence[np.ndarray] = GT) -> list[FramePair]:
    return [FramePair(f"{t:05d}", p, g) for t, (p, g) in enumerate(zip(pred, gt, strict=True))]


# Each row: prediction, IoU threshold, then the figures worked out by hand:
# TP, FP, FN, IDSW, MOTSA = (TP - FP - IDSW) / 8, IDF1 = 2 IDTP / (8 + predicted detections),
# HOTA, DetA, AssA, predicted objects, matched ids of A and B, covering ids of A and B.
CASES = {
    # every mask exact, under other ids: nothing is lost.
    "perfect": (PERFECT, 0.5, 8, 0, 0, 0, 1.0, 1.0, 1.0, 1.0, 1.0, 2, ((5,), (9,)), ((5,), (9,))),
    # A's id changes half way: one switch; IDF1 keeps one of A's ids (IDTP 2 + 4 = 6 of 8 + 8);
    # AssA: A's 4 matches each score 2 / (4 + 2 - 2) = 0.5, B's 4 score 1, so 0.75 at every threshold.
    "switch": (SWITCH, 0.5, 8, 0, 0, 1, 7 / 8, 12 / 16, math.sqrt(0.75), 1.0, 0.75, 3,
               ((1, 3), (2,)), ((1, 3), (2,))),
    # B in two ids: the smaller part (IoU 5/12) is a false positive in every frame (FP 4), IDF1 counts
    # 8 of 8 + 12; HOTA: DetA 8/12 at the low thresholds, 4/16 at the high ones (B unmatched), AssA 1.
    "split": (SPLIT, 0.5, 8, 4, 0, 0, 4 / 8, 16 / 20, over_thresholds(math.sqrt(2 / 3), 0.5), 28 / 57, 1.0, 3,
              ((1,), (2,)), ((1,), (2, 4))),
    # Both: MOTSA (8 - 4 - 1) / 8; IDTP 2 + 4 = 6 of 8 + 12; AssA (4 x 0.5 + 4 x 1) / 8 at the low
    # thresholds, (4 x 0.5) / 4 at the high ones.
    "switch and split": (BOTH, 0.5, 8, 4, 0, 1, 3 / 8, 12 / 20,
                         over_thresholds(math.sqrt(2 / 3 * 0.75), math.sqrt(0.25 * 0.5)), 28 / 57,
                         over_thresholds(0.75, 0.5), 4, ((1, 3), (2,)), ((1, 3), (2, 4))),
    # At IoU 0.6 B's larger part no longer matches: B is missed (FN 4), both parts are FP (8);
    # IDF1 2 x 2 / 20 (only A's first id pairs up). HOTA does not depend on the threshold.
    "switch and split, IoU 0.6": (BOTH, 0.6, 4, 8, 4, 1, -5 / 8, 4 / 20,
                                  over_thresholds(math.sqrt(2 / 3 * 0.75), math.sqrt(0.25 * 0.5)), 28 / 57,
                                  over_thresholds(0.75, 0.5), 4, ((1, 3), ()), ((1, 3), (2, 4))),
    "empty": (EMPTY, 0.5, 0, 0, 8, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, ((), ()), ((), ())),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_hand_computed_scores(case):
    pred, threshold, tp, fp, fn, idsw, motsa, idf1, hota, deta, assa, objects, matched, covering = CASES[case]
    report = score_tracks({"scene": pairs(pred)}, iou_threshold=threshold)
    s = report.overall
    assert (s.tp, s.fp, s.fn, s.id_switches) == (tp, fp, fn, idsw)
    assert s.motsa == pytest.approx(motsa)
    assert s.idf1 == pytest.approx(idf1)
    assert (s.hota, s.deta, s.assa) == pytest.approx((hota, deta, assa))
    assert (s.gt_instances, s.pred_objects, s.frames, s.gt_detections) == (2, objects, FRAMES, 8)
    assert s.objects_per_instance == pytest.approx(objects / 2)
    assert [(r.gt_id, r.frames) for r in report.instances] == [(1, FRAMES), (2, FRAMES)]
    assert tuple(r.matched for r in report.instances) == matched
    assert tuple(r.covering for r in report.instances) == covering
    assert s.mean_matched == pytest.approx(sum(map(len, matched)) / 2)
    assert s.mean_covering == pytest.approx(sum(map(len, covering)) / 2)
    (row,) = report.sequences  # one sequence: its row is the combined one
    assert {**row.to_dict(), "sequence": "all"} == pytest.approx(s.to_dict(), nan_ok=True)


def test_switch_and_split_details():
    """The remaining figures of the switch-and-split case: IDP/IDR, MOTSP, sMOTSA, LocA's ingredients."""
    s = score_tracks({"scene": pairs(BOTH)}).overall
    assert (s.idp, s.idr) == pytest.approx((6 / 12, 6 / 8))
    motp_sum = 4 * 1.0 + 4 * 7 / 12  # A's 4 matches at IoU 1, B's at 7/12
    assert s.motsp == pytest.approx(motp_sum / 8)
    assert s.smotsa == pytest.approx((motp_sum - 4 - 1) / 8)  # (sum of IoU - FP - IDSW) / GT = 1/6
    assert s.pred_detections == 12


@pytest.mark.parametrize("scale", [1, 1000], ids=["8-bit ids", "16-bit ids"])  # a dense histogram, or np.unique
def test_frame_overlaps(scale):
    (pair,) = pairs(BOTH[:1], GT[:1])
    overlaps = FrameOverlaps.from_pair(FramePair(pair.name, pair.pred.astype(np.uint16) * scale, pair.gt))
    assert overlaps.gt_ids.tolist() == [1, 2]
    assert overlaps.pred_ids.tolist() == [scale, 2 * scale, 4 * scale]
    assert overlaps.iou == pytest.approx(np.array([[1, 0, 0], [0, 7 / 12, 5 / 12]]))
    assert overlaps.covers.tolist() == [[True, False, False], [False, True, True]]


def test_void_is_no_instance_and_masks_on_it_are_left_out():
    gt = gt_frame(0)
    gt[:, 35:] = 255  # void strip, columns 35-39
    pred = pred_frame(0, switch=False, split=False)
    pred[0:4, 34:40] = 7  # 24 px, 20 of them on void: left out
    pred[5:10, 33:36] = 8  # 15 px, 5 on void: kept, a false positive
    overlaps = FrameOverlaps.from_pair(FramePair("00000", pred, gt))
    assert (overlaps.gt_ids.tolist(), overlaps.pred_ids.tolist(), overlaps.dropped) == ([1, 2], [1, 2, 8], (7,))
    s = score_tracks({"scene": [FramePair("00000", pred, gt)]}).overall
    assert (s.tp, s.fp, s.fn, s.gt_instances, s.pred_objects) == (2, 1, 0, 2, 3)


def test_sequences_combine_as_trackeval_combines_them():
    report = score_tracks({"both": pairs(BOTH), "perfect": pairs(PERFECT)})
    assert [s.sequence for s in report.sequences] == ["both", "perfect"]
    s = report.overall
    assert (s.tp, s.fp, s.fn, s.id_switches) == (16, 4, 0, 1)
    assert s.motsa == pytest.approx((16 - 4 - 1) / 16)
    assert s.idf1 == pytest.approx(2 * (6 + 8) / (16 + 20))  # IDTP summed over sequences
    assert (s.gt_instances, s.pred_objects, s.objects_per_instance) == (4, 6, pytest.approx(1.5))
    assert [(r.sequence, r.gt_id) for r in report.instances] == [("both", 1), ("both", 2), ("perfect", 1), ("perfect", 2)]


# --- loading: the layouts `vidseg eval` reads --------------------------------------------------


def write_pngs(folder: Path, maps: Sequence[np.ndarray]) -> Path:
    writer = DavisWriter(folder)
    for index, labels in enumerate(maps):
        writer.write(labels, index)
    return folder


def write_video(path: Path, maps: Sequence[np.ndarray], times: Sequence[float] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with LabelVideoWriter(path, SHAPE[1], SHAPE[0]) as writer:
        for index, labels in enumerate(maps):
            writer.write(labels, None if times is None else times[index])
    return path


def check_both(report: TrackReport) -> None:
    s = report.overall
    assert (s.tp, s.fp, s.fn, s.id_switches, s.pred_objects) == (8, 4, 0, 1, 4)
    assert (s.motsa, s.idf1) == pytest.approx((3 / 8, 12 / 20))


@pytest.mark.parametrize(
    ("pred_layout", "gt_layout"),
    [("png", "png"), ("mkv", "png"), ("run-folder", "png"), ("png", "mkv"), ("mkv", "mkv")],
)
def test_single_sequence_layouts(tmp_path, pred_layout, gt_layout, caplog):
    def place(kind: str, root: Path, maps: Sequence[np.ndarray]) -> Path:
        if kind == "png":
            return write_pngs(root / "clip", maps)
        video = write_video(root / "clip" / "masks.mkv", maps)
        return video.parent if kind == "run-folder" else video

    with caplog.at_level(logging.WARNING):
        report = evaluate_tracks(place(pred_layout, tmp_path / "pred", BOTH), place(gt_layout, tmp_path / "gt", GT))
    check_both(report)
    assert [s.sequence for s in report.sequences] == ["clip" if gt_layout == "png" else "masks"]
    # Without a manifest.json a label video's frames are matched by order, with a warning.
    assert ("matched by order" in caplog.text) == (pred_layout != "png" or gt_layout != "png")


def test_label_video_frames_are_placed_by_the_manifest_time(tmp_path):
    # A run with --every 2 at 10 fps: frames 0 and 2 of the source, at 0.0 s and 0.2 s.
    run = tmp_path / "run"
    write_video(run / "masks.mkv", [PERFECT[0], PERFECT[2]], times=[0.0, 0.2])
    (run / "manifest.json").write_text(json.dumps({"source": {"fps": 10.0, "start_time": 0.0}}))
    s = evaluate_tracks(run, write_pngs(tmp_path / "gt", GT)).overall
    # Frames 1 and 3 have no prediction: both instances are missed there; no switch across the gap.
    assert (s.tp, s.fp, s.fn, s.id_switches) == (4, 0, 4, 0)
    assert s.motsa == pytest.approx(0.5)
    # Without the manifest the two frames would be matched by order, to frames 0 and 1.
    (run / "manifest.json").unlink()
    assert evaluate_tracks(run, tmp_path / "gt").overall.fn == 4


def test_collection_of_sequences_and_json(tmp_path, caplog):
    gt_root, pred_root = tmp_path / "Annotations", tmp_path / "results"
    write_pngs(gt_root / "both", GT)
    write_pngs(gt_root / "nothing", EMPTY)  # no instance: its predictions are all false positives
    write_video(pred_root / "both" / "masks.mkv", BOTH)
    write_pngs(pred_root / "nothing", PERFECT)
    with caplog.at_level(logging.WARNING):
        report = evaluate_tracks(pred_root, gt_root)
    assert "sequence nothing: the ground truth holds no instance" in caplog.text
    both, nothing = report.sequences
    assert (both.tp, both.fp, both.id_switches, both.motsa) == (8, 4, 1, pytest.approx(3 / 8))  # the video's
    assert (nothing.fp, nothing.gt_instances, nothing.pred_objects) == (8, 0, 2)
    assert math.isnan(nothing.objects_per_instance)
    assert (report.overall.fp, report.overall.objects_per_instance) == (4 + 8, pytest.approx(6 / 2))

    out = tmp_path / "reports" / "tracks.json"
    write_track_report_json(report, out)
    data = json.loads(out.read_text())
    assert data["iou_threshold"] == 0.5
    assert data["library"].startswith("trackeval")
    assert data["overall"]["idf1"] == pytest.approx(report.overall.idf1)
    assert [s["sequence"] for s in data["sequences"]] == ["both", "nothing"]
    assert data["sequences"][1]["objects_per_instance"] is None  # nan as null, so the file stays JSON
    assert data["instances"][1] == {"sequence": "both", "gt_id": 2, "frames": 4, "matched": [2], "covering": [2, 4]}
    assert "HOTA" in report.format() and "Covering ids" in report.format()


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [0.0, -0.5, 1.5, float("nan")])
def test_bad_iou_threshold(tmp_path, threshold):
    with pytest.raises(ConfigError, match=r"iou_threshold must be a mask IoU in \(0, 1\]"):
        evaluate_tracks(tmp_path, tmp_path, iou_threshold=threshold)


def test_ground_truth_without_instances(tmp_path):
    with pytest.raises(InputError, match="holds no instance in any frame"):
        evaluate_tracks(write_pngs(tmp_path / "pred", PERFECT), write_pngs(tmp_path / "gt", EMPTY))


def test_missing_trackeval_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "trackeval", None)  # makes `import trackeval` raise ImportError
    with pytest.raises(ConfigError, match=r"need TrackEval: pip install 'vidseg\[eval\]'"):
        evaluate_tracks(write_pngs(tmp_path / "pred", PERFECT), write_pngs(tmp_path / "gt", GT))
