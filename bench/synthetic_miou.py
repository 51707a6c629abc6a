"""mIoU of the shipped semantic U-Net on held-out synthetic frames, per class.

Clips: generator seeds from 950,000 (training uses seeds below 900,000, its validation
900,000-900,999), at generator difficulties 0.3, 0.5 (the goal's, also the training's
validation difficulty) and 0.7; every frame of each clip is labelled at the clip's size
(128 px, the model's input) straight from the generator's pixels, and scored against its exact
class map. Goal at difficulty 0.5: mIoU >= 0.85.

    python bench/synthetic_miou.py                 # about a minute on 2 cores
    python bench/synthetic_miou.py --checkpoint out/train-semantic/unet/best.pt
    python bench/synthetic_miou.py --size 640x360  # frames larger than the model's input: labels upsampled
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from common import print_table

from vidseg.datasets.synthetic_videos import VideoSpec, generate_video
from vidseg.evaluation.semantic import SemanticReport
from vidseg.models.semantic import build_semantic_model

SEED0 = 950_000
GOAL_DIFFICULTY, GOAL = 0.5, 0.85


def frame_size(text: str) -> tuple[int, int]:
    """``"128"`` (square) or ``"640x360"`` (width x height) as (height, width)."""
    width, _, height = text.lower().partition("x")
    try:
        return int(height or width), int(width)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size such as 128 or 640x360; found {text!r}") from None


def score(model, difficulty: float, clips: int, frames: int, size: tuple[int, int]) -> tuple[SemanticReport, float]:
    classes = len(model.classes)
    matrix = np.zeros((classes, classes), np.int64)
    seconds, count = 0.0, 0
    spec = VideoSpec.at_difficulty(difficulty, num_frames=frames, height=size[0], width=size[1])
    for k in range(clips):
        video = generate_video(SEED0 + int(difficulty * 1000) * 100 + k, spec)
        for t in range(video.num_frames):
            start = time.perf_counter()
            pred = model.predict(video.frames[t]).astype(np.int64).ravel()
            seconds += time.perf_counter() - start
            count += 1
            gt = video.class_labels[t].astype(np.int64).ravel()
            matrix += np.bincount(gt * classes + pred, minlength=classes * classes).reshape(classes, classes)
    return SemanticReport.from_confusion(matrix), seconds / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=None, help="weights to score (default: the shipped ones)")
    parser.add_argument("--clips", type=int, default=40, help="clips per difficulty")
    parser.add_argument("--frames", type=int, default=12, help="frames per clip")
    parser.add_argument("--size", type=frame_size, default=(128, 128),
                        help="frame size: 128 (square) or WIDTHxHEIGHT (the model sees the shorter side at 128 px)")  # fmt: skip
    parser.add_argument("--difficulties", default="0.3,0.5,0.7")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = build_semantic_model("vidseg_unet_synthetic", args.checkpoint)
    difficulties = [float(d) for d in args.difficulties.split(",")]
    reports = {d: score(model, d, args.clips, args.frames, args.size) for d in difficulties}
    names = model.classes
    rows = []
    for k, name in enumerate(names):
        rows.append([name, *(reports[d][0].iou.get(k, float("nan")) for d in difficulties)])
    rows.append(["mIoU", *(reports[d][0].miou for d in difficulties)])
    rows.append(["pixel accuracy", *(reports[d][0].pixel_accuracy for d in difficulties)])
    rows.append(["ms per frame", *(reports[d][1] * 1000 for d in difficulties)])
    height, width = args.size
    print(f"weights: {model.checkpoint}; {args.clips} clips x {args.frames} frames per difficulty, {width}x{height} "
          f"frames, seeds from {SEED0}")  # fmt: skip
    print_table(["class", *(f"difficulty {d:g}" for d in difficulties)], rows)
    if GOAL_DIFFICULTY in reports:
        miou = reports[GOAL_DIFFICULTY][0].miou
        print(f"goal: mIoU >= {GOAL} at difficulty {GOAL_DIFFICULTY}: {miou:.4f} -> {'met' if miou >= GOAL else 'NOT met'}")


if __name__ == "__main__":
    main()
