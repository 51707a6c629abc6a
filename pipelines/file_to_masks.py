"""Recipe: a video file (or image folder) in, mask videos and per-frame results out.

    python pipelines/file_to_masks.py clip.mp4 out/ --point 320,180 --checkpoint sam2.1_hiera_tiny.pt

The same job as ``vidseg run``, as a small typed function to call from your own code.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from vidseg.config import TrackerConfig
from vidseg.errors import VidsegError
from vidseg.pipeline.job import JobConfig, JobReport, run_job
from vidseg.prompts.spec import parse_cli_prompts


def file_to_masks(
    source: str | Path,
    out: str | Path,
    points: list[str],
    boxes: list[str] | None = None,
    tracker: TrackerConfig | None = None,
) -> JobReport:
    """Track the objects given by ``points``/``boxes`` (``vidseg run`` syntax) through ``source``
    and write ``masks.mkv``, ``overlay.mp4``, ``objects.jsonl`` and ``manifest.json`` to ``out``."""
    prompts = tuple(parse_cli_prompts(points=points, boxes=boxes or []))
    config = JobConfig(source=str(source), out=Path(out), prompts=prompts, tracker=tracker or TrackerConfig())
    return run_job(config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source")
    parser.add_argument("out")
    parser.add_argument("--point", action="append", default=[])
    parser.add_argument("--box", action="append", default=[])
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--random-weights", action="store_true")
    parser.add_argument("--image-size", type=int, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    tracker = TrackerConfig(checkpoint=args.checkpoint, random_weights=args.random_weights, image_size=args.image_size)
    try:
        report = file_to_masks(args.source, args.out, args.point, args.box, tracker)
    except VidsegError as exc:
        raise SystemExit(f"file_to_masks: error: {exc}") from None
    print(f"{report.status}: {report.frames_processed} frames -> {report.out}")


if __name__ == "__main__":
    main()
