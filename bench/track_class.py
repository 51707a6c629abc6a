"""Tracking by class, one id per thing: objects per ground-truth instance, IDF1, HOTA, ID switches
and instance IoU on generated clips, for one checkout of vidseg or two side by side.

Each clip (``VideoSpec.at_difficulty(d)``, seeds from 90,000 on, which training never used) is
run once per shape class it holds: ``vidseg run CLIP --semantic vidseg_unet_synthetic
--track-class NAME --model vidseg_synthetic_tiny``; its ``masks.mkv`` is scored against the
clip's instances of that class (``vidseg.evaluation.tracks.score_tracks``, TrackEval's metrics).
Instance IoU: for each instance, the best spatio-temporal mask IoU of one predicted object.

    python bench/track_class.py                                  # this checkout
    python bench/track_class.py --before /tmp/old-checkout       # and an older one, in one table
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import print_table

from vidseg.datasets.moving_shapes import SyntheticClip, write_clip_video
from vidseg.datasets.synth.spec import SHAPE_CLASSES, VideoSpec
from vidseg.datasets.synthetic_videos import generate_video
from vidseg.evaluation.jf import FramePair
from vidseg.evaluation.tracks import score_tracks
from vidseg.formats.label_video import read_label_video

ROOT = Path(__file__).resolve().parents[1]


def _run(tree: Path, clip: Path, out: Path, name: str) -> bool:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-m", "vidseg", "run", str(clip), "--out", str(out), "--semantic",
                           "vidseg_unet_synthetic", "--track-class", name, "--model", "vidseg_synthetic_tiny",
                           "--no-overlay"], env=env, capture_output=True, text=True, cwd=tree)  # fmt: skip
    if proc.returncode != 0:
        sys.stderr.write(f"{tree}: {clip.name} {name}: exit {proc.returncode}\n{proc.stderr[-800:]}\n")
    return proc.returncode == 0


def _instance_iou(gt: np.ndarray, pred: np.ndarray) -> list[float]:
    """Per ground-truth instance: the best spatio-temporal IoU of one predicted object."""
    out = []
    for gt_id in (int(v) for v in np.unique(gt) if v):
        truth = gt == gt_id
        best = 0.0
        for pred_id in (int(v) for v in np.unique(pred[truth]) if v):
            mask = pred == pred_id
            best = max(best, float((truth & mask).sum() / (truth | mask).sum()))
        out.append(best)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--difficulties", type=float, nargs="+", default=[0.3, 0.5, 0.7])
    parser.add_argument("--clips", type=int, default=6, help="clips per difficulty")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=90_000)
    parser.add_argument("--before", type=Path, default=None, help="another vidseg checkout, run side by side")
    args = parser.parse_args()
    trees = {"after": ROOT} if args.before is None else {"before": args.before.resolve(), "after": ROOT}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for difficulty in args.difficulties:
            spec = VideoSpec.at_difficulty(difficulty, num_frames=args.frames, height=args.size, width=args.size)
            pairs: dict[str, dict[str, list[FramePair]]] = {label: {} for label in trees}
            ious: dict[str, list[float]] = {label: [] for label in trees}
            for k in range(args.clips):
                seed = args.seed + int(difficulty * 1000) + k
                video = generate_video(seed, spec)
                clip = write_clip_video(SyntheticClip(list(video.frames), video.labels.astype(np.uint16), 24.0),
                                        work / f"d{difficulty}-{seed}.mp4", fps=24)  # fmt: skip
                for class_id in sorted(set(video.object_classes.values())):
                    name = SHAPE_CLASSES[class_id]
                    ids = [i for i, c in video.object_classes.items() if c == class_id]
                    gt = np.where(np.isin(video.labels, ids), video.labels, 0).astype(np.uint16)
                    for label, tree in trees.items():
                        out = work / label / f"{seed}-{name}"
                        pred = np.zeros_like(gt)
                        if _run(tree, clip, out, name):
                            frames = [f.labels for f in read_label_video(out / "masks.mkv")]
                            pred[: len(frames)] = np.stack(frames)[: len(gt)]
                        key = f"{seed}-{name}"
                        pairs[label][key] = [FramePair(f"{t:05d}", pred[t], gt[t]) for t in range(len(gt))]
                        ious[label] += _instance_iou(gt, pred)
            for label in trees:
                report = score_tracks(pairs[label])
                s = report.overall
                rows.append([f"{difficulty:.1f}", label, len(pairs[label]), s.gt_instances, s.pred_objects,
                             f"{s.objects_per_instance:.2f}", f"{s.idf1:.3f}", f"{s.hota:.3f}", s.id_switches,
                             f"{float(np.mean(ious[label])):.3f}"])  # fmt: skip
    print_table(["difficulty", "code", "runs", "instances", "objects", "objects/instance", "IDF1", "HOTA", "ID sw",
                 "instance IoU"], rows)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
