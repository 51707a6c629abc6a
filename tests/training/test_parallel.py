"""Data-parallel training: real processes over gloo on 127.0.0.1, gradients averaged, weights kept equal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.training.test_loop import _videos
from vidseg.errors import ConfigError
from vidseg.training.loop import TrainConfig, train_tracker
from vidseg.training.parallel import Group, TrainingWorkerError, process_group


def _average_job(group: Group, folder: Path) -> None:
    # Rank r holds gradient (r + 1) on the weight; only rank 1 reached the bias; no rank the spare.
    torch.manual_seed(0)
    layer = torch.nn.Linear(3, 2)
    spare = torch.nn.Parameter(torch.zeros(4))
    assert layer.weight.grad is None
    layer.weight.grad = torch.full_like(layer.weight, float(group.rank + 1))
    if group.rank == 1:
        layer.bias.grad = torch.full_like(layer.bias, 4.0)
    stats = group.average_gradients([layer.weight, layer.bias, spare], [10.0 * group.rank, 1.0])
    assert spare.grad is None
    torch.save({"weight": layer.weight.grad, "bias": layer.bias.grad, "stats": stats}, folder / f"rank{group.rank}.pt")


def _failing_job(group: Group) -> None:
    raise RuntimeError("helper broke on purpose")


def test_every_rank_gets_the_mean_gradient_and_unreached_parameters_stay_without_one(tmp_path: Path) -> None:
    with process_group(2, _average_job, (tmp_path,)) as group:
        assert group.lead and group.world == 2
        _average_job(group, tmp_path)
    results = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    for result in results:
        assert torch.equal(result["weight"], torch.full((2, 3), 1.5))  # (1 + 2) / 2
        assert torch.equal(result["bias"], torch.full((2,), 2.0))  # (0 + 4) / 2: a missing gradient counts as zero
        assert result["stats"] == [5.0, 1.0]


def test_a_failing_helper_process_is_reported(tmp_path: Path) -> None:
    with pytest.raises(TrainingWorkerError, match="processes=1"), process_group(2, _failing_job, ()) as group:
        group.wait()  # the helper never arrives: its process has died


def test_two_processes_train_validate_save_and_resume(tmp_path: Path) -> None:
    train, val = _videos(range(4), frames=6), _videos(range(100, 101), frames=6)
    config = TrainConfig(out=tmp_path, steps=4, batch_size=2, clip_len=2, warmup=1, val_every=2, log_every=2,
                         processes=2)  # fmt: skip
    lines: list[str] = []
    report = train_tracker(config, train, val, on_log=lines.append)  # saving checks the ranks' weights agree
    assert report.steps_done == 4 and report.best_path is not None
    history = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history if "loss" in h] == [2, 4]
    assert [h["step"] for h in history if "val_jf" in h] == [2, 4]
    last = torch.load(report.last_path, map_location="cpu", weights_only=False)
    assert last["vidseg"]["config"]["processes"] == 2
    ranks = last["rng_ranks"]
    assert len(ranks) == 2 and ranks[0] == last["rng"] and ranks[1] != ranks[0]  # each rank draws its own clips

    resumed = train_tracker(TrainConfig(**{**config.__dict__, "steps": 6, "resume": True}), train, val, lines.append)
    assert resumed.steps_done == 6
    assert any(line.startswith("resumed from") and "at step 4" in line for line in lines)
    assert not torch.equal(
        torch.load(resumed.last_path, map_location="cpu", weights_only=False)["model"]["obj_ptr_proj.layers.0.weight"],
        last["model"]["obj_ptr_proj.layers.0.weight"],
    )


@pytest.mark.parametrize(("processes", "batch_size"), [(0, 4), (3, 4)])
def test_processes_must_divide_the_batch(processes: int, batch_size: int) -> None:
    with pytest.raises(ConfigError, match="processes"):
        TrainConfig(out=Path("unused"), processes=processes, batch_size=batch_size)
