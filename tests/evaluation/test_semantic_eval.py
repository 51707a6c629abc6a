"""Semantic scores: per-class IoU, mIoU and pixel accuracy, exact on constructed maps."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vidseg.cli import main
from vidseg.errors import InputError
from vidseg.evaluation.jf import FramePair
from vidseg.evaluation.semantic import SemanticReport, confusion, evaluate_semantic
from vidseg.sinks.files.label_video import LabelVideoWriter


def _maps() -> tuple[np.ndarray, np.ndarray]:
    gt = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 255, 255]], np.uint8)
    pred = np.array([[0, 1, 1, 1], [0, 0, 1, 2], [2, 0, 1, 1]], np.uint8)
    return gt, pred


def test_iou_miou_and_pixel_accuracy_by_hand():
    gt, pred = _maps()
    report = SemanticReport.from_confusion(confusion([FramePair("0", pred, gt)]))
    # The 255 pixels are left out: 10 scored. Class 0: gt {4 px}, pred {4 px incl. one gt-2}; hit 3 -> 3/5.
    # Class 1: gt 4, pred 4 (3 of them gt-1, one gt-0); hit 3 -> 3 / (4 + 4 - 3) = 0.6.
    # Class 2: gt 2, pred 2 (one gt-1, one gt-2); hit 1 -> 1 / 3.
    assert report.iou == pytest.approx({0: 3 / 5, 1: 3 / 5, 2: 1 / 3})
    assert report.miou == pytest.approx((3 / 5 + 3 / 5 + 1 / 3) / 3)
    assert report.pixel_accuracy == pytest.approx(7 / 10) and report.pixels == 10


def test_nothing_to_score_is_one_error():
    only_void = np.full((2, 2), 255, np.uint8)
    with pytest.raises(InputError, match="no pixel to score"):
        SemanticReport.from_confusion(confusion([FramePair("0", only_void, only_void)]))


def test_eval_semantic_reads_a_label_video_against_png_class_maps(tmp_path, capsys):
    gt, pred = _maps()
    (tmp_path / "gt").mkdir()
    (tmp_path / "run").mkdir()
    with LabelVideoWriter(tmp_path / "run" / "semantic.mkv", 4, 3, 8, 25.0) as writer:
        for k in range(3):
            writer.write(pred, time=k / 25)
            Image.fromarray(gt).save(tmp_path / "gt" / f"{k:05d}.png")
    report = evaluate_semantic(tmp_path / "run" / "semantic.mkv", tmp_path / "gt", fps=25.0)
    assert report.miou == pytest.approx((3 / 5 + 3 / 5 + 1 / 3) / 3) and report.pixels == 30
    assert main(["eval", "--semantic", str(tmp_path / "run"), str(tmp_path / "gt"), "--fps", "25"]) == 0
    assert f"mIoU {report.miou:.3f} over 3 classes" in capsys.readouterr().out
