"""`vidseg synth` and `vidseg train tracker` end to end, through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidseg.cli import main
from vidseg.datasets.davis_layout import list_videos, load_video
from vidseg.models.tracking import build_tracker


def test_synth_then_train_writes_checkpoints_the_tracker_loads(tmp_path: Path) -> None:
    data, val, out = tmp_path / "train", tmp_path / "val", tmp_path / "run"
    assert main(["synth", str(data), "--videos", "3", "--frames", "6", "--difficulty", "0.3"]) == 0
    assert main(["synth", str(val), "--videos", "1", "--frames", "6", "--seed", "900000", "--split", "val"]) == 0
    assert len(list_videos(data)) == 3
    video = load_video(data, list_videos(data)[0])
    assert video.frames.shape == (6, 128, 128, 3) and video.labels.max() >= 1

    args = ["train", "tracker", str(data), "--val", str(val), "--out", str(out), "--steps", "4", "--batch-size", "1",
            "--clip-len", "2", "--val-every", "2", "--warmup", "1", "--threads", "2"]  # fmt: skip
    assert main(args) == 0
    assert (out / "best.pt").is_file() and (out / "last.pt").is_file()
    assert not build_tracker("vidseg_synthetic_tiny", checkpoint=out / "best.pt", device="cpu").info.random_weights
    # --resume with more steps continues from last.pt.
    assert main([*args[:-2], "--steps", "6", "--resume"]) == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--prompts", "1,0"], "three numbers"),
        (["--steps", "0"], "steps must be >= 1"),
        (["--init", "missing.pt"], "does not exist"),
        (["--objects-per-clip", "0"], "objects_per_clip must be >= 1"),
        (["--anneal-by-time"], "anneal_by_time needs max_minutes"),
        (["--ema-decay", "1"], "ema_decay must be in (0, 1)"),
    ],
)
def test_bad_training_arguments_end_with_one_clear_line(
    tmp_path: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "train"
    assert main(["synth", str(data), "--videos", "1", "--frames", "4"]) == 0
    code = main(["train", "tracker", str(data), "--out", str(tmp_path / "run"), "--clip-len", "2", *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("vidseg: error:") and message in err[-1]


def test_training_data_that_is_not_a_dataset_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["train", "tracker", str(tmp_path / "empty"), "--out", str(tmp_path / "run")]) == 2
    assert "vidseg: error:" in capsys.readouterr().err
