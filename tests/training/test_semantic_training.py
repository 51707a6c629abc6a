"""vidseg train semantic: the U-Net from scratch and a torchvision model fine-tuned on class-id maps,
with validation, best/last checkpoints, resume and a time budget."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from vidseg.datasets.davis_layout import write_davis_dataset
from vidseg.datasets.synthetic_videos import SHAPE_CLASSES, VideoSpec
from vidseg.errors import InputError
from vidseg.models.semantic import build_semantic_model
from vidseg.training.semantic import (
    SemanticTrainConfig,
    learning_rate,
    load_semantic_frames,
    segmentation_loss,
    train_semantic,
)

CLASSES = ("background", *SHAPE_CLASSES.values())


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("semdata")
    spec = VideoSpec.at_difficulty(0.3, num_frames=3, height=64, width=64)
    write_davis_dataset(root / "train", range(4), spec, progress=False)
    write_davis_dataset(root / "val", range(900_000, 900_002), spec, split="val", progress=False)
    return root


def _train(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vidseg", "train", "semantic", *args], capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def test_frames_and_class_maps_load_at_the_models_size_with_the_datasets_class_names(data):
    frames = load_semantic_frames([data / "train"], 32)
    assert frames.images.shape == (12, 32, 32, 3) and frames.labels.shape == (12, 32, 32)
    assert frames.classes == CLASSES and set(np.unique(frames.labels)) <= set(range(len(CLASSES)))
    assert len(load_semantic_frames([data / "train"], 32, every=2)) == 8  # frames 0 and 2 of each clip
    with pytest.raises(InputError, match="only 2 classes are named"):
        load_semantic_frames([data / "train"], 32, classes=["background", "disc"])


def test_the_unet_trains_validates_saves_best_and_last_and_resumes(data, tmp_path):
    out = tmp_path / "run"
    base = [str(data / "train"), "--val", str(data / "val"), "--out", str(out), "--input-size", "64",
            "--batch-size", "4", "--warmup", "2", "--val-every", "3"]  # fmt: skip
    first = _train(*base, "--steps", "6")
    assert first.returncode == 0, first.stderr
    assert re.search(r"step 6/6 loss [\d.]+ lr \S+ [\d.]+ min, ETA 0\.0 min", first.stderr)  # the tracker's progress
    assert "mIoU" in first.stdout and "disc" in first.stdout  # the final per-class table
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history if "val_miou" in h] == [3, 6]
    best = torch.load(out / "best.pt", weights_only=False)
    assert best["vidseg"]["classes"] == list(CLASSES) and best["vidseg"]["input_size"] == 64
    model = build_semantic_model("vidseg_unet_synthetic", out / "best.pt")
    assert model.classes == CLASSES and model.input_size == 64  # classes and size travel with the checkpoint
    assert torch.load(out / "last.pt", weights_only=False)["step"] == 6
    resumed = _train(*base, "--steps", "9", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert torch.load(out / "last.pt", weights_only=False)["step"] == 9
    budget = _train(*base, "--steps", "50", "--resume", "--max-minutes", "0")  # the budget is spent: stop at once
    assert budget.returncode == 0 and torch.load(out / "last.pt", weights_only=False)["step"] == 9


@pytest.mark.parametrize(
    ("progress_seconds", "log_every", "lines_at"),
    [
        (0.0, 1000, [1, 2, 3, 4]),  # a line at least every 0 s: after every step
        (None, 2, [2, 4]),  # every log_every steps only
        (None, 1000, [4]),  # the last step always has one
    ],
)
def test_progress_lines_with_an_eta_come_while_it_trains(data, tmp_path, progress_seconds, log_every, lines_at):
    frames = load_semantic_frames([data / "train"], 64)
    config = SemanticTrainConfig(out=tmp_path, input_size=64, steps=4, batch_size=2, warmup=1, val_every=0,
                                 log_every=log_every, progress_seconds=progress_seconds)  # fmt: skip
    seen: list[tuple[str, bool]] = []  # each line, and whether the run had saved last.pt (at its end) by then
    report = train_semantic(config, frames, on_log=lambda line: seen.append((line, (tmp_path / "last.pt").exists())))
    assert report.steps_done == 4
    progress = [(line, saved) for line, saved in seen if line.startswith("step ")]
    assert [int(line.split()[1].split("/")[0]) for line, _ in progress] == lines_at
    assert not any(saved for _, saved in progress)  # they came during the training, not after it
    for line, _ in progress:
        assert re.fullmatch(r"step \d/4 loss [\d.]+ lr [\d.e+-]+ [\d.]+ min, ETA [\d.]+ min", line), line
    assert progress[-1][0].endswith("ETA 0.0 min")


def test_a_spent_time_budget_is_said_in_a_line(data, tmp_path):
    frames = load_semantic_frames([data / "train"], 64)
    config = SemanticTrainConfig(out=tmp_path, input_size=64, steps=4, batch_size=2, max_minutes=0)
    lines: list[str] = []
    report = train_semantic(config, frames, on_log=lines.append)
    assert report.stopped_early and report.steps_done == 0
    assert lines == ["time budget of 0 min reached at step 0; stopping"]


def test_a_torchvision_model_is_fine_tuned_with_a_new_head_for_the_datas_classes(data, tmp_path):
    out = tmp_path / "tv"
    done = _train(str(data / "train"), "--out", str(out), "--model", "lraspp_mobilenet_v3_large", "--random-init",
                  "--input-size", "64", "--steps", "2", "--batch-size", "2", "--val", str(data / "val"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    model = build_semantic_model("lraspp_mobilenet_v3_large", out / "best.pt")
    assert model.classes == CLASSES
    labels = model.predict(np.zeros((40, 50, 3), np.uint8))
    assert labels.shape == (40, 50) and int(labels.max()) < len(CLASSES)
    wrong = _train(str(data / "train"), "--out", str(tmp_path / "x"), "--model", "vidseg_unet_synthetic", "--init",
                   str(out / "best.pt"), "--steps", "1")  # fmt: skip
    assert wrong.returncode == 2 and "lraspp_mobilenet_v3_large" in wrong.stderr  # weights of another model: one line


def test_the_loss_is_small_for_a_confident_right_answer_and_ignores_255():
    target = torch.tensor([[[0, 1], [2, 255]]])
    logits = torch.full((1, 3, 2, 2), -20.0)
    for k, c in enumerate([0, 1, 2, 0]):
        logits[0, c, k // 2, k % 2] = 20.0
    assert float(segmentation_loss(logits, target)) < 1e-3
    wrong_on_ignored = logits.clone()
    wrong_on_ignored[0, :, 1, 1] = torch.tensor([-20.0, 20.0, -20.0])
    assert float(segmentation_loss(wrong_on_ignored, target)) < 1e-3  # the ignored pixel counts for nothing
    assert float(segmentation_loss(-logits, target)) > 10


def test_the_learning_rate_warms_up_then_anneals_by_steps_or_time(tmp_path):
    config = SemanticTrainConfig(out=tmp_path, steps=1000, lr=1e-3, warmup=100, min_lr_ratio=0.0)
    assert learning_rate(0, config) == pytest.approx(1e-5)
    assert learning_rate(100, config) == pytest.approx(1e-3)
    assert learning_rate(550, config) == pytest.approx(0.5e-3)
    assert learning_rate(1000, config) == pytest.approx(0.0, abs=1e-12)
    timed = SemanticTrainConfig(out=tmp_path, steps=10_000, lr=1e-3, warmup=0, min_lr_ratio=0.0, max_minutes=10)
    assert learning_rate(10, timed, seconds=300) == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi * 0.5)))
