"""J&F of the shipped synthetic checkpoint on held-out synthetic clips: vidseg's streaming
tracker beside the official SAM2VideoPredictor loop, same weights, same decoded JPEG pixels.

Clips: generator seeds from 950,000 (training uses seeds below 900,000), 60 frames, at three
generator difficulties (``VideoSpec.at_difficulty``): 0.3, 0.5 (the benchmark's, also the
training's validation difficulty: one to three textured objects on textured backgrounds,
distractors, occlusions, objects leaving and re-entering the view) and 0.7 (smaller, faster,
lower-contrast objects, more of them). Every object is prompted once, with a click at the point
deepest inside it on the first frame it appears; both trackers run to the end of the clip. J&F
follows DAVIS (first and last frames excluded). Goal at difficulty 0.5: J&F >= 0.80 (done at
>= 0.65).

Each row also gives the standard error of its J&F (of the mean over objects). Objects tend to be
either kept or lost, so it is large: about 0.04 for the 37 objects of 20 clips at 0.5, 0.022 for
the 126 objects of 60 clips, and 0.06 for the 15 objects of the training recipe's validation set.
Two models whose J&F differ by less than about twice that have not been told apart. So the goal's
difficulty gets 60 clips (``--bench-clips``), the others 20 (``--clips``); the first 20 clips at
0.5 also guided the training recipe's choices, the other 40 did not. Below the table, our
tracker's mean J is broken down by frames since the click, which shows how far into a clip
objects are lost.

    python bench/synthetic_jf.py              # 17 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from common import print_table
from tqdm import tqdm

from vidseg.datasets.synthetic_videos import VideoSpec, generate_video
from vidseg.evaluation.jf import region_similarity
from vidseg.models.tracking import build_tracker
from vidseg.models.tracking.reference import build_official_predictor, run_official, write_jpeg_clip
from vidseg.training.clips import TrainVideo
from vidseg.training.validate import first_frame_clicks, score_tracks, track_video
from vidseg.types import Prompt

SEED0 = 950_000


BENCH_DIFFICULTY = 0.5
HORIZON_SPAN = 10  # frames per bin of the J-by-frames-since-the-click line


def _official_masks(predictor: Any, video: TrainVideo, folder: Path, size: int) -> tuple[npt.NDArray[np.bool_], float]:
    """Masks of the official predictor loop (same weights, same JPEGs), and its seconds."""
    clicks = first_frame_clicks(video.labels)
    prompts: dict[int, list[Prompt]] = {}
    for obj_id, (t, point) in sorted(clicks.items()):
        prompts.setdefault(t, []).append(Prompt(obj_id, points=(point,), labels=(1,)))
    start = time.perf_counter()
    frames = run_official(predictor, folder, prompts)
    seconds = time.perf_counter() - start
    ids = sorted(clicks)
    masks = np.zeros((video.num_frames, len(ids), size, size), dtype=bool)
    for frame in frames:
        for j, obj_id in enumerate(frame.object_ids.tolist()):
            masks[frame.frame_index, ids.index(int(obj_id))] = frame.logits[j] > 0
    return masks, seconds


def standard_error(scores: list[tuple[float, float]]) -> float:
    """Standard error of the mean J&F over objects (``nan`` for fewer than two)."""
    per_object = np.mean(scores, axis=1)
    return float(per_object.std(ddof=1) / np.sqrt(len(per_object))) if len(per_object) > 1 else float("nan")


def j_since_click(masks: npt.NDArray[np.bool_], video: TrainVideo, span: int) -> dict[int, list[float]]:
    """J of every frame where an object is visible after its click, keyed by (frames since the click) // span."""
    clicks = first_frame_clicks(video.labels)
    found: dict[int, list[float]] = {}
    for k, obj_id in enumerate(sorted(clicks)):
        start = clicks[obj_id][0]
        for t in range(start + 1, video.num_frames):
            truth = video.labels[t] == obj_id
            if truth.any():
                found.setdefault((t - start) // span, []).append(region_similarity(masks[t, k], truth))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=20, help="clips per difficulty, except the goal's")
    parser.add_argument(
        "--bench-clips", type=int, default=60, help=f"clips at the goal's difficulty, {BENCH_DIFFICULTY}"
    )
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument(
        "--difficulties", default="0.3,0.5,0.7", help=f"comma-separated; the goal is judged at {BENCH_DIFFICULTY}"
    )
    parser.add_argument("--checkpoint", default=None, help="default: the checkpoint shipped with vidseg")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-official", action="store_true", help="skip the official predictor's rows")
    args = parser.parse_args()
    if args.clips < 1 or args.bench_clips < 1:
        parser.error(f"--clips and --bench-clips must be >= 1; found {args.clips} and {args.bench_clips}")
    warnings.simplefilter("ignore")
    tqdm.__init__ = functools.partialmethod(tqdm.__init__, disable=True)  # the official predictor's bars
    torch.set_num_threads(args.threads)
    tracker = build_tracker("vidseg_synthetic_tiny", checkpoint=args.checkpoint, device="cpu", fill_hole_area=0)
    size = tracker.info.image_size
    # Built once: `run_official` gives each clip its own inference state.
    predictor = build_official_predictor("vidseg_synthetic_tiny", tracker.model.state_dict(), size)
    difficulties = [float(d) for d in args.difficulties.split(",")]
    rows: list[list[Any]] = []
    horizons: list[str] = []
    results: dict[float, tuple[float, float]] = {}  # difficulty -> (our J&F, its standard error)
    counts: list[str] = []
    for difficulty in difficulties:
        spec = replace(VideoSpec.at_difficulty(difficulty), num_frames=args.frames, height=size, width=size)
        ours: list[tuple[float, float]] = []
        official: list[tuple[float, float]] = []
        by_span: dict[int, list[float]] = {}
        seconds = {"ours": 0.0, "official": 0.0}
        frames_done = 0
        clips = args.bench_clips if difficulty == BENCH_DIFFICULTY else args.clips
        counts.append(f"{clips} at {difficulty}")
        for k in range(clips):
            clip = generate_video(SEED0 + k, spec)
            with tempfile.TemporaryDirectory() as tmp:
                pixels = np.stack(write_jpeg_clip(list(clip.frames), Path(tmp)))
                video = TrainVideo(f"bench_{SEED0 + k}", pixels, np.asarray(clip.labels, dtype=np.uint8))
                start = time.perf_counter()
                masks = track_video(tracker, video)
                seconds["ours"] += time.perf_counter() - start
                ours += score_tracks(masks, video)
                for key, values in j_since_click(masks, video, HORIZON_SPAN).items():
                    by_span.setdefault(key, []).extend(values)
                frames_done += video.num_frames
                if not args.no_official:
                    masks, spent = _official_masks(predictor, video, Path(tmp), size)
                    seconds["official"] += spent
                    official += score_tracks(masks, video)
        for name, key, scores in (
            ("vidseg streaming tracker", "ours", ours),
            ("official predictor loop", "official", official),
        ):
            if scores:
                j, f = np.mean(scores, axis=0)
                rows.append([difficulty, name, len(scores), float(j), float(f), float((j + f) / 2),
                             standard_error(scores), 1000 * seconds[key] / frames_done])  # fmt: skip
        horizons.append(f"{difficulty}: " + ", ".join(
            f"{max(1, k * HORIZON_SPAN)}-{k * HORIZON_SPAN + HORIZON_SPAN - 1}: {np.mean(by_span[k]):.3f}"  # 0: the click
            for k in sorted(by_span)
        ))  # fmt: skip
        results[difficulty] = (float(np.mean(ours, axis=0).mean()), standard_error(ours))
    print(f"vidseg_synthetic_tiny ({tracker.info.checkpoint}), held-out clips of {args.frames} frames "
          f"({', '.join(counts)}) at {size} px, CPU {args.threads} threads")  # fmt: skip
    print_table(["difficulty", "tracker", "objects", "J", "F", "J&F", "s.e.", "ms/frame"], rows)
    print("our tracker's mean J by frames since the click, per difficulty:")
    print("\n".join(f"  {line}" for line in horizons))
    if BENCH_DIFFICULTY in results:
        jf, error = results[BENCH_DIFFICULTY]
        print(f"difficulty {BENCH_DIFFICULTY}: J&F {jf:.3f} (s.e. {error:.3f}); goal >= 0.80 "
              f"{'met' if jf >= 0.80 else 'NOT met'}; done at >= 0.65: {'met' if jf >= 0.65 else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
