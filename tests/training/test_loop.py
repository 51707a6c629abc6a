"""Training smoke test: a few steps on a tiny generated set lower the loss; checkpoints load and resume."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vidseg.datasets.moving_shapes import moving_shapes_clip
from vidseg.errors import ConfigError
from vidseg.models.tracking import build_tracker
from vidseg.training.clips import TrainVideo
from vidseg.training.loop import TrainConfig, learning_rate, train_tracker


def _videos(seeds: range, frames: int = 8) -> list[TrainVideo]:
    out = []
    for seed in seeds:
        clip = moving_shapes_clip(num_frames=frames, height=128, width=128, num_objects=2, seed=seed)
        out.append(TrainVideo(f"v{seed}", np.stack(clip.frames), clip.labels.astype(np.uint8)))
    return out


def _history(out: Path) -> list[dict[str, float]]:
    return [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]


def test_training_lowers_the_loss_saves_loadable_checkpoints_and_resumes(tmp_path: Path) -> None:
    train, val = _videos(range(4)), _videos(range(100, 101))
    config = TrainConfig(
        out=tmp_path,
        steps=36,
        batch_size=2,
        clip_len=3,
        lr=3e-3,
        warmup=4,
        val_every=18,
        log_every=6,
        prompt_probs=(0.8, 0.2, 0.0),
    )
    lines: list[str] = []
    report = train_tracker(config, train, val, on_log=lines.append)
    assert report.steps_done == 36 and not report.stopped_early
    steps = [h for h in _history(tmp_path) if "loss" in h]
    assert [h["step"] for h in steps] == [6, 12, 18, 24, 30, 36]
    # The loss falls, and not only by fixing the first steps' "no object" scores: the masks improve.
    assert steps[-1]["loss"] < 0.5 * steps[0]["loss"], steps
    assert steps[-1]["train_iou"] > steps[0]["train_iou"] + 0.1, steps
    vals = [h for h in _history(tmp_path) if "val_jf" in h]
    assert [h["step"] for h in vals] == [18, 36] and all(0.0 <= h["val_jf"] <= 1.0 for h in vals)
    assert any("validation J&F" in line for line in lines)

    # best.pt is a SAM 2 checkpoint the tracker loads; it remembers how it was trained.
    assert report.best_path is not None
    tracker = build_tracker("vidseg_synthetic_tiny", checkpoint=report.best_path, device="cpu")
    assert not tracker.info.random_weights
    meta = torch.load(report.best_path, map_location="cpu", weights_only=False)["vidseg"]
    assert meta["step"] in (18, 36) and meta["config"]["clip_len"] == 3

    # Resuming continues from last.pt: same step count, history appended, not restarted.
    resumed = train_tracker(TrainConfig(**{**config.__dict__, "steps": 42, "resume": True}), train, val, lines.append)
    assert resumed.steps_done == 42
    assert any(line.startswith("resumed from") and "at step 36" in line for line in lines)
    assert [h["step"] for h in _history(tmp_path) if "loss" in h][-2:] == [36, 42]

    # Resuming a finished run changes nothing: no validation again, no time added to its record.
    before = (_history(tmp_path), torch.load(report.last_path, map_location="cpu", weights_only=False)["seconds"])
    again = train_tracker(TrainConfig(**{**config.__dict__, "steps": 42, "resume": True}), train, val, lines.append)
    assert again.steps_done == 42 and again.final is None and again.best_path == resumed.best_path
    assert again.seconds == before[1]
    after = (_history(tmp_path), torch.load(report.last_path, map_location="cpu", weights_only=False)["seconds"])
    assert after == before
    assert lines[-1] == "already trained 42 of 42 steps; nothing to do"


def test_time_budget_stops_early_still_saves_and_spans_resumed_runs(tmp_path: Path) -> None:
    config = TrainConfig(out=tmp_path, steps=1000, batch_size=1, clip_len=2, max_minutes=0.0, val_every=0)
    videos = _videos(range(2))
    report = train_tracker(config, videos, [])
    assert report.stopped_early and report.steps_done == 0
    assert report.last_path.is_file() and report.best_path is None

    # Resumed, a run that spent its budget stays stopped: the budget counts the earlier run's time.
    saved = torch.load(report.last_path, map_location="cpu", weights_only=False)["seconds"]
    lines: list[str] = []
    again = train_tracker(TrainConfig(**{**config.__dict__, "resume": True}), videos, [], lines.append)
    assert again.stopped_early and again.steps_done == 0 and again.seconds == saved
    assert lines[-1] == "the time budget of 0 min was spent at step 0; nothing to do"
    assert torch.load(report.last_path, map_location="cpu", weights_only=False)["seconds"] == saved

    # With a budget left, it goes on from where it stopped.
    more = TrainConfig(**{**config.__dict__, "steps": 2, "max_minutes": 10.0, "resume": True})
    assert train_tracker(more, videos, []).steps_done == 2


def test_learning_rate_warms_up_then_decays_to_the_floor() -> None:
    config = TrainConfig(out=Path("unused"), steps=100, lr=1e-3, warmup=10, min_lr_ratio=0.1)
    rates = [learning_rate(s, config) for s in range(100)]
    assert rates[0] == pytest.approx(1e-4) and rates[9] == pytest.approx(1e-3)
    assert all(a >= b for a, b in itertools.pairwise(rates[9:]))
    assert learning_rate(100, config) == pytest.approx(1e-4)


def test_annealing_by_time_follows_whichever_of_steps_and_minutes_is_further_along() -> None:
    config = TrainConfig(out=Path("unused"), steps=100, lr=1e-3, warmup=10, min_lr_ratio=0.1, max_minutes=10.0)
    timed = TrainConfig(**{**config.__dict__, "anneal_by_time": True})
    # Warm-up is by steps; time on its own changes nothing without anneal_by_time.
    assert learning_rate(5, timed, 590.0) == learning_rate(5, config) == pytest.approx(6e-4)
    assert learning_rate(50, config, 590.0) == learning_rate(50, config)
    # A machine as fast as the steps assumed: the time budget's progress is the steps', same rates.
    for step in (10, 40, 70, 99):
        assert learning_rate(step, timed, 600.0 * step / 100) == pytest.approx(learning_rate(step, config))
    # A slower one: time is further along, so the rate is lower, and the floor at the budget's end.
    assert learning_rate(20, timed, 300.0) < learning_rate(20, config)
    assert learning_rate(20, timed, 300.0) == pytest.approx(learning_rate(50, config))  # half the budget
    assert learning_rate(20, timed, 600.0) == pytest.approx(1e-4)
    # A faster one: the steps are further along and rule.
    assert learning_rate(80, timed, 60.0) == pytest.approx(learning_rate(80, config))


def test_training_for_a_time_budget_ends_annealed(tmp_path: Path) -> None:
    config = TrainConfig(out=tmp_path, steps=100_000, batch_size=1, clip_len=2, lr=1e-3, warmup=1,
                         max_minutes=0.15, anneal_by_time=True, val_every=0, log_every=1)  # fmt: skip
    report = train_tracker(config, _videos(range(2)), [])
    assert report.stopped_early and report.steps_done > 3
    rates = [h["lr"] for h in _history(tmp_path) if "lr" in h]
    assert all(a >= b for a, b in itertools.pairwise(rates[1:])), rates
    # The last step ran within its last step's time of the budget's end: near the floor (5e-5).
    assert rates[0] == pytest.approx(1e-3) and rates[-1] < 3e-4, rates


@pytest.mark.parametrize(
    ("field", "value"),
    [("steps", 0), ("lr", 0.0), ("lr", 2.0), ("warmup", -1), ("log_every", 0), ("objects_per_clip", 0),
     ("max_minutes", -1.0), ("anneal_by_time", True), ("ema_decay", 1.0), ("ema_decay", 0.0)],
)  # fmt: skip
def test_bad_training_config_is_refused(field: str, value: float) -> None:
    with pytest.raises(ConfigError, match=field):
        TrainConfig(out=Path("unused"), **{field: value})  # type: ignore[arg-type]


def test_fine_tuning_an_official_architecture_with_a_frozen_image_encoder(tmp_path: Path) -> None:
    start = build_tracker("sam2.1_hiera_tiny", random_weights=True, image_size=128, device="cpu", seed=3).model
    init = tmp_path / "init.pt"
    torch.save({"model": start.state_dict()}, init)
    config = TrainConfig(
        out=tmp_path / "ft",
        model="sam2.1_hiera_tiny",
        image_size=128,
        init=init,
        freeze_image_encoder=True,
        steps=2,
        batch_size=1,
        clip_len=2,
        warmup=1,
        val_every=0,
        log_every=1,
    )
    report = train_tracker(config, _videos(range(1)), [])
    trained = torch.load(report.last_path, map_location="cpu", weights_only=False)["model"]
    before = start.state_dict()
    encoder = [k for k in before if k.startswith("image_encoder.")]
    others = [k for k in before if not k.startswith("image_encoder.") and before[k].is_floating_point()]
    assert encoder and all(torch.equal(before[k], trained[k]) for k in encoder)
    assert any(not torch.equal(before[k], trained[k]) for k in others)
