"""Does the file job hide decoding and encoding behind the model?

Prints, in one run on the same clip and model: model-only frames/s (``tracker.step`` in a loop on
pre-decoded frames) and end-to-end ``vidseg run`` frames/s (decode, track, label video, overlay,
JSON lines). Goal: end-to-end >= 0.95 x model-only.

    python bench/pipeline_overhead.py --frames 40 --image-size 256 --rounds 3
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import torch
from common import print_table

from vidseg.config import TrackerConfig
from vidseg.prompt_spec import ScheduledPrompt
from vidseg.sources import FileSource
from vidseg.synthetic import moving_shapes_clip, write_clip_video
from vidseg.track_job import JobConfig, run_job
from vidseg.tracking import build_tracker
from vidseg.types import Prompt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--width", type=int, default=854)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    clip = moving_shapes_clip(num_frames=args.frames, height=args.height, width=args.width, num_objects=1, seed=0)
    prompt = Prompt(1, points=(clip.center(0, 1),), labels=(1,))
    tracker_config = TrackerConfig(random_weights=True, image_size=args.image_size, device="cpu")
    model_only: list[float] = []
    end_to_end: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        video = write_clip_video(clip, Path(tmp) / "clip.mp4", fps=25)
        with FileSource(video) as source:
            frames = [f.image for f in source]
        # Alternate the two modes: this machine's speed drifts by 10-20% over minutes.
        for k in range(args.rounds):
            tracker = build_tracker(**asdict(tracker_config))
            tracker.add(prompt)
            start = time.perf_counter()
            for image in frames:
                tracker.step(image)
            model_only.append(len(frames) / (time.perf_counter() - start))
            job = JobConfig(
                source=str(video), out=Path(tmp) / f"out{k}", prompts=(ScheduledPrompt(prompt),), tracker=tracker_config
            )
            report = run_job(job, show_progress=False)
            # From the first frame read to the last frame written (model loading excluded).
            end_to_end.append(report.frames_processed / report.run_seconds)
    print(f"sam2.1_hiera_tiny, random weights, image size {args.image_size}, {args.frames} frames of "
          f"{args.width}x{args.height} H.264, {args.threads} threads, CPU")  # fmt: skip
    rows = [
        ["model only (pre-decoded)", statistics.median(model_only), *model_only],
        ["end to end (vidseg run)", statistics.median(end_to_end), *end_to_end],
    ]
    print_table(["mode", "median frames/s", *[f"round {k + 1}" for k in range(args.rounds)]], rows)
    ratio = statistics.median(end_to_end) / statistics.median(model_only)
    print(f"goal: end-to-end >= 0.95 x model-only: {'met' if ratio >= 0.95 else 'NOT met'} ({ratio:.3f})")


if __name__ == "__main__":
    main()
