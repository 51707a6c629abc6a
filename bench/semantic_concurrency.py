"""What running the semantic model in its own thread buys: end-to-end frames/s of ``run_job`` with
the tracker and a semantic model, sequential (the model on the tracker's thread, one after the
other) against concurrent (its own thread, joined by frame key), in one run, the order
alternating between rounds; with the tracker alone and the semantic model alone for reference.

Both models are the shipped synthetic ones by default (tracker ``vidseg_synthetic_tiny`` at 128
px, U-Net at 128 px), on a generated clip; ``--semantic lraspp_mobilenet_v3_large`` runs a
heavier model (random weights: the cost is the same).

    python bench/semantic_concurrency.py                      # about 3 minutes on 2 cores
    python bench/semantic_concurrency.py --semantic lraspp_mobilenet_v3_large --size 256

Concurrency can at best hide the faster model behind the slower one (frames/s = 1 / max(a, b)
instead of 1 / (a + b)); it buys that only while the two do not fight over the same cores.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from common import print_table
from PIL import Image

from vidseg.config import TrackerConfig
from vidseg.datasets.synthetic_videos import VideoSpec, generate_video
from vidseg.models.semantic import build_semantic_model
from vidseg.models.tracking import build_model
from vidseg.models.tracking.registry import SYNTHETIC_MODEL
from vidseg.pipeline.job import JobConfig, run_job
from vidseg.pipeline.semantic import SemanticConfig
from vidseg.prompts.spec import ScheduledPrompt
from vidseg.types import Prompt


def _frames(folder: Path, frames: int, size: int) -> tuple[float, float]:
    video = generate_video(4242, VideoSpec.at_difficulty(0.3, num_frames=frames, height=size, width=size))
    for t in range(frames):
        Image.fromarray(video.frames[t]).save(folder / f"{t:05d}.png")
    return video.click(0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--size", type=int, default=128, help="frame size")
    parser.add_argument("--semantic", default="vidseg_unet_synthetic")
    parser.add_argument("--semantic-size", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (shared by both models)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    random = args.semantic != "vidseg_unet_synthetic"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "frames"
        folder.mkdir()
        x, y = _frames(folder, args.frames, args.size)
        tracker = TrackerConfig(model=SYNTHETIC_MODEL.name, device="cpu")
        weights = build_model(model=SYNTHETIC_MODEL.name, device="cpu")
        semantic_model = build_semantic_model(args.semantic, random_weights=random, input_size=args.semantic_size)
        prompt = (ScheduledPrompt(Prompt(1, points=((float(x), float(y)),), labels=(1,))),)

        def run(mode: str) -> float:
            semantic = None if mode == "tracker only" else SemanticConfig(
                args.semantic, random_weights=random, input_size=args.semantic_size, concurrent=mode == "concurrent")
            config = JobConfig(source=str(folder), out=Path(tmp) / mode.replace(" ", "-"), prompts=prompt,
                               tracker=tracker, semantic=semantic, overlay=False, overwrite=True)  # fmt: skip
            report = run_job(config, show_progress=False, model=weights)
            return report.frames_processed / report.run_seconds

        def semantic_only() -> float:
            images = [Image.open(p).convert("RGB") for p in sorted(folder.iterdir())]
            import numpy as np

            start = time.perf_counter()
            for image in images:
                semantic_model.predict(np.asarray(image))
            return len(images) / (time.perf_counter() - start)

        modes = ["tracker only", "sequential", "concurrent"]
        fps: dict[str, list[float]] = {m: [] for m in [*modes, "semantic only"]}
        run("concurrent")  # warm-up
        for k in range(args.rounds):
            order = modes if k % 2 == 0 else modes[::-1]
            for mode in order:
                fps[mode].append(run(mode))
            fps["semantic only"].append(semantic_only())
    rows = [[mode, statistics.median(v), min(v), max(v)] for mode, v in fps.items()]
    print(f"{args.frames} frames of {args.size} px; tracker {SYNTHETIC_MODEL.name}; semantic {args.semantic} "
          f"(input {semantic_model.input_size} px{', random weights' if random else ''}); {args.threads} torch threads; "
          f"{args.rounds} rounds")  # fmt: skip
    print_table(["mode", "median fps", "min", "max"], rows)
    seq, con = statistics.median(fps["sequential"]), statistics.median(fps["concurrent"])
    track, sem = statistics.median(fps["tracker only"]), statistics.median(fps["semantic only"])
    ideal_seq = 1 / (1 / track + 1 / sem)
    print(f"concurrent / sequential: {con / seq:.3f}; the ideal with free cores: {min(track, sem) / ideal_seq:.3f} "
          f"(1/max(a, b) against 1/(a + b), from the models alone)")


if __name__ == "__main__":
    main()
