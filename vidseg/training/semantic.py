"""Training (or fine-tuning) a per-frame semantic model on class-id label maps.

The data are frames with one class id per pixel (255: ignored), in the DAVIS-like layout
(``JPEGImages/<video>/`` and ``SemanticAnnotations/<video>/``, see
:mod:`vidseg.datasets.davis_layout`). Each step draws a batch of frames, flips and rotates them
by multiples of 90 degrees, and minimises cross-entropy + soft Dice (the mean over classes of
``1 - 2|P∩G| / (|P| + |G|)``, which keeps small classes from drowning in the background) with
AdamW under a warm-up + cosine learning-rate schedule. Every ``val_every`` steps the model labels
the validation frames and is scored with mIoU (:mod:`vidseg.evaluation.semantic`).

Files written to ``out``:
- ``best.pt``: the weights with the best validation mIoU, as ``{"model": state_dict, "vidseg":
  {...}}``; the ``vidseg`` entry carries the model name, class names and input size, so
  ``--semantic NAME --semantic-checkpoint best.pt`` labels with the trained classes.
- ``last.pt``: the same plus the optimiser, step, time spent and random state; ``resume``
  continues from it.
- ``history.jsonl``: one line per logged step and per validation.

Progress goes to ``on_log`` (default: this module's logger) as the tracker's trainer reports it:
the step out of ``steps``, the loss, the learning rate, the time spent and an ETA, every
``log_every`` steps, at the last step, and at least every ``progress_seconds`` in between, so a
slow step (a large batch on a CPU) never leaves the command silent for long.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

from vidseg.datasets.davis_layout import SEMANTIC_ANNOTATIONS, list_videos, load_video
from vidseg.errors import CheckpointError, ConfigError, InputError
from vidseg.evaluation.semantic import IGNORE, SemanticReport
from vidseg.models.semantic.build import (
    build_semantic_model,
    forward_logits,
    load_into,
    make_network,
    read_semantic_weights,
    replace_head,
    semantic_spec,
)
from vidseg.training.records import append_history, config_json, save_checkpoint
from vidseg.version import __version__

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class SemanticFrames:
    """Frames and their class-id maps, at the model's input size.

    Attributes:
        images: (N, S, S, 3) uint8 RGB.
        labels: (N, S, S) uint8 class ids (255: ignored).
        classes: class names by id (id 0 first).
    """

    images: npt.NDArray[np.uint8]
    labels: npt.NDArray[np.uint8]
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.shape[3] != 3 or self.labels.shape != self.images.shape[:3]:
            raise InputError(f"expected (N, S, S, 3) images and (N, S, S) labels; found {self.images.shape} and "
                             f"{self.labels.shape}")  # fmt: skip
        if len(self) == 0:
            raise InputError("no frames to train or validate on")
        present = self.labels[self.labels != IGNORE]
        if present.size and int(present.max()) >= len(self.classes):
            raise InputError(f"label maps hold class id {int(present.max())} but only {len(self.classes)} classes are "
                             f"named ({list(self.classes)}); name them all (--classes) or fix the maps")  # fmt: skip

    def __len__(self) -> int:
        return int(self.images.shape[0])


def _dataset_classes(root: Path) -> tuple[str, ...] | None:
    """Class names from a generated dataset's ``meta.json`` (``{"classes": {"1": "disc", ...}}``)."""
    meta = root / "meta.json"
    if not meta.is_file():
        return None
    try:
        named = json.loads(meta.read_text(encoding="utf-8")).get("classes")
    except (json.JSONDecodeError, AttributeError):
        return None
    if not isinstance(named, dict) or not named:
        return None
    ids = {int(k): str(v) for k, v in named.items() if str(k).isdigit()}
    return ("background", *(ids.get(k, f"class_{k}") for k in range(1, max(ids) + 1)))


def load_semantic_frames(
    roots: Sequence[str | Path],
    size: int,
    *,
    annotations: str = SEMANTIC_ANNOTATIONS,
    classes: Sequence[str] | None = None,
    every: int = 1,
    limit: int | None = None,
) -> SemanticFrames:
    """Every ``every``-th frame of each video under each root, resized to ``size`` x ``size``
    (images with area averaging, label maps with nearest neighbours).

    Args:
        roots: DAVIS-layout dataset folders.
        size: the model's input size.
        annotations: the folder of class-id PNGs in each root.
        classes: class names by id; default: the first root's ``meta.json`` (generated datasets),
            else ``class_0`` .. up to the largest id found.
        every: keep one frame in this many.
        limit: at most this many videos per root.

    Raises:
        InputError: no videos, or frames and label maps that do not pair up.
    """
    if every < 1:
        raise ConfigError(f"every must be >= 1; found {every}")
    images, labels = [], []
    names = tuple(classes) if classes else None
    for root in roots:
        videos = list_videos(root)
        if not videos:
            raise InputError(f"no videos under {root}; expected JPEGImages/<video>/ and {annotations}/<video>/")
        names = names or _dataset_classes(Path(root))
        for name in videos[:limit]:
            video = load_video(root, name, annotations_dir=annotations)
            for t in range(0, video.num_frames, every):
                images.append(cv2.resize(video.frames[t], (size, size), interpolation=cv2.INTER_AREA))
                labels.append(cv2.resize(video.labels[t], (size, size), interpolation=cv2.INTER_NEAREST))
        log.info("loaded %d videos from %s", min(len(videos), limit or len(videos)), root)
    stacked = np.stack(labels)
    if names is None:
        present = stacked[stacked != IGNORE]
        names = tuple(f"class_{k}" for k in range(int(present.max()) + 1 if present.size else 1))
    return SemanticFrames(np.stack(images), stacked, names)


@dataclass(frozen=True)
class SemanticTrainConfig:
    """How to train a semantic model.

    Attributes:
        out: folder for checkpoints and history.
        model: a semantic model name (``vidseg models``): the project's U-Net is trained from
            scratch; a torchvision model is fine-tuned from its pretrained weights (or ``init``),
            its classifier replaced when the data have other classes.
        input_size: the model's input size (default: the model's).
        init: a checkpoint to start from (fine-tuning); None: from scratch (U-Net) or the
            pretrained weights (torchvision).
        random_init: a torchvision model starts from random weights instead (no download).
        steps: optimiser steps; batch_size: frames per step.
        lr, warmup, min_lr_ratio, weight_decay, grad_clip: AdamW under a linear warm-up and a cosine
            to ``lr * min_lr_ratio``.
        dice_weight: weight of the soft Dice loss beside cross-entropy (weight 1).
        seed: seeds the weights (from scratch), the batches and the augmentation.
        val_every: steps between validations (0: only at the end); log_every: steps between the
            loss lines of ``history.jsonl`` (and progress lines).
        progress_seconds: besides, a progress line at least this often (0: after every step;
            None: only every ``log_every`` steps).
        max_minutes: stop and save after this much training time (summed over resumed runs); the
            cosine then follows whichever of steps and minutes is further along, so a run its
            budget stops still ends annealed.
        resume: continue from ``out/last.pt`` when it exists.
    """

    out: Path
    model: str = "vidseg_unet_synthetic"
    input_size: int | None = None
    init: Path | None = None
    random_init: bool = False
    steps: int = 3000
    batch_size: int = 16
    lr: float = 2e-3
    warmup: int = 100
    min_lr_ratio: float = 0.02
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    dice_weight: float = 1.0
    seed: int = 0
    val_every: int = 250
    log_every: int = 50
    progress_seconds: float | None = 10.0
    max_minutes: float | None = None
    resume: bool = False

    def __post_init__(self) -> None:
        problems = []
        if self.steps < 1 or self.batch_size < 1:
            problems.append(f"steps and batch_size must be >= 1 (found {self.steps}, {self.batch_size})")
        if not 0 < self.lr < 1:
            problems.append(f"lr must be in (0, 1) (found {self.lr})")
        if self.max_minutes is not None and not self.max_minutes >= 0:
            problems.append(f"max_minutes must be >= 0 or None (found {self.max_minutes})")
        if self.progress_seconds is not None and not self.progress_seconds >= 0:
            problems.append(f"progress_seconds must be >= 0 or None (found {self.progress_seconds})")
        if self.warmup < 0 or self.val_every < 0 or self.log_every < 1 or self.dice_weight < 0:
            problems.append(f"warmup, val_every, dice_weight >= 0 and log_every >= 1 (found {self.warmup}, "
                            f"{self.val_every}, {self.dice_weight}, {self.log_every})")  # fmt: skip
        if self.random_init and self.init is not None:
            problems.append("random_init and init were both given; choose one")
        if problems:
            raise ConfigError("bad semantic training config: " + "; ".join(problems))

    def to_json(self) -> dict[str, Any]:
        return config_json(self)


@dataclass(frozen=True)
class SemanticTrainReport:
    """What a training run did."""

    steps_done: int
    seconds: float
    best_miou: float | None
    best_step: int | None
    best_path: Path | None
    last_path: Path
    final: SemanticReport | None
    stopped_early: bool


def learning_rate(step: int, config: SemanticTrainConfig, seconds: float = 0.0) -> float:
    """Linear warm-up to ``lr``, then a cosine to ``lr * min_lr_ratio``, along the steps or the
    time budget, whichever is further along."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    if config.max_minutes is not None:
        progress = max(progress, seconds / (60 * config.max_minutes) if config.max_minutes > 0 else 1.0)
    floor = config.lr * config.min_lr_ratio
    return floor + (config.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _eta_seconds(
    step: int, config: SemanticTrainConfig, session_steps: int, session_seconds: float, spent: float
) -> float:
    """Time left at this session's pace (validations included), or to the time budget when that
    comes first."""
    eta = session_seconds / max(1, session_steps) * (config.steps - step)
    if config.max_minutes is not None:
        eta = max(0.0, min(eta, 60 * config.max_minutes - spent))
    return eta


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor, dice_weight: float = 1.0) -> torch.Tensor:
    """Cross-entropy plus ``dice_weight`` x soft Dice, over (B, C, H, W) logits and (B, H, W) class
    ids; pixels of 255 count in neither."""
    ce = F.cross_entropy(logits, target, ignore_index=IGNORE)
    if dice_weight == 0:
        return ce
    keep = (target != IGNORE).unsqueeze(1)
    probs = logits.softmax(dim=1) * keep
    onehot = F.one_hot(target.clamp(max=logits.shape[1] - 1), logits.shape[1]).permute(0, 3, 1, 2) * keep
    inter = (probs * onehot).sum(dim=(0, 2, 3))
    total = probs.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
    present = total > 0
    dice = 1 - (2 * inter[present] + 1) / (total[present] + 1)
    return ce + dice_weight * dice.mean()


def _as_input(images: npt.NDArray[np.uint8]) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, H, W) float in [0, 1], for :func:`forward_logits`."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255


def _augment(images: npt.NDArray[np.uint8], labels: npt.NDArray[np.uint8], rng: np.random.Generator) -> tuple[
        npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:  # fmt: skip
    """Per frame: a random horizontal flip and a rotation by a multiple of 90 degrees."""
    out_i, out_l = np.empty_like(images), np.empty_like(labels)
    for k in range(images.shape[0]):
        image, label = images[k], labels[k]
        if rng.random() < 0.5:
            image, label = image[:, ::-1], label[:, ::-1]
        turns = int(rng.integers(4))
        out_i[k], out_l[k] = np.rot90(image, turns), np.rot90(label, turns)
    return out_i, out_l


def validate_semantic(net: torch.nn.Module, frames: SemanticFrames, batch_size: int = 32) -> SemanticReport:
    """mIoU, per-class IoU and pixel accuracy of ``net`` on ``frames`` (at their size)."""
    classes = len(frames.classes)
    matrix = np.zeros((classes, classes), np.int64)
    was_training = net.training
    net.eval()
    with torch.inference_mode():
        for start in range(0, len(frames), batch_size):
            x = _as_input(frames.images[start : start + batch_size])
            pred = forward_logits(net, x).argmax(dim=1).numpy().astype(np.int64).ravel()
            gt = frames.labels[start : start + batch_size].astype(np.int64).ravel()
            keep = gt != IGNORE
            matrix += np.bincount(gt[keep] * classes + pred[keep], minlength=classes * classes).reshape(classes, classes)
    net.train(was_training)
    return SemanticReport.from_confusion(matrix)


def build_training_network(config: SemanticTrainConfig, classes: tuple[str, ...]) -> torch.nn.Module:
    """The network to train, with one output per class (see :class:`SemanticTrainConfig`)."""
    spec = semantic_spec(config.model)
    if config.init is not None:
        weights = read_semantic_weights(config.init, spec.name)
        trained = weights.classes or spec.classes
        net = make_network(spec.name, len(trained), config.seed)
        load_into(net, weights, spec.name)
        if len(trained) != len(classes):
            if spec.url is None:
                raise CheckpointError(f"--init {config.init} has {len(trained)} classes, the data {len(classes)}; "
                                      "the U-Net is retrained from scratch for other classes (drop --init)")  # fmt: skip
            replace_head(net, len(classes))
        return net
    if spec.url is None or config.random_init:
        return make_network(spec.name, len(classes), config.seed)
    net = build_semantic_model(spec.name, seed=config.seed).net  # the pretrained weights (cache or download)
    if len(spec.classes) != len(classes):
        replace_head(net, len(classes))
    return net


def train_semantic(
    config: SemanticTrainConfig,
    train: SemanticFrames,
    val: SemanticFrames | None = None,
    on_log: Callable[[str], None] | None = None,
) -> SemanticTrainReport:
    """Train as ``config`` says (see the module docstring); returns what was done. ``on_log``
    receives each progress line (default: this module's logger at INFO).

    Raises:
        ConfigError: train and validation frames of different sizes or classes.
        CheckpointError: ``init`` or ``last.pt`` (on resume) cannot be used.
    """
    spec = semantic_spec(config.model)
    size = config.input_size or spec.input_size
    if train.images.shape[1:3] != (size, size):
        raise ConfigError(f"training frames are {train.images.shape[1:3]}, the model's input is {size}x{size}; load "
                          "them with load_semantic_frames(..., size)")  # fmt: skip
    if val is not None and (val.images.shape[1:3] != (size, size) or val.classes != train.classes):
        raise ConfigError(f"validation frames must match the training frames' size and classes; found "
                          f"{val.images.shape[1:3]} {list(val.classes)} against {list(train.classes)}")  # fmt: skip
    emit = on_log or log.info
    config.out.mkdir(parents=True, exist_ok=True)
    last_path, best_path, history = config.out / "last.pt", config.out / "best.pt", config.out / "history.jsonl"
    net = build_training_network(config, train.classes)
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    step, spent, best_miou, best_step = 0, 0.0, None, None
    rng = np.random.default_rng(config.seed)
    if config.resume and last_path.is_file():
        try:
            state = torch.load(last_path, map_location="cpu", weights_only=False)
            net.load_state_dict(state["model"])
            optimiser.load_state_dict(state["optimizer"])
        except Exception as exc:
            raise CheckpointError(f"cannot resume from {last_path} ({type(exc).__name__}: {exc}); remove it or "
                                  "train into another --out") from None  # fmt: skip
        step, spent = int(state["step"]), float(state["seconds"])
        best_miou, best_step = state.get("best_miou"), state.get("best_step")
        rng.bit_generator.state = state["rng"]
        emit(f"resumed from {last_path} at step {step} ({spent / 60:.1f} min spent)")

    def meta(report: SemanticReport | None) -> dict[str, Any]:
        return {"model": spec.name, "classes": list(train.classes), "input_size": size, "step": step,
                "seconds": spent, "val_miou": report.miou if report else None, "config": config.to_json(),
                "vidseg_version": __version__}  # fmt: skip

    def save_last(report: SemanticReport | None) -> None:
        save_checkpoint(last_path, {"model": net.state_dict(), "optimizer": optimiser.state_dict(), "step": step,
                          "seconds": spent, "best_miou": best_miou, "best_step": best_step,
                          "rng": rng.bit_generator.state, "vidseg": meta(report)})  # fmt: skip

    def validation() -> SemanticReport | None:
        nonlocal best_miou, best_step
        if val is None:
            return None
        report = validate_semantic(net, val)
        append_history(history, {"step": step, "val_miou": report.miou, "pixel_accuracy": report.pixel_accuracy,
                          "iou": {train.classes[k]: v for k, v in report.iou.items()}})  # fmt: skip
        emit(f"step {step}: validation mIoU {report.miou:.4f}, pixel accuracy {report.pixel_accuracy:.4f}")
        if best_miou is None or report.miou > best_miou:
            best_miou, best_step = report.miou, step
            save_checkpoint(best_path, {"model": net.state_dict(), "vidseg": meta(report)})
        return report

    def budget_spent() -> bool:
        return config.max_minutes is not None and spent >= 60 * config.max_minutes

    net.train()
    report: SemanticReport | None = None
    loss_sum, loss_count = 0.0, 0
    started = time.monotonic() - spent
    first_step, first_spent, last_line = step, spent, time.monotonic()
    while step < config.steps and not budget_spent():
        lr = learning_rate(step, config, spent)
        for group in optimiser.param_groups:
            group["lr"] = lr
        pick = rng.integers(len(train), size=config.batch_size)
        images, labels = _augment(train.images[pick], train.labels[pick], rng)
        logits = forward_logits(net, _as_input(images))
        loss = segmentation_loss(logits, torch.from_numpy(labels.astype(np.int64)), config.dice_weight)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip)
        optimiser.step()
        step += 1
        now = time.monotonic()
        spent = now - started
        loss_sum, loss_count = loss_sum + loss.item(), loss_count + 1
        logged = step % config.log_every == 0 or step == config.steps
        if logged or (config.progress_seconds is not None and now - last_line >= config.progress_seconds):
            # the loss is the mean since the last history line, so lines in between show it settling
            eta = _eta_seconds(step, config, step - first_step, spent - first_spent, spent)
            emit(f"step {step}/{config.steps} loss {loss_sum / loss_count:.4f} lr {lr:.2e} {spent / 60:.1f} min, "
                 f"ETA {eta / 60:.1f} min")  # fmt: skip
            last_line = now
        if logged:
            append_history(history, {"step": step, "loss": loss_sum / loss_count, "lr": lr, "seconds": spent})
            loss_sum, loss_count = 0.0, 0
        if config.val_every and step % config.val_every == 0 and step < config.steps:
            report = validation()
            save_last(report)
    stopped_early = step < config.steps
    if stopped_early:
        emit(f"time budget of {config.max_minutes:g} min reached at step {step}; stopping")
    if val is not None and (best_step != step):
        report = validation()
    save_last(report)
    return SemanticTrainReport(step, spent, best_miou, best_step, best_path if best_path.is_file() else None,
                               last_path, report, stopped_early)  # fmt: skip
