"""Recipe: train vidseg's U-Net semantic model on the synthetic generator's shape classes, and ship it.

    python pipelines/train_semantic_synthetic.py out/train-semantic --minutes 80 --install

1. Writes synthetic DAVIS-layout datasets with class-id maps (``SemanticAnnotations/``): training
   tiers at several generator difficulties (seeds below 900,000, a few frames per clip, so that
   many different shapes, textures and backgrounds are seen), and a validation set at difficulty
   0.5 (seeds from 900,000). ``bench/synthetic_miou.py`` scores on seeds from 950,000, which
   neither uses.
2. Trains ``vidseg_unet_synthetic`` from scratch with cross-entropy + Dice (``vidseg.training.semantic``)
   until the time budget is spent, its learning rate annealed over the minutes.
3. ``--install`` writes the best-validated weights (float16) to
   ``vidseg/models/semantic/weights/vidseg_unet_synthetic.pt`` with ``training.json`` and a
   README giving the command, seed, time and validation mIoU. The run resumes from its
   ``last.pt`` when started again.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from vidseg.datasets.davis_layout import write_davis_dataset
from vidseg.datasets.synthetic_videos import VideoSpec
from vidseg.errors import VidsegError
from vidseg.models.semantic.build import SHIPPED_WEIGHTS
from vidseg.training.semantic import (
    SemanticTrainConfig,
    SemanticTrainReport,
    load_semantic_frames,
    train_semantic,
)

log = logging.getLogger("train_semantic_synthetic")

MODEL = "vidseg_unet_synthetic"
TRAIN_TIERS = (0.1, 0.3, 0.5, 0.7, 0.9)  # generator difficulty of each training tier
VAL_DIFFICULTY = 0.5
VAL_SEED0 = 900_000
BENCH_SEED0 = 950_000
SEED_BLOCK = 10_000  # tier k's seeds: seed * 100,000 + k * 10,000 + j


@dataclass(frozen=True)
class Recipe:
    """The recipe's knobs (defaults: the shipped weights')."""

    out: Path
    seed: int = 0
    minutes: float = 80.0
    videos_per_tier: int = 500
    frames: int = 4
    val_videos: int = 40
    size: int = 128

    def tier_root(self, difficulty: float) -> Path:
        return self.out / "data" / f"train-{difficulty:.1f}"

    def tier_seeds(self, k: int) -> range:
        start = self.seed * 100_000 + k * SEED_BLOCK
        return range(start, start + self.videos_per_tier)


def make_datasets(recipe: Recipe) -> Path:
    """Write the training tiers and the validation set (skipping those already written); returns the validation root."""
    for k, difficulty in enumerate(TRAIN_TIERS):
        root = recipe.tier_root(difficulty)
        if not (root / "meta.json").is_file():
            spec = VideoSpec.at_difficulty(difficulty, num_frames=recipe.frames, height=recipe.size, width=recipe.size)
            write_davis_dataset(root, recipe.tier_seeds(k), spec, overwrite=True)
    val = recipe.out / "data" / "val"
    if not (val / "meta.json").is_file():
        spec = VideoSpec.at_difficulty(VAL_DIFFICULTY, num_frames=recipe.frames, height=recipe.size, width=recipe.size)
        write_davis_dataset(val, range(VAL_SEED0, VAL_SEED0 + recipe.val_videos), spec, split="val", overwrite=True)
    return val


def train(recipe: Recipe) -> SemanticTrainReport:
    val_root = make_datasets(recipe)
    roots = [recipe.tier_root(d) for d in TRAIN_TIERS]
    train_frames = load_semantic_frames(roots, recipe.size)
    val_frames = load_semantic_frames([val_root], recipe.size, classes=train_frames.classes)
    log.info("%d training frames, %d validation frames", len(train_frames), len(val_frames))
    config = SemanticTrainConfig(
        out=recipe.out / "unet", model=MODEL, input_size=recipe.size, steps=100_000, batch_size=16, lr=2e-3,
        warmup=200, seed=recipe.seed, val_every=500, log_every=100, max_minutes=recipe.minutes, resume=True,
    )  # fmt: skip
    return train_semantic(config, train_frames, val_frames)


def install(recipe: Recipe, command: str, commit: str) -> Path:
    """Write the best-validated weights (float16) into the package, with a README saying how they were made."""
    best, last = recipe.out / "unet" / "best.pt", recipe.out / "unet" / "last.pt"
    if not best.is_file() or not last.is_file():
        raise VidsegError(f"no checkpoint to install: {best} or {last} is missing; train first")
    blob = torch.load(best, map_location="cpu", weights_only=False)
    final = torch.load(last, map_location="cpu", weights_only=False)
    half = {k: v.half() if v.is_floating_point() else v for k, v in blob["model"].items()}
    meta = dict(blob["vidseg"], command=command, commit=commit, total_minutes=round(float(final["seconds"]) / 60, 1),
                total_steps=int(final["step"]), data={"tiers": list(TRAIN_TIERS), "videos_per_tier": recipe.videos_per_tier,
                "frames": recipe.frames, "val_videos": recipe.val_videos, "val_difficulty": VAL_DIFFICULTY})  # fmt: skip
    SHIPPED_WEIGHTS.mkdir(parents=True, exist_ok=True)
    target = SHIPPED_WEIGHTS / f"{MODEL}.pt"
    torch.save({"model": half, "vidseg": meta}, target)
    (SHIPPED_WEIGHTS / "training.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    (SHIPPED_WEIGHTS / "README.md").write_text(
        f"""# {MODEL}.pt

vidseg's small U-Net (`vidseg/models/semantic/unet.py`, five levels of 16 to 128 channels, 2.1 M
parameters, 128 px input) trained
from scratch on the synthetic generator's shape classes only ({", ".join(meta["classes"])}). It
knows textured synthetic shapes and nothing else; it makes semantic outputs and tracking by class
real in the demo and the tests. Weights are stored as float16 (the model runs in float32).

- Command: `{command}` at commit `{commit}`, seed {recipe.seed}.
- Data: {recipe.videos_per_tier} clips x {len(TRAIN_TIERS)} difficulty tiers {TRAIN_TIERS}, {recipe.frames} frames each,
  {recipe.size} px (generator seeds {recipe.seed * 100_000} + tier x {SEED_BLOCK:,} + k); validation: {recipe.val_videos} clips of
  {recipe.frames} frames at difficulty {VAL_DIFFICULTY} (seeds from {VAL_SEED0:,}).
- Training: cross-entropy + Dice, AdamW, batch 16, flips and 90-degree turns; {meta["total_steps"]} steps in
  {meta["total_minutes"]} min on this machine's 2 CPU cores (validation included), the learning rate
  annealed over the time budget. These weights: step {meta["step"]}, validation mIoU {meta["val_miou"]:.4f}.
- Held-out mIoU: `python bench/synthetic_miou.py` (seeds from {BENCH_SEED0:,}, never used in training).
"""
    )
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--minutes", type=float, default=80.0, help="training time budget")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--install", action="store_true", help="write the best weights into the package")
    parser.add_argument("--install-only", action="store_true", help="install from OUT without training")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    if not 0 <= args.seed < VAL_SEED0 // 100_000:
        raise SystemExit(f"train_semantic_synthetic: error: --seed must be 0..{VAL_SEED0 // 100_000 - 1}; found "
                         f"{args.seed}")  # fmt: skip
    recipe = Recipe(out=args.out, seed=args.seed, minutes=args.minutes)
    started = time.perf_counter()
    try:
        if not args.install_only:
            report = train(recipe)
            print(f"best mIoU {report.best_miou} at step {report.best_step}; {(time.perf_counter() - started) / 60:.1f} min")
        if args.install or args.install_only:
            commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout
            command = (f"python pipelines/train_semantic_synthetic.py {recipe.out} --seed {recipe.seed} "
                       f"--minutes {recipe.minutes:g} --threads {args.threads} --install")  # fmt: skip
            print(f"installed {install(recipe, command, commit.strip() or 'unknown')}")
    except VidsegError as exc:
        raise SystemExit(f"train_semantic_synthetic: error: {exc}") from None


if __name__ == "__main__":
    main()
