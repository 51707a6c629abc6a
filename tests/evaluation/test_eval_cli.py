"""Evaluation inputs (PNG folders, label videos, DAVIS collections), `evaluate` and `vidseg eval` end to end."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vidseg.cli import main
from vidseg.errors import InputError, SourceFormatError, SourceNotFoundError
from vidseg.evaluation import boundary_measure, evaluate, pair_sequences
from vidseg.formats.davis import DavisWriter
from vidseg.formats.label_video import LabelVideoWriter

SHAPE = (40, 40)


@pytest.fixture(autouse=True)
def _restore_warning_capture() -> Iterator[None]:
    yield
    logging.captureWarnings(False)  # main() turns it on for the process


def box(top: int, left: int, size: int = 10, obj_id: int = 1) -> np.ndarray:
    labels = np.zeros(SHAPE, np.uint8)
    labels[top : top + size, left : left + size] = obj_id
    return labels


EMPTY = np.zeros(SHAPE, np.uint8)
# Ground truth: object 1 still in a 10x10 box, 5 frames.
GT = [box(10, 10)] * 5
# Prediction: frame 1 exact (J = 1), frame 2 shifted 5 px (J = 50/150), frame 3 missing (J = 0);
# the first and last frames are empty, which only matters with --keep-first-last.
PRED = [EMPTY, box(10, 10), box(10, 15), EMPTY, EMPTY]
J_MIDDLE = (1.0, 1 / 3, 0.0)
F_SHIFTED = boundary_measure(PRED[2], GT[2])  # the measure itself is checked by hand in test_jf.py


def write_pngs(folder: Path, maps: Sequence[np.ndarray], names: Sequence[str] | None = None) -> Path:
    writer = DavisWriter(folder)
    for index, labels in enumerate(maps):
        writer.write(labels, index, None if names is None else names[index])
    return folder


def write_video(path: Path, maps: Sequence[np.ndarray]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with LabelVideoWriter(path, maps[0].shape[1], maps[0].shape[0]) as writer:
        for labels in maps:
            writer.write(labels)
    return path


def check_single_object(report_j: tuple[float, ...], report_f: tuple[float, ...]) -> None:
    assert report_j == pytest.approx(J_MIDDLE)
    assert report_f == pytest.approx((1.0, F_SHIFTED, 0.0))
    assert 0 < F_SHIFTED < 1


def test_png_folders(tmp_path):
    report = evaluate(write_pngs(tmp_path / "pred", PRED), write_pngs(tmp_path / "gt", GT))
    (row,) = report.objects
    assert (row.sequence, row.obj_id, row.frames) == ("gt", 1, ("00001", "00002", "00003"))
    check_single_object(row.j, row.f)
    assert report.j_mean == pytest.approx(sum(J_MIDDLE) / 3)
    assert report.jf_mean == pytest.approx((report.j_mean + report.f_mean) / 2)
    assert report.j_recall == pytest.approx(1 / 3)


@pytest.mark.parametrize("pred_kind", ["mkv", "run-folder"])
def test_label_video_prediction_against_pngs(tmp_path, pred_kind):
    video = write_video(tmp_path / "run" / "masks.mkv", PRED)
    pred = video if pred_kind == "mkv" else video.parent
    # Matched by order: the n-th video frame with the n-th PNG in natural order (frame9 before frame10).
    report = evaluate(pred, write_pngs(tmp_path / "gt", GT, [f"frame{k}" for k in (8, 9, 10, 11, 12)]))
    (row,) = report.objects
    assert row.frames == ("frame9", "frame10", "frame11")
    check_single_object(row.j, row.f)


def test_label_video_ground_truth(tmp_path):
    report = evaluate(write_pngs(tmp_path / "pred", PRED), write_video(tmp_path / "gt.mkv", GT))
    (row,) = report.objects
    assert (row.sequence, row.frames) == ("gt", ("00001", "00002", "00003"))
    check_single_object(row.j, row.f)


def test_png_frames_are_matched_by_name(tmp_path):
    # The ground truth annotates every other frame; the prediction has all ten, the odd ones wrong.
    gt = write_pngs(tmp_path / "gt", GT, [f"{2 * k:05d}" for k in range(5)])
    pred_maps = [PRED[k // 2] if k % 2 == 0 else box(25, 25) for k in range(10)]
    report = evaluate(write_pngs(tmp_path / "pred", pred_maps), gt)
    assert report.objects[0].frames == ("00002", "00004", "00006")
    check_single_object(report.objects[0].j, report.objects[0].f)


def test_davis_collection_matched_by_sequence_name(tmp_path):
    gt_root, pred_root = tmp_path / "Annotations", tmp_path / "results"
    two = [box(10, 10) + box(25, 25, obj_id=2)] * 4
    write_pngs(gt_root / "alpha", GT)
    write_pngs(gt_root / "beta", two)
    write_pngs(pred_root / "beta", [box(10, 10)] * 4)  # object 2 never predicted
    write_pngs(pred_root / "alpha", PRED)
    write_pngs(pred_root / "extra", PRED)  # not in the ground truth: ignored
    report = evaluate(pred_root, gt_root)
    rows = [(r.sequence, r.obj_id, r.j_mean) for r in report.objects]
    assert rows == [("alpha", 1, pytest.approx(4 / 9)), ("beta", 1, 1.0), ("beta", 2, 0.0)]
    assert report.j_mean == pytest.approx((4 / 9 + 1 + 0) / 3)  # over objects, not sequences
    assert report.sequences == ("alpha", "beta")


def test_missing_sequence_is_an_error(tmp_path):
    write_pngs(tmp_path / "gt" / "alpha", GT)
    write_pngs(tmp_path / "gt" / "beta", GT)
    write_pngs(tmp_path / "pred" / "alpha", PRED)
    with pytest.raises(InputError, match=r"lacks 1 of the 2 ground-truth sequences \(beta\)"):
        evaluate(tmp_path / "pred", tmp_path / "gt")


def test_missing_prediction_frame_is_empty_with_a_warning(tmp_path, caplog):
    pred = write_pngs(tmp_path / "pred", [PRED[k] for k in (0, 1, 2, 4)], ["00000", "00001", "00002", "00004"])
    with caplog.at_level(logging.WARNING):
        report = evaluate(pred, write_pngs(tmp_path / "gt", GT))
    check_single_object(report.objects[0].j, report.objects[0].f)
    assert "1 of the 5 ground-truth frames have no prediction (00003)" in caplog.text


def test_short_label_video_is_empty_with_a_warning(tmp_path, caplog):
    pred = write_video(tmp_path / "pred.mkv", PRED[:3])
    with caplog.at_level(logging.WARNING):
        report = evaluate(pred, write_pngs(tmp_path / "gt", GT))
    check_single_object(report.objects[0].j, report.objects[0].f)
    assert "2 of the 5 ground-truth frames have no prediction (00003, 00004)" in caplog.text


def test_size_mismatch_names_the_frame_and_both_sizes(tmp_path):
    pred = write_pngs(tmp_path / "pred", [np.zeros((40, 41), np.uint8)] * 5)
    with pytest.raises(InputError, match=r"frame 00000: the prediction .* is 40x41 but the ground truth .* is 40x40"):
        evaluate(pred, write_pngs(tmp_path / "gt", GT))


def test_prediction_names_that_match_no_frame(tmp_path):
    pred = write_pngs(tmp_path / "pred", PRED, [str(k) for k in range(5)])
    with pytest.raises(InputError, match=r"none of the 5 prediction PNGs .* \(0.png, ...\) is named like"):
        evaluate(pred, write_pngs(tmp_path / "gt", GT))


def test_missing_path(tmp_path):
    with pytest.raises(SourceNotFoundError, match=r"prediction .*nope does not exist; expected a folder of PNG"):
        evaluate(tmp_path / "nope", write_pngs(tmp_path / "gt", GT))
    assert issubclass(SourceNotFoundError, FileNotFoundError)


def test_folder_without_label_maps(tmp_path):
    (tmp_path / "gt").mkdir()
    (tmp_path / "gt" / "notes.txt").write_text("x")
    with pytest.raises(InputError, match=r"holds no label maps; .* found 1 entry \(notes.txt\)"):
        evaluate(write_pngs(tmp_path / "pred", PRED), tmp_path / "gt")


def test_unreadable_png(tmp_path):
    gt = write_pngs(tmp_path / "gt", GT)
    (gt / "00002.png").write_bytes(b"not a png")
    with pytest.raises(SourceFormatError, match=r"cannot read .*00002.png as a PNG label map"):
        evaluate(write_pngs(tmp_path / "pred", PRED), gt)


def test_colour_png_is_rejected(tmp_path):
    gt = write_pngs(tmp_path / "gt", GT)
    Image.new("RGB", (40, 40)).save(gt / "00001.png")
    with pytest.raises(InputError, match=r"00001.png is a RGB image; expected an indexed \(P\) or grayscale"):
        evaluate(write_pngs(tmp_path / "pred", PRED), gt)


def test_grayscale_pngs_are_label_maps(tmp_path):
    pred = tmp_path / "pred"
    pred.mkdir()
    for k, labels in enumerate(PRED):
        Image.fromarray(labels, mode="L").save(pred / f"{k:05d}.png")
    report = evaluate(pred, write_pngs(tmp_path / "gt", GT))
    check_single_object(report.objects[0].j, report.objects[0].f)


def test_single_sequence_against_collection(tmp_path):
    write_pngs(tmp_path / "pred" / "alpha", PRED)
    with pytest.raises(InputError, match=r"is one sequence but prediction .* is a folder of 1 sequences \(alpha\)"):
        pair_sequences(tmp_path / "pred", write_pngs(tmp_path / "alpha", GT))
    with pytest.raises(InputError, match=r"holds 1 sequences but prediction .* is one sequence"):
        pair_sequences(write_pngs(tmp_path / "one", PRED), tmp_path / "pred")


def test_ground_truth_without_objects(tmp_path):
    with pytest.raises(InputError, match="holds no object in any frame"):
        evaluate(write_pngs(tmp_path / "pred", PRED), write_pngs(tmp_path / "gt", [EMPTY] * 5))


def test_cli_prints_the_table(tmp_path, capsys):
    pred, gt = write_pngs(tmp_path / "pred", PRED), write_pngs(tmp_path / "gt", GT)
    assert main(["eval", str(pred), str(gt)]) == 0
    out = capsys.readouterr().out
    j_mean, f_mean = sum(J_MIDDLE) / 3, (1 + F_SHIFTED) / 3
    lines = out.splitlines()
    assert lines[0].split() == ["Sequence", "Object", "J-Mean", "F-Mean", "J&F-Mean"]
    assert lines[1].split() == ["gt", "1", f"{j_mean:.3f}", f"{f_mean:.3f}", f"{(j_mean + f_mean) / 2:.3f}"]
    header = lines.index("J&F-Mean  J-Mean  J-Recall  J-Decay  F-Mean  F-Recall  F-Decay")
    # Decay over 3 frames: bins [0, 2) and [2, 3).
    j_decay, f_decay = (1 + 1 / 3) / 2 - 0, (1 + F_SHIFTED) / 2 - 0
    f_recall = (1 + (F_SHIFTED > 0.5)) / 3
    expected = [(j_mean + f_mean) / 2, j_mean, 1 / 3, j_decay, f_mean, f_recall, f_decay]
    assert lines[header + 1].split() == [f"{v:.3f}" for v in expected]
    assert "first and last frame of each sequence excluded" in out and "0.008 of the diagonal" in out


def test_cli_json_and_options(tmp_path, capsys):
    pred, gt = write_pngs(tmp_path / "pred", PRED), write_pngs(tmp_path / "gt", GT)
    out_json = tmp_path / "reports" / "eval.json"
    assert main(["eval", str(pred), str(gt), "--json", str(out_json), "--keep-first-last", "--bound-th", "5"]) == 0
    data = json.loads(out_json.read_text())
    assert data["first_last_excluded"] is False and data["bound_th"] == 5
    (row,) = data["objects"]
    assert row["frames"] == [f"{k:05d}" for k in range(5)]
    assert row["j"] == pytest.approx([0.0, *J_MIDDLE, 0.0])
    assert row["f"] == pytest.approx([0.0, 1.0, 1.0, 0.0, 0.0])  # a 5 px shift is within a 5 px radius
    assert data["j_mean"] == pytest.approx(sum(J_MIDDLE) / 5)
    assert data["j_and_f_mean"] == pytest.approx((sum(J_MIDDLE) / 5 + 2 / 5) / 2)
    assert "all frames" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{tmp}/nope", "{gt}"], "prediction {tmp}/nope does not exist"),
        (["{pred}", "{gt}", "--bound-th", "0"], "bound_th must be"),
        (["{pred}", "{gt}", "--bound-th", "1.5"], "must be a whole number"),
    ],
)
def test_cli_errors_are_one_line_with_exit_2(tmp_path, capsys, args, message):
    pred, gt = write_pngs(tmp_path / "pred", PRED), write_pngs(tmp_path / "gt", GT)
    values = {"tmp": str(tmp_path), "pred": str(pred), "gt": str(gt)}
    assert main(["eval", *(a.format(**values) for a in args)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vidseg: error: ")
    assert message.format(**values) in lines[0]
    assert captured.out == ""


def test_cli_too_short_sequence(tmp_path, capsys):
    pred, gt = write_pngs(tmp_path / "pred", PRED[:2]), write_pngs(tmp_path / "gt", GT[:2])
    assert main(["eval", str(pred), str(gt)]) == 2
    assert "--keep-first-last" in capsys.readouterr().err
    assert main(["eval", str(pred), str(gt), "--keep-first-last"]) == 0


def test_a_label_video_of_an_every_2_run_lines_up_with_the_ground_truth_by_time(tmp_path, caplog):
    """The same run's masks.mkv and DAVIS PNGs score the same against the ground truth: the video's
    frames are placed by time (the run's manifest gives the frame rate), not by order."""
    from vidseg.config import TrackerConfig
    from vidseg.datasets.moving_shapes import moving_shapes_clip
    from vidseg.pipeline.job import JobConfig, run_job
    from vidseg.prompts.spec import ScheduledPrompt
    from vidseg.types import Prompt

    clip = moving_shapes_clip(num_frames=12, height=96, width=128, num_objects=1, seed=1)
    frames, gt = tmp_path / "frames", tmp_path / "gt"
    frames.mkdir()
    writer = DavisWriter(gt)
    for k, image in enumerate(clip.frames):
        Image.fromarray(image).save(frames / f"{k:05d}.png")
        writer.write(clip.labels[k].astype(np.uint8), k)
    click = ScheduledPrompt(Prompt(1, points=(clip.center(0, 1),), labels=(1,)))
    config = JobConfig(source=str(frames), out=tmp_path / "run", prompts=(click,), every=2, davis=tmp_path / "davis",
                       tracker=TrackerConfig(model="vidseg_synthetic_tiny", device="cpu"))  # fmt: skip
    run_job(config, show_progress=False)
    with caplog.at_level(logging.WARNING):
        video = evaluate(tmp_path / "run", gt)
    pngs = evaluate(tmp_path / "davis", gt)
    assert video.jf_mean == pytest.approx(pngs.jf_mean) and video.jf_mean > 0.3  # the skipped frames score 0
    missing = [r.message for r in caplog.records if "have no prediction" in r.message]
    assert missing and "00001, 00003, 00005" in missing[0]  # the frames --every 2 skipped, named right
