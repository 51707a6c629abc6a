"""Recipe: prompt objects once and track them frame by frame with the streaming tracker.

A minimal use of the package API, on a generated clip so it runs anywhere:

    python pipelines/track_synthetic.py --random-weights --image-size 256

With a real checkpoint (``--checkpoint PATH``) the reported IoU shows the tracker following the
shapes; with random weights it only shows the pipeline running.
"""

from __future__ import annotations

import argparse

import numpy as np

from vidseg.datasets.moving_shapes import moving_shapes_clip
from vidseg.models.tracking import Sam2Tracker, build_tracker


def track_clip(tracker: Sam2Tracker, frames: int = 24, objects: int = 2, seed: int = 0) -> list[dict[int, float]]:
    """Click each shape of a generated clip on frame 0, track it, and return per-frame IoU by id."""
    clip = moving_shapes_clip(num_frames=frames, num_objects=objects, seed=seed)
    for obj_id in range(1, objects + 1):
        tracker.add_prompt(obj_id, points=[clip.center(0, obj_id)], labels=[1])
    ious = []
    for t, frame in enumerate(clip.frames):
        result = tracker.step(frame)
        row = {}
        for obj_id, mask in zip(result.object_ids.tolist(), result.masks, strict=True):
            truth = clip.mask(t, obj_id)
            union = np.logical_or(mask, truth).sum()
            row[obj_id] = float(np.logical_and(mask, truth).sum() / union) if union else 1.0
        ious.append(row)
    return ious


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="sam2.1_hiera_tiny")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--random-weights", action="store_true")
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--frames", type=int, default=24)
    args = parser.parse_args()
    tracker = build_tracker(args.model, args.checkpoint, random_weights=args.random_weights, image_size=args.image_size)
    for t, row in enumerate(track_clip(tracker, frames=args.frames)):
        print(t, " ".join(f"obj{k}: IoU {v:.2f}" for k, v in row.items()))


if __name__ == "__main__":
    main()
