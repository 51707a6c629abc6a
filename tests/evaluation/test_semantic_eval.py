"""Semantic scores: per-class IoU, mIoU and pixel accuracy, exact on constructed maps."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from PIL import Image

from vidseg.cli import main
from vidseg.errors import InputError
from vidseg.evaluation.jf import FramePair
from vidseg.evaluation.semantic import SemanticReport, confusion, evaluate_semantic, manifest_classes
from vidseg.formats.label_video import LabelVideoWriter


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


def _run(folder, classes=None, extra=None):
    """A run folder as vidseg run writes it: semantic.mkv and a manifest (with ``"semantic"``
    when ``classes`` are given), and PNG ground truth beside it."""
    gt, pred = _maps()
    folder.mkdir(parents=True)
    with LabelVideoWriter(folder / "semantic.mkv", 4, 3, 8, 25.0) as writer:
        for k in range(3):
            writer.write(pred, time=k / 25)
    manifest = {"source": {"fps": 25.0, "start_time": 0.0}, **(extra or {})}
    if classes is not None:
        manifest["semantic"] = {"name": "vidseg_unet_synthetic", "classes": classes, "checkpoint": None,
                                "checkpoint_sha256": None, "random_weights": True, "input_size": 64}  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(manifest))
    gt_folder = folder.parent / f"{folder.name}-gt"
    gt_folder.mkdir()
    for k in range(3):
        Image.fromarray(gt).save(gt_folder / f"{k:05d}.png")
    return folder, gt_folder


def test_eval_semantic_names_the_classes_the_runs_manifest_records(tmp_path, capsys):
    run, gt = _run(tmp_path / "run", ["road", "car", "person"])
    report = evaluate_semantic(run, gt)
    assert report.classes == ("road", "car", "person")
    assert main(["eval", "--semantic", str(run), str(gt)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: float(line.split()[1]) for line in out.splitlines()[1:4]}
    assert rows == pytest.approx({"road": 3 / 5, "car": 3 / 5, "person": 1 / 3}, abs=5e-4)


def test_eval_semantic_without_class_names_shows_ids(tmp_path, capsys):
    run, gt = _run(tmp_path / "run")
    assert evaluate_semantic(run, gt).classes == ()
    assert main(["eval", "--semantic", str(run), str(gt)]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:4]] == ["0", "1", "2"]


def test_eval_semantic_json_writes_the_report_and_says_where(tmp_path, caplog):
    run, gt = _run(tmp_path / "run", ["road", "car", "person"])
    target = tmp_path / "reports" / "semantic.json"
    with caplog.at_level(logging.INFO):
        assert main(["eval", "--semantic", str(run), str(gt), "--json", str(target)]) == 0
    written = json.loads(target.read_text())
    assert written["miou"] == pytest.approx((3 / 5 + 3 / 5 + 1 / 3) / 3) and written["pixels"] == 30
    assert written["pixel_accuracy"] == pytest.approx(0.7) and written["class_names"] == ["road", "car", "person"]
    assert [(c["id"], c["name"]) for c in written["classes"]] == [(0, "road"), (1, "car"), (2, "person")]
    assert written["classes"][2]["iou"] == pytest.approx(1 / 3)
    assert any(str(target) in r.getMessage() for r in caplog.records)


def test_runs_that_name_their_classes_differently_are_shown_by_id(tmp_path, caplog):
    for name, classes in (("a", ["road", "car", "person"]), ("b", ["sky", "tree", "dog"])):
        _run(tmp_path / "pred" / name, classes)
    gt = tmp_path / "gt"
    gt.mkdir()
    for name in ("a", "b"):
        (tmp_path / "pred" / f"{name}-gt").rename(gt / name)
    with caplog.at_level(logging.WARNING):
        assert evaluate_semantic(tmp_path / "pred", gt).classes == ()
    assert "name their classes differently" in caplog.text


@pytest.mark.parametrize(("content", "expected"), [
    (None, None),  # no manifest
    ("{not json", None),
    (json.dumps({"source": {}}), None),  # a run without a semantic model, or before the key existed
    (json.dumps({"semantic": None}), None),
    (json.dumps({"semantic": {"classes": "road"}}), None),
    (json.dumps({"semantic": {"classes": ["road", 3]}}), None),
    (json.dumps({"semantic": {"classes": ["road", "car"]}}), ("road", "car")),
])  # fmt: skip
def test_manifest_classes_reads_only_a_list_of_names(tmp_path, content, expected):
    manifest = tmp_path / "manifest.json"
    if content is not None:
        manifest.write_text(content)
    assert manifest_classes(manifest) == expected
