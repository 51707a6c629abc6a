"""The moving average of the weights: its arithmetic, swapping it in, saving it and resuming it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.training.test_loop import _videos
from vidseg.errors import CheckpointError, ConfigError
from vidseg.models.tracking import build_tracker
from vidseg.training.averaging import WeightAverage
from vidseg.training.loop import TrainConfig, train_tracker


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))


def test_the_average_follows_the_weights_with_the_decay_and_copies_counters() -> None:
    net = _net()
    start = net[0].weight.detach().clone()
    average = WeightAverage(net, decay=0.75)
    seen = []
    for k in range(3):
        with torch.no_grad():
            net[0].weight.add_(1.0 + k)
        net[1].num_batches_tracked += 1
        seen.append(net[0].weight.detach().clone())
        average.update(net)
    # a_k = 0.75 a_{k-1} + 0.25 w_k, from a_0 = the starting weights.
    expected = start
    for weights in seen:
        expected = 0.75 * expected + 0.25 * weights
    averaged = average.weights()
    torch.testing.assert_close(averaged["0.weight"], expected)
    assert int(averaged["1.num_batches_tracked"]) == 3 and average.updates == 3
    assert not torch.equal(averaged["0.weight"], net[0].weight)


def test_applied_swaps_the_average_in_and_restores_the_weights() -> None:
    net = _net()
    average = WeightAverage(net, decay=0.5)
    with torch.no_grad():
        net[0].weight.mul_(3.0)
    average.update(net)
    own = net[0].weight.detach().clone()
    with average.applied(net):
        torch.testing.assert_close(net[0].weight, average.weights()["0.weight"])
    assert torch.equal(net[0].weight, own)
    with pytest.raises(RuntimeError, match="inside"), average.applied(net):
        raise RuntimeError("inside")
    assert torch.equal(net[0].weight, own)  # restored on an error too


def test_a_saved_average_resumes_and_one_of_another_model_is_refused() -> None:
    net = _net()
    average = WeightAverage(net, decay=0.9)
    with torch.no_grad():
        net[0].weight.add_(1.0)
    average.update(net)
    again = WeightAverage(_net(), decay=0.9)
    again.load_state_dict(average.state_dict())
    assert again.updates == 1 and torch.equal(again.weights()["0.weight"], average.weights()["0.weight"])
    with pytest.raises(CheckpointError, match="does not fit this model"):
        WeightAverage(torch.nn.Linear(3, 2), decay=0.9).load_state_dict(average.state_dict())


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5, 1.5])
def test_a_decay_outside_zero_one_is_refused(decay: float) -> None:
    with pytest.raises(ConfigError, match=r"in \(0, 1\)"):
        WeightAverage(_net(), decay)


def test_training_saves_validates_and_resumes_the_weight_average(tmp_path: Path) -> None:
    train, val = _videos(range(2), frames=4), _videos(range(100, 101), frames=4)
    config = TrainConfig(out=tmp_path, steps=4, batch_size=1, clip_len=2, lr=3e-3, warmup=1, val_every=2,
                         log_every=2, ema_decay=0.5, prompt_probs=(1.0, 0.0, 0.0))  # fmt: skip
    lines: list[str] = []
    report = train_tracker(config, train, val, on_log=lines.append)
    assert report.ema_path == tmp_path / "ema.pt" and report.ema_final is not None
    saved = torch.load(report.ema_path, map_location="cpu", weights_only=False)
    assert saved["vidseg"]["weights"] == "ema" and saved["vidseg"]["ema_updates"] == 4
    assert saved["vidseg"]["val_jf"] == pytest.approx(report.ema_final.jf)
    last = torch.load(report.last_path, map_location="cpu", weights_only=False)
    assert last["ema"]["updates"] == 4
    trained = {k: v for k, v in last["model"].items() if v.is_floating_point()}
    assert any(not torch.equal(saved["model"][k], v) for k, v in trained.items())  # an average, not a copy
    # The final validation scores both; only the final one scores the average.
    history = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    averaged = [h for h in history if h.get("weights") == "ema"]
    assert [h["step"] for h in averaged] == [4] and averaged[0]["val_jf"] == pytest.approx(report.ema_final.jf)
    assert any("weight average" in line for line in lines)
    # ema.pt is a SAM 2 checkpoint the tracker loads.
    assert not build_tracker("vidseg_synthetic_tiny", checkpoint=report.ema_path, device="cpu").info.random_weights

    # Resumed, the average goes on from the saved one.
    resumed = train_tracker(TrainConfig(**{**config.__dict__, "steps": 6, "resume": True}), train, val)
    assert resumed.ema_path is not None
    assert torch.load(resumed.ema_path, map_location="cpu", weights_only=False)["vidseg"]["ema_updates"] == 6

    # A fresh run in the same folder without an average leaves no stale ema.pt behind.
    plain = train_tracker(TrainConfig(**{**config.__dict__, "ema_decay": None, "steps": 1}), train, [])
    assert plain.ema_path is None and not (tmp_path / "ema.pt").exists()


def test_a_budget_spent_right_after_a_validation_scores_those_weights_once(tmp_path: Path) -> None:
    # One step and its validation take well over the 0.1 s budget, so the run stops at step 1, just
    # after validating it; the final validation scores only the average.
    config = TrainConfig(out=tmp_path, steps=100, batch_size=1, clip_len=2, warmup=1, val_every=1, log_every=1,
                         max_minutes=0.1 / 60, ema_decay=0.9, prompt_probs=(1.0, 0.0, 0.0))  # fmt: skip
    lines: list[str] = []
    report = train_tracker(config, _videos(range(1), frames=3), _videos(range(100, 101), frames=3), lines.append)
    assert report.stopped_early and report.steps_done == 1
    assert report.final is not None and report.ema_final is not None
    history = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    scored = [(h["step"], h.get("weights")) for h in history if "val_jf" in h]
    assert scored == [(1, None), (1, "ema")]
    assert sum("validation J&F" in line and "average" not in line for line in lines) == 1
