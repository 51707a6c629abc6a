"""Recipe: train vidseg's small synthetic-only SAM 2 from scratch, and ship it.

    python pipelines/train_synthetic.py out/train-synthetic --minutes 85 --install

1. Writes synthetic DAVIS-layout datasets: training tiers from easy to hard (seeds below
   900,000) and a validation set of 60-frame clips (seeds from 900,000; the J&F benchmark uses
   seeds from 950,000, never seen in training).
2. Phase 1: click/box-to-mask on single frames (cheap steps; the first frame is where a tracker
   that has never seen an object starts).
3. Phase 2: 8-frame clips with the memory unrolled, from phase 1's weights, validated with the
   streaming tracker (J&F) as it trains.
4. ``--install`` writes the best phase-2 weights (float16) to
   ``vidseg/tracking/weights/vidseg_synthetic_tiny.pt`` with a README giving the command, seed,
   time and scores. Both phases resume from their ``last.pt`` when run again.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from vidseg.datasets.davis_layout import write_davis_dataset
from vidseg.datasets.synthetic_videos import VideoSpec
from vidseg.errors import VidsegError
from vidseg.tracking.registry import SYNTHETIC_MODEL
from vidseg.training.data import load_training_videos
from vidseg.training.loop import TrainConfig, TrainReport, train_tracker

log = logging.getLogger("train_synthetic")

TRAIN_TIERS = (0.1, 0.4, 0.7, 1.0)  # generator difficulty of each training tier
VAL_SEED0 = 900_000
BENCH_SEED0 = 950_000


@dataclass(frozen=True)
class Recipe:
    """The shipped checkpoint's recipe; every number that decides the result is here."""

    out: Path
    seed: int = 0
    videos_per_tier: int = 150
    train_frames: int = 24
    val_videos: int = 8
    val_frames: int = 60
    minutes: float = 85.0
    phase1_share: float = 0.3
    phase1_steps: int = 3000
    phase2_steps: int = 2200


def make_datasets(recipe: Recipe) -> tuple[list[Path], Path]:
    """Write (or reuse) the training tiers and the validation set; returns their roots."""
    data = recipe.out / "data"
    roots = []
    for k, difficulty in enumerate(TRAIN_TIERS):
        root = data / f"train-d{difficulty:.1f}"
        if not (root / "meta.json").is_file():
            first = recipe.seed * 100_000 + k * 10_000
            spec = replace(VideoSpec.at_difficulty(difficulty), num_frames=recipe.train_frames)
            write_davis_dataset(root, range(first, first + recipe.videos_per_tier), spec)
        roots.append(root)
    val = data / "val"
    if not (val / "meta.json").is_file():
        spec = replace(VideoSpec.at_difficulty(0.7), num_frames=recipe.val_frames)
        write_davis_dataset(val, range(VAL_SEED0, VAL_SEED0 + recipe.val_videos), spec)
    return roots, val


def train_synthetic(recipe: Recipe) -> TrainReport:
    """Run both phases; returns phase 2's report."""
    size = SYNTHETIC_MODEL.default_image_size
    train_roots, val_root = make_datasets(recipe)
    train = load_training_videos(train_roots, size)
    val = load_training_videos([val_root], size)
    phase1 = TrainConfig(
        out=recipe.out / "phase1",
        steps=recipe.phase1_steps,
        batch_size=16,
        clip_len=1,
        lr=6e-4,  # 3e-3 measured: the decoder learns to ignore the click within 50 steps
        warmup=100,
        prompt_probs=(0.7, 0.3, 0.0),  # a mask prompt on a single frame teaches nothing
        seed=recipe.seed,
        val_every=0,
        log_every=50,
        max_minutes=recipe.minutes * recipe.phase1_share,
        resume=True,
    )
    report1 = train_tracker(phase1, train, val)
    log.info("phase 1: %d steps in %.1f min, J&F %.3f", report1.steps_done, report1.seconds / 60, report1.best_jf or 0)
    phase2 = TrainConfig(
        out=recipe.out / "phase2",
        init=report1.last_path,
        steps=recipe.phase2_steps,
        batch_size=4,
        clip_len=8,
        lr=5e-4,
        warmup=100,
        seed=recipe.seed + 1,
        val_every=250,
        log_every=25,
        max_minutes=recipe.minutes * (1 - recipe.phase1_share),
        resume=True,
    )
    return train_tracker(phase2, train, val)


def install(recipe: Recipe, command: str, commit: str) -> Path:
    """Write phase 2's best weights (float16) into the package, with a README saying how they were made."""
    best = recipe.out / "phase2" / "best.pt"
    if not best.is_file():
        raise VidsegError(f"no validated checkpoint to install: {best} does not exist; train first")
    lasts = [torch.load(recipe.out / phase / "last.pt", map_location="cpu", weights_only=False)
             for phase in ("phase1", "phase2")]  # fmt: skip
    seconds = sum(float(last["seconds"]) for last in lasts)
    steps = int(lasts[1]["step"])
    blob = torch.load(best, map_location="cpu", weights_only=False)
    target = SYNTHETIC_MODEL.bundled
    assert target is not None
    target.parent.mkdir(parents=True, exist_ok=True)
    half = {k: v.half() if v.is_floating_point() else v for k, v in blob["model"].items()}
    meta = dict(blob["vidseg"], command=command, commit=commit, total_minutes=round(seconds / 60, 1))
    torch.save({"model": half, "vidseg": meta}, target)
    (target.parent / "training.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    (target.parent / "README.md").write_text(
        f"""# vidseg_synthetic_tiny.pt

A reduced SAM 2.1 (`../model_configs/vidseg_synthetic_tiny.yaml`, 128 px input) trained from
scratch by vidseg on its own synthetic videos only (`vidseg.datasets.synthetic_videos`). It knows
textured synthetic shapes and nothing else; for real video use the official SAM 2.1 checkpoints.
Weights are stored as float16 (the model runs in float32).

- Command: `{command}` at commit `{commit}`, seed {recipe.seed}.
- Data: {recipe.videos_per_tier} videos x {len(TRAIN_TIERS)} difficulty tiers {TRAIN_TIERS}, {recipe.train_frames} frames
  each (generator seeds {recipe.seed * 100_000} + tier x 10,000 + k); validation: {recipe.val_videos} videos of
  {recipe.val_frames} frames at difficulty 0.7 (seeds from {VAL_SEED0}).
- Training: {steps} phase-2 steps after phase 1; {meta["total_minutes"]} min on this machine's 2 CPU cores
  (both phases, validation included); best validation J&F {meta.get("val_jf")} at step {meta.get("step")}.
- Held-out J&F: `python bench/synthetic_jf.py` (seeds from {BENCH_SEED0}, never used in training).
- `training.json` holds the full training config.
"""
    )
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--minutes", type=float, default=85.0, help="wall-time budget of both phases")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--install", action="store_true", help="write the best weights into the package")
    parser.add_argument("--install-only", action="store_true", help="install from OUT without training")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    recipe = Recipe(out=args.out, seed=args.seed, minutes=args.minutes)
    started = time.perf_counter()
    try:
        if not args.install_only:
            report = train_synthetic(recipe)
            minutes = (time.perf_counter() - started) / 60
            print(f"best J&F {report.best_jf} at step {report.best_step}; {minutes:.1f} min")
        if args.install or args.install_only:
            commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout
            command = (f"python pipelines/train_synthetic.py {recipe.out} --seed {recipe.seed} --minutes {recipe.minutes:g} "
                       f"--threads {args.threads} --install")  # fmt: skip
            path = install(recipe, command, commit.strip() or "unknown")
            print(f"installed {path}")
    except VidsegError as exc:
        raise SystemExit(f"train_synthetic: error: {exc}") from None


if __name__ == "__main__":
    main()
