"""What a semantic model beside the tracker costs, and what running it in its own thread buys:
end-to-end frames/s of ``run_job`` with the tracker alone, with the tracker and a semantic model
sequential (the model on the tracker's thread, one after the other) and concurrent (its own
thread, joined by frame key), and the semantic model alone, at each frame size asked for; the
modes alternate their order between rounds. The last table gives, per size, the fraction of the
tracker-only rate each mode keeps.

Both models are the shipped synthetic ones by default (tracker ``vidseg_synthetic_tiny``, which
squeezes every frame to 128 px; U-Net at its 128 px input, the frame's shorter side scaled to it),
on a generated clip of each size; ``--semantic lraspp_mobilenet_v3_large`` runs a heavier model
(random weights: the cost is the same).

    python bench/semantic_concurrency.py                          # 128 px and 640x360: about 6 minutes on 2 cores
    python bench/semantic_concurrency.py --sizes 640x360 1280x720 --rounds 5
    python bench/semantic_concurrency.py --semantic lraspp_mobilenet_v3_large --semantic-size 256

Concurrency can at best hide the faster model behind the slower one (frames/s = 1 / max(a, b)
instead of 1 / (a + b)); it buys that only while the two do not fight over the same cores.
Goal: at 640x360 a run with the U-Net keeps at least half of the tracker-only rate.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import print_table
from PIL import Image

from vidseg import JobConfig, SemanticConfig, run_job
from vidseg.config import TrackerConfig
from vidseg.datasets.synthetic_videos import VideoSpec, generate_video
from vidseg.models.semantic import build_semantic_model
from vidseg.models.tracking import Sam2Model, build_model
from vidseg.models.tracking.registry import SYNTHETIC_MODEL
from vidseg.prompts.spec import ScheduledPrompt
from vidseg.types import Prompt

MODES = ("tracker only", "sequential", "concurrent")
GOAL_SIZE, GOAL = (360, 640), 0.5


def frame_size(text: str) -> tuple[int, int]:
    """``"128"`` (square) or ``"640x360"`` (width x height) as (height, width)."""
    width, _, height = text.lower().partition("x")
    try:
        size = (int(height or width), int(width))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size such as 128 or 640x360; found {text!r}") from None
    if min(size) < 32:
        raise argparse.ArgumentTypeError(f"frames need sides of at least 32 px; found {text!r}")
    return size


def describe(size: tuple[int, int]) -> str:
    return f"{size[0]} px" if size[0] == size[1] else f"{size[1]}x{size[0]}"


def _frames(folder: Path, frames: int, size: tuple[int, int]) -> tuple[float, float]:
    video = generate_video(4242, VideoSpec.at_difficulty(0.3, num_frames=frames, height=size[0], width=size[1]))
    for t in range(frames):
        Image.fromarray(video.frames[t]).save(folder / f"{t:05d}.png")
    return video.click(0, 1)


def measure(args: argparse.Namespace, size: tuple[int, int], weights: Sam2Model, random: bool) -> dict[str, list[float]]:
    """frames/s of every mode at one frame size, ``args.rounds`` times each (after one warm-up run)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "frames"
        folder.mkdir()
        x, y = _frames(folder, args.frames, size)
        tracker = TrackerConfig(model=SYNTHETIC_MODEL.name, device="cpu")
        semantic_model = build_semantic_model(args.semantic, random_weights=random, input_size=args.semantic_size)
        prompt = (ScheduledPrompt(Prompt(1, points=((float(x), float(y)),), labels=(1,))),)
        images = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.iterdir())]

        def run(mode: str) -> float:
            semantic = None if mode == "tracker only" else SemanticConfig(
                args.semantic, random_weights=random, input_size=args.semantic_size, concurrent=mode == "concurrent")
            config = JobConfig(source=str(folder), out=Path(tmp) / mode.replace(" ", "-"), prompts=prompt,
                               tracker=tracker, semantic=semantic, overlay=False, overwrite=True)  # fmt: skip
            report = run_job(config, show_progress=False, model=weights)
            return report.frames_processed / report.run_seconds

        def semantic_only() -> float:
            start = time.perf_counter()
            for image in images:
                semantic_model.predict(image)
            return len(images) / (time.perf_counter() - start)

        fps: dict[str, list[float]] = {m: [] for m in [*MODES, "semantic only"]}
        run("concurrent")  # warm-up
        for k in range(args.rounds):
            for mode in MODES if k % 2 == 0 else MODES[::-1]:
                fps[mode].append(run(mode))
            fps["semantic only"].append(semantic_only())
        print(f"\n{args.frames} frames of {describe(size)}; tracker {SYNTHETIC_MODEL.name}; semantic {args.semantic} "
              f"(network input {semantic_model.network_size(*size)}{', random weights' if random else ''}); "
              f"{args.threads} torch threads; {args.rounds} rounds")  # fmt: skip
    print_table(["mode", "median fps", "min", "max"], [[m, statistics.median(v), min(v), max(v)] for m, v in fps.items()])
    return fps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--sizes", type=frame_size, nargs="+", default=[(128, 128), GOAL_SIZE],
                        help="frame sizes: 128 (square) or WIDTHxHEIGHT (default: 128 640x360)")  # fmt: skip
    parser.add_argument("--semantic", default="vidseg_unet_synthetic")
    parser.add_argument("--semantic-size", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (shared by both models)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    random = args.semantic != "vidseg_unet_synthetic"
    weights = build_model(model=SYNTHETIC_MODEL.name, device="cpu")
    results = {size: measure(args, size, weights, random) for size in args.sizes}
    rows = []
    for size, fps in results.items():
        median = {mode: statistics.median(v) for mode, v in fps.items()}
        track, sem = median["tracker only"], median["semantic only"]
        ideal = min(track, sem) / track  # 1/max(a, b): the semantic model wholly hidden behind the tracker
        rows.append([describe(size), track, median["sequential"], median["concurrent"], sem,
                     median["sequential"] / track, median["concurrent"] / track, ideal])  # fmt: skip
    print(f"\nfraction of the tracker-only rate kept ({args.semantic}):")
    print_table(["frames", "tracker fps", "sequential fps", "concurrent fps", "semantic-only fps",
                 "kept sequential", "kept concurrent", "kept ideal"], rows)  # fmt: skip
    if GOAL_SIZE in results and args.semantic == "vidseg_unet_synthetic":
        kept = statistics.median(results[GOAL_SIZE]["concurrent"]) / statistics.median(results[GOAL_SIZE]["tracker only"])
        print(f"goal: at {describe(GOAL_SIZE)} the concurrent run keeps >= {GOAL:.0%} of the tracker-only rate: "
              f"{kept:.1%} -> {'met' if kept >= GOAL else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
