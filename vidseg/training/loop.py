"""Training (or fine-tuning) a SAM 2 tracker on annotated videos.

Each step draws a batch of clips (:mod:`vidseg.training.clips`), unrolls the model over them as
the tracker would run (:mod:`vidseg.training.unroll`) and minimises the clip loss
(:mod:`vidseg.training.losses`) with AdamW under a warm-up + cosine learning-rate schedule.
Every ``val_every`` steps the streaming tracker itself is scored on held-out videos (J&F).

Files written to ``out``:
- ``last.pt``: model, optimiser, step, random state and history; ``--resume`` continues from it.
- ``best.pt``: the model with the best validation J&F, in SAM 2's checkpoint format (a dict with
  a ``"model"`` state dict), loadable with ``build_tracker(model, checkpoint=PATH)``, plus a
  ``"vidseg"`` entry describing how it was trained.
- ``ema.pt`` (with ``ema_decay``): the moving average of the weights (:mod:`vidseg.training.averaging`),
  in the same format as ``best.pt``, saved with ``last.pt`` and validated at the end.
- ``history.jsonl``: one line per logged step and per validation (the average's carry
  ``"weights": "ema"``).

With ``processes > 1`` the step's clips are split between that many processes, whose gradients
are averaged (:mod:`vidseg.training.parallel`): the same training, more clips per second on a
CPU. This process stays rank 0 and does all the logging, validation and saving.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidseg.errors import CheckpointError, ConfigError
from vidseg.models.tracking.model import instantiate_model, load_model_config, load_weights
from vidseg.models.tracking.registry import get_model_spec
from vidseg.training.averaging import WeightAverage
from vidseg.training.clips import ClipSampler, TrainVideo
from vidseg.training.losses import LossWeights, clip_loss
from vidseg.training.parallel import Group, process_group
from vidseg.training.records import append_history, config_json, save_checkpoint
from vidseg.training.unroll import unroll
from vidseg.training.validate import ValidationScores, validate
from vidseg.version import __version__

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """How to train.

    Attributes:
        out: folder for checkpoints and history.
        model: model name (its architecture config); see ``vidseg models``.
        image_size: model input size (default: the model's own).
        init: checkpoint to start from (fine-tuning), or None to train from scratch.
        steps: optimiser steps in all (the schedule's length).
        batch_size: clips per step (over all processes).
        clip_len: frames per clip (1: click-to-mask on single frames).
        objects_per_clip: at most this many objects of each clip are tracks of the step (they share
            the clip's images; SAM 2 trains this way, and it teaches the model to tell objects apart).
        lr: peak learning rate; warmup: its linear warm-up in steps; min_lr_ratio: the cosine's floor.
        weight_decay: AdamW weight decay.
        grad_clip: gradient-norm clip.
        prompt_probs: click, box and mask prompt probabilities.
        losses: loss weights.
        freeze_image_encoder: train everything but the image encoder (the usual fine-tune).
        seed: seeds the weights (from scratch), the clip draws and the prompts.
        val_every: steps between validations (0: only at the end).
        log_every: steps between log lines.
        max_minutes: stop (and save) after this much training time, summed over resumed runs, or None.
        anneal_by_time: with ``max_minutes``, the cosine follows the time budget too, whichever of
            steps and minutes is further along: a run that its budget stops (a slower machine than
            ``steps`` assumed, or ``steps`` set high to train for the budget) still ends at the floor
            learning rate. Its learning rates then depend on the machine's speed, so a rerun with
            the same seed is not the same run step for step.
        ema_decay: keep an exponential moving average of the weights with this decay (e.g. 0.99:
            about the last 100 steps) beside the trained ones, saved as ``ema.pt`` and validated at
            the end; None keeps none.
        resume: continue from ``out/last.pt`` when it exists.
        processes: data-parallel training processes on this machine; each draws ``batch_size /
            processes`` clips per step with its share of the torch threads (see
            :mod:`vidseg.training.parallel`). The helpers are started with ``spawn``, which imports
            the calling script again: a script that trains this way needs an
            ``if __name__ == "__main__":`` guard.
    """

    out: Path
    model: str = "vidseg_synthetic_tiny"
    image_size: int | None = None
    init: Path | None = None
    steps: int = 2000
    batch_size: int = 4
    clip_len: int = 8
    objects_per_clip: int = 3
    lr: float = 5e-4
    warmup: int = 100
    min_lr_ratio: float = 0.05
    weight_decay: float = 0.05
    grad_clip: float = 1.0
    prompt_probs: tuple[float, float, float] = (0.7, 0.2, 0.1)
    losses: LossWeights = field(default_factory=LossWeights)
    freeze_image_encoder: bool = False
    seed: int = 0
    val_every: int = 250
    log_every: int = 25
    max_minutes: float | None = None
    anneal_by_time: bool = False
    ema_decay: float | None = None
    resume: bool = False
    processes: int = 1

    def __post_init__(self) -> None:
        problems = []
        if self.objects_per_clip < 1:
            problems.append(f"objects_per_clip must be >= 1 (found {self.objects_per_clip})")
        if self.steps < 1:
            problems.append(f"steps must be >= 1 (found {self.steps})")
        if self.processes < 1 or self.batch_size % self.processes:
            problems.append(f"processes must be >= 1 and divide batch_size (found processes {self.processes}, "
                            f"batch_size {self.batch_size})")  # fmt: skip
        if not 0 < self.lr < 1:
            problems.append(f"lr must be in (0, 1) (found {self.lr})")
        if self.max_minutes is not None and not self.max_minutes >= 0:
            problems.append(f"max_minutes must be >= 0 or None (found {self.max_minutes})")
        if self.anneal_by_time and self.max_minutes is None:
            problems.append("anneal_by_time needs max_minutes (the time budget to anneal over); found none")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            problems.append(f"ema_decay must be in (0, 1) or None (found {self.ema_decay})")
        if self.warmup < 0 or self.val_every < 0 or self.log_every < 1:
            problems.append(f"warmup and val_every >= 0, log_every >= 1 (found {self.warmup}, {self.val_every}, "
                            f"{self.log_every})")  # fmt: skip
        if problems:
            raise ConfigError("bad training config: " + "; ".join(problems))

    def to_json(self) -> dict[str, Any]:
        return config_json(self)


@dataclass(frozen=True)
class TrainReport:
    """What a training run did."""

    steps_done: int
    seconds: float
    best_jf: float | None
    best_step: int | None
    best_path: Path | None
    last_path: Path
    final: ValidationScores | None
    stopped_early: bool
    ema_path: Path | None = None
    ema_final: ValidationScores | None = None


def learning_rate(step: int, config: TrainConfig, seconds: float = 0.0) -> float:
    """Linear warm-up to ``lr``, then a cosine down to ``lr * min_lr_ratio`` at ``steps``.

    With ``config.anneal_by_time``, ``seconds`` (training time so far) moves the cosine on too: its
    progress is the larger of the steps' and the time budget's, the latter counted after the share
    of the budget that ``warmup`` takes of ``steps``, so that on a machine as fast as ``steps``
    assumed the two agree.
    """
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = min(1.0, (step - config.warmup) / max(1, config.steps - config.warmup))
    if config.anneal_by_time and config.max_minutes is not None:
        spent = seconds / (60 * config.max_minutes) if config.max_minutes > 0 else 1.0
        warm = config.warmup / config.steps
        by_time = (spent - warm) / (1 - warm) if warm < 1 else 1.0
        progress = min(1.0, max(progress, by_time))
    floor = config.lr * config.min_lr_ratio
    return floor + (config.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_training_model(config: TrainConfig) -> Any:
    """The model to train: the named architecture, from ``config.init`` or freshly initialised."""
    spec = get_model_spec(config.model)
    size = config.image_size or spec.default_image_size
    cfg = load_model_config(spec.config, {"model.image_size": size, **spec.overrides})
    net: Any = instantiate_model(cfg, seed=config.seed)
    if config.init is not None:
        if not Path(config.init).is_file():
            raise CheckpointError(f"--init checkpoint {config.init} does not exist; expected a SAM 2 .pt file")
        load_weights(net, Path(config.init))
    if config.freeze_image_encoder:
        for p in net.image_encoder.parameters():
            p.requires_grad_(False)
    return net


def train_tracker(
    config: TrainConfig,
    train_videos: Sequence[TrainVideo],
    val_videos: Sequence[TrainVideo],
    on_log: Callable[[str], None] | None = None,
) -> TrainReport:
    """Train per ``config``; see the module docstring. ``on_log`` receives each progress line."""
    emit = on_log or log.info
    with process_group(config.processes, _train_helper, (config, list(train_videos))) as group:
        return _train(group, config, train_videos, val_videos, emit)


def _train_helper(group: Group, config: TrainConfig, train_videos: Sequence[TrainVideo]) -> None:
    """A helper rank: trains on its own clips, never logs, validates or saves."""
    _train(group, config, train_videos, [], lambda line: None)


def _rank_rng(config: TrainConfig, group: Group, state: dict[str, Any] | None) -> np.random.Generator:
    """This rank's clip and prompt generator: rank 0's is seeded as a single process's, so one
    process trains as before; resumed, each rank continues its own (or, resuming a run with a
    different process count, the helpers start fresh ones derived from the step)."""
    if state is None:
        return np.random.default_rng(config.seed if group.lead else [config.seed, group.rank])
    rng = np.random.default_rng(config.seed)
    ranks = state.get("rng_ranks")
    if isinstance(ranks, list) and len(ranks) == group.world:
        rng.bit_generator.state = ranks[group.rank]
    elif group.lead:
        rng.bit_generator.state = state["rng"]
    else:
        rng = np.random.default_rng([config.seed, group.rank, int(state["step"])])
    return rng


def _train(
    group: Group,
    config: TrainConfig,
    train_videos: Sequence[TrainVideo],
    val_videos: Sequence[TrainVideo],
    emit: Callable[[str], None],
) -> TrainReport:
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device("cpu") if not torch.cuda.is_available() else torch.device("cuda")
    model: Any = build_training_model(config).to(device)
    sampler = ClipSampler(
        train_videos,
        config.clip_len,
        config.batch_size // group.world,
        config.prompt_probs,
        objects_per_clip=config.objects_per_clip,
    )
    if sampler.size != model.image_size:
        raise ConfigError(
            f"training videos are {sampler.size}x{sampler.size} but the model takes {model.image_size} px; "
            "load them at the model's image size"
        )
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    step, best_jf, best_step, history_seconds = 0, -1.0, None, 0.0
    last_path, best_path, ema_path = out / "last.pt", out / "best.pt", out / "ema.pt"
    history = out / "history.jsonl"
    state: dict[str, Any] | None = None

    def report(
        seconds: float, final: ValidationScores | None, stopped_early: bool, ema_final: ValidationScores | None = None
    ) -> TrainReport:
        return TrainReport(
            steps_done=step,
            seconds=seconds,
            best_jf=best_jf if best_step is not None else None,
            best_step=best_step,
            best_path=best_path if best_path.is_file() else None,
            last_path=last_path,
            final=final,
            stopped_early=stopped_early,
            ema_path=ema_path if config.ema_decay is not None and ema_path.is_file() else None,
            ema_final=ema_final,
        )

    def budget_spent(seconds: float) -> bool:
        return config.max_minutes is not None and seconds > 60 * config.max_minutes

    if config.resume and last_path.is_file():
        state = torch.load(last_path, map_location="cpu", weights_only=False)  # our own file
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, best_jf, best_step = state["step"], state["best_jf"], state["best_step"]
        history_seconds = state["seconds"]
        emit(f"resumed from {last_path} at step {step} (best J&F {best_jf:.3f})")
        if step >= config.steps:  # finished before: nothing to train, validate or re-save
            emit(f"already trained {step} of {config.steps} steps; nothing to do")
            return report(history_seconds, None, stopped_early=False)
        if budget_spent(history_seconds):  # stopped on its time budget before: the budget spans sessions
            emit(f"the time budget of {config.max_minutes:g} min was spent at step {step}; nothing to do")
            return report(history_seconds, None, stopped_early=True)
    elif group.lead:
        history.unlink(missing_ok=True)
        ema_path.unlink(missing_ok=True)  # an earlier run's average is not this run's
    # Every rank holds the same weights, so rank 0 alone keeps their average.
    average = WeightAverage(model, config.ema_decay) if config.ema_decay is not None and group.lead else None
    if average is not None and state is not None:
        if state.get("ema") is not None:
            average.load_state_dict(state["ema"])
        else:
            emit(f"no weight average in {last_path}: it starts from the weights of step {step}")
    rng = _rank_rng(config, group, state)
    group.sync_weights(model)

    def checkpoint_meta(scores: ValidationScores | None) -> dict[str, Any]:
        return {
            "vidseg_version": __version__,
            "model": config.model,
            "image_size": int(model.image_size),
            "step": step,
            "seconds": history_seconds + (time.perf_counter() - started),
            "val_j": scores.j if scores else None,
            "val_f": scores.f if scores else None,
            "val_jf": scores.jf if scores else None,
            "config": config.to_json(),
        }

    validated: dict[int, ValidationScores] = {}  # step -> the trained weights' scores there

    def run_validation(with_average: bool = False) -> tuple[ValidationScores | None, ValidationScores | None]:
        """Score the weights (and, with ``with_average``, their average) on the validation videos.
        Weights scored at this step already (the budget stopped the run just after a scheduled
        validation) are not scored again."""
        nonlocal best_jf, best_step
        scores = averaged = None
        if group.lead and val_videos:
            fresh = step not in validated
            with group.solo():
                if fresh:
                    validated[step] = validate(model, val_videos, device)
                if with_average and average is not None:
                    with average.applied(model):
                        averaged = validate(model, val_videos, device)
            model.train()
            scores = validated[step]
            if fresh:
                append_history(history, {"step": step, "val_j": scores.j, "val_f": scores.f, "val_jf": scores.jf})
                emit(f"step {step}: validation J&F {scores.jf:.3f} (J {scores.j:.3f}, F {scores.f:.3f}, "
                     f"{scores.objects} objects)")  # fmt: skip
                if scores.jf > best_jf:
                    best_jf, best_step = scores.jf, step
                    save_checkpoint(best_path, {"model": model.state_dict(), "vidseg": checkpoint_meta(scores)})
            if averaged is not None:
                append_history(history, {"step": step, "weights": "ema", "val_j": averaged.j, "val_f": averaged.f,
                                  "val_jf": averaged.jf})  # fmt: skip
                emit(f"step {step}: validation J&F of the weight average {averaged.jf:.3f} (J {averaged.j:.3f}, "
                     f"F {averaged.f:.3f})")  # fmt: skip
        group.wait()  # the other ranks wait for rank 0's validation
        return scores, averaged

    def save_last(averaged: ValidationScores | None = None) -> None:
        rngs = group.gather(rng.bit_generator.state)
        group.check_in_sync(model)
        if not group.lead:
            return
        if average is not None:
            meta = dict(checkpoint_meta(averaged), weights="ema", ema_decay=average.decay, ema_updates=average.updates)
            save_checkpoint(ema_path, {"model": average.weights(), "vidseg": meta})
        save_checkpoint(
            last_path,
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "rng": rng.bit_generator.state,
                "rng_ranks": rngs,
                "step": step,
                "best_jf": best_jf,
                "best_step": best_step,
                "ema": average.state_dict() if average is not None else None,
                "seconds": history_seconds + (time.perf_counter() - started),
                "vidseg": checkpoint_meta(None),
            },
        )

    started = time.perf_counter()
    first_step = step
    model.train()
    window: list[tuple[float, float, float]] = []
    stopped_early = False
    lr: float  # this step's learning rate, set at the top of each step
    while step < config.steps:
        seconds = group.share(history_seconds + time.perf_counter() - started)  # rank 0's clock rules
        if budget_spent(seconds):
            stopped_early = True
            emit(f"time budget of {config.max_minutes:g} min reached at step {step}; stopping")
            break
        lr = learning_rate(step, config, seconds)
        for group_params in optimizer.param_groups:
            group_params["lr"] = lr
        batch = sampler.sample(rng)
        parts = clip_loss(unroll(model, batch), batch.targets.to(device), config.losses)
        optimizer.zero_grad(set_to_none=True)
        parts.total.backward()
        has_iou = not math.isnan(parts.mean_iou)
        loss, iou_sum, iou_count = group.average_gradients(
            params, (float(parts.total.detach()), parts.mean_iou if has_iou else 0.0, 1.0 if has_iou else 0.0)
        )
        torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
        optimizer.step()
        if average is not None:
            average.update(model)
        step += 1
        if group.lead:
            window.append((loss, iou_sum, iou_count))
        if group.lead and (step % config.log_every == 0 or step == config.steps):
            elapsed = time.perf_counter() - started
            loss = float(np.mean([w[0] for w in window]))
            counted = sum(w[2] for w in window)
            train_iou = sum(w[1] for w in window) / counted if counted > 0 else 0.0
            window.clear()
            per_step = elapsed / max(1, step - first_step)  # includes validation time
            eta = per_step * (config.steps - step)
            if config.max_minutes is not None:  # the budget stops the run first
                eta = max(0.0, min(eta, 60 * config.max_minutes - history_seconds - elapsed))
            append_history(history, {"step": step, "loss": loss, "train_iou": train_iou, "lr": lr,
                              "seconds": history_seconds + elapsed})  # fmt: skip
            emit(f"step {step}/{config.steps} loss {loss:.4f} train IoU {train_iou:.3f} "
                 f"lr {lr:.2e} {elapsed / 60:.1f} min, ETA {eta / 60:.0f} min")  # fmt: skip
        if config.val_every and step % config.val_every == 0 and step < config.steps:
            run_validation()
            save_last()
    final, ema_final = run_validation(with_average=True)
    save_last(ema_final)
    return report(history_seconds + (time.perf_counter() - started), final, stopped_early, ema_final)
