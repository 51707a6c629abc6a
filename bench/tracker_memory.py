"""Memory and speed of the streaming tracker vs the official SAM2VideoPredictor on a long clip.

Prints process RSS and per-frame time at frame ~50 and at the last frame for both, same model,
weights (seeded random) and clip, each in its own process. Goal: RSS growth <= 30 MB from frame
50 to 300 for ours.

    python bench/tracker_memory.py --frames 300 --image-size 256 --objects 2
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

from common import print_table, rss_mb, run_worker


def _prompts(clip, objects):  # type: ignore[no-untyped-def]
    from vidseg.types import Prompt

    return {0: [Prompt(k, points=(clip.center(0, k),), labels=(1,)) for k in range(1, objects + 1)]}


def _recent_mean(times: list[float], n: int = 10) -> float:
    """Mean of the last ``n`` per-frame times (one frame alone is too noisy)."""
    recent = times[-n:]
    return sum(recent) / len(recent)


def _official_state_mb(state: dict) -> float:  # type: ignore[type-arg]
    """Bytes the official predictor retains per object and frame (outputs, not the frames)."""
    import torch

    storages = {}
    for per_obj in state["output_dict_per_obj"].values():
        for outputs in per_obj.values():
            for out in outputs.values():
                for value in out.values():
                    for x in value if isinstance(value, list) else [value]:
                        if isinstance(x, torch.Tensor):
                            storages[x.untyped_storage().data_ptr()] = x.untyped_storage().nbytes()
    return sum(storages.values()) / 1e6


def worker(args: argparse.Namespace) -> None:
    import numpy as np
    import torch
    from PIL import Image

    from vidseg.datasets.moving_shapes import moving_shapes_clip
    from vidseg.models.tracking import build_tracker
    from vidseg.models.tracking.reference import build_official_predictor, write_jpeg_clip

    warnings.simplefilter("ignore")
    torch.set_num_threads(args.threads)
    clip = moving_shapes_clip(num_frames=args.frames, height=360, width=640, num_objects=args.objects, seed=0)
    prompts = _prompts(clip, args.objects)
    tracker = build_tracker(args.model, random_weights=True, image_size=args.image_size, device="cpu", seed=0)
    marks: dict[int, dict[str, float]] = {50: {}, args.frames - 1: {}}
    times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        # Both sides read the same JPEG clip: ours one frame at a time, the official all at once.
        write_jpeg_clip(clip.frames, Path(tmp))
        del clip
        if args.worker == "ours":
            last = time.perf_counter()
            for t in range(args.frames):
                for prompt in prompts.get(t, []):
                    tracker.add(prompt)
                tracker.step(np.asarray(Image.open(Path(tmp) / f"{t:05d}.jpg").convert("RGB")))
                now = time.perf_counter()
                times.append(now - last)
                if t in marks:
                    marks[t] = {
                        "rss": rss_mb(),
                        "sec": _recent_mean(times),
                        "state": tracker.memory_stats().bytes / 1e6,
                    }
                last = now
        else:
            predictor = build_official_predictor(args.model, tracker.model.state_dict(), args.image_size)
            del tracker
            state = predictor.init_state(video_path=tmp)
            for prompt in prompts[0]:
                predictor.add_new_points_or_box(
                    state, 0, prompt.obj_id, points=list(prompt.points), labels=list(prompt.labels)
                )
            last = time.perf_counter()
            with torch.inference_mode():
                for t, _, _ in predictor.propagate_in_video(state):
                    now = time.perf_counter()
                    times.append(now - last)
                    if t in marks:
                        marks[t] = {"rss": rss_mb(), "sec": _recent_mean(times), "state": _official_state_mb(state)}
                    last = now
    print(json.dumps({str(k): v for k, v in marks.items()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--objects", type=int, default=2)
    parser.add_argument("--model", default="sam2.1_hiera_tiny")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", choices=["ours", "official"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    common = ["--frames", str(args.frames), "--image-size", str(args.image_size), "--objects", str(args.objects),
              "--model", args.model, "--threads", str(args.threads)]  # fmt: skip
    results = {kind: run_worker(__file__, [*common, "--worker", kind]) for kind in ("ours", "official")}
    last = str(args.frames - 1)
    print(f"{args.model}, random weights, image size {args.image_size}, {args.objects} objects, "
          f"{args.frames} frames of 640x360, {args.threads} threads, CPU")  # fmt: skip
    rows = []
    for kind, marks in results.items():
        a, b = marks["50"], marks[last]
        rows.append([kind, a["rss"], b["rss"], b["rss"] - a["rss"], a["sec"], b["sec"], a["state"], b["state"]])
    print_table(["tracker", "RSS@50 MB", f"RSS@{last} MB", "growth MB", "s/frame@41-50", f"s/frame@{int(last) - 9}-{last}",
                 "state@50 MB", f"state@{last} MB"], rows)  # fmt: skip
    growth = rows[0][3]
    print(
        f"goal: ours grows <= 30 MB from frame 50 to {last}: {'met' if growth <= 30 else 'NOT met'} ({growth:.1f} MB)"
    )


if __name__ == "__main__":
    main()
