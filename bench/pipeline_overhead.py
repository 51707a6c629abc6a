"""Does the file job hide decoding and encoding behind the model?

Prints, in one run on the same clip and model: model-only frames/s (``tracker.step`` in a loop on
pre-decoded frames) and end-to-end ``vidseg run`` frames/s (decode, track, label video, overlay,
JSON lines). Goal: end-to-end >= 0.95 x model-only.

    python bench/pipeline_overhead.py --frames 48 --image-size 256 --rounds 6

This machine's speed drifts by 10-20% over minutes, so the two modes run back to back in each
round (in alternating order) and the goal is judged on the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import threading
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import torch
from common import print_table

from vidseg.config import TrackerConfig
from vidseg.datasets.moving_shapes import moving_shapes_clip, write_clip_video
from vidseg.models.allocator import keep_freed_memory
from vidseg.models.tracking import build_tracker
from vidseg.pipeline.job import JobConfig, run_job
from vidseg.prompts.spec import ScheduledPrompt
from vidseg.sources import FileSource
from vidseg.types import Prompt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--width", type=int, default=854)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # as run_job does: both modes run with the same allocator settings
    clip = moving_shapes_clip(num_frames=args.frames, height=args.height, width=args.width, num_objects=1, seed=0)
    prompt = Prompt(1, points=(clip.center(0, 1),), labels=(1,))
    tracker_config = TrackerConfig(random_weights=True, image_size=args.image_size, device="cpu")
    model_only: list[float] = []
    end_to_end: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        video = write_clip_video(clip, Path(tmp) / "clip.mp4", fps=25)
        with FileSource(video) as source:
            frames = [f.image for f in source]

        def model_only_fps() -> float:
            # In a fresh thread, as the job runs its model stage: a new thread's first frames pay
            # for its own OpenMP team and heap (~0.6 s measured), which is not what is compared here.
            fps: list[float] = []

            def loop() -> None:
                tracker = build_tracker(**asdict(tracker_config))
                tracker.add(prompt)
                start = time.perf_counter()
                for image in frames:
                    tracker.step(image)
                fps.append(len(frames) / (time.perf_counter() - start))

            thread = threading.Thread(target=loop)
            thread.start()
            thread.join()
            return fps[0]

        def end_to_end_fps(k: int) -> float:
            job = JobConfig(
                source=str(video), out=Path(tmp) / f"out{k}", prompts=(ScheduledPrompt(prompt),), tracker=tracker_config
            )
            report = run_job(job, show_progress=False)
            # From the first frame read to the last frame written (model loading excluded).
            return report.frames_processed / report.run_seconds

        for k in range(args.rounds):
            if k % 2 == 0:
                model_only.append(model_only_fps())
                end_to_end.append(end_to_end_fps(k))
            else:
                end_to_end.append(end_to_end_fps(k))
                model_only.append(model_only_fps())
    print(f"sam2.1_hiera_tiny, random weights, image size {args.image_size}, {args.frames} frames of "
          f"{args.width}x{args.height} H.264, {args.threads} threads, CPU")  # fmt: skip
    ratios = [e / m for e, m in zip(end_to_end, model_only, strict=True)]
    rows = [
        ["model only (pre-decoded)", statistics.median(model_only), *model_only],
        ["end to end (vidseg run)", statistics.median(end_to_end), *end_to_end],
        ["ratio (same round)", statistics.median(ratios), *ratios],
    ]
    print_table(["mode", "median", *[f"round {k + 1}" for k in range(args.rounds)]], rows)
    ratio = statistics.median(ratios)
    print(f"goal: end-to-end >= 0.95 x model-only: {'met' if ratio >= 0.95 else 'NOT met'} (median ratio {ratio:.3f})")


if __name__ == "__main__":
    main()
