"""The ``vidseg`` command line: thin subcommands over library calls.

Every :class:`~vidseg.errors.VidsegError` ends the command with one clear line on stderr and
exit status 2; environment variables are read here and nowhere else.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from vidseg import __version__
from vidseg.errors import VidsegError

log = logging.getLogger("vidseg")


def _add_model_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model (flags override --config)")
    group.add_argument("--config", type=Path, default=None, help="YAML preset, e.g. configs/cpu-demo.yaml")
    group.add_argument(
        "--model", default=None, help="SAM 2 model name (see `vidseg models`); default sam2.1_hiera_tiny"
    )
    group.add_argument("--checkpoint", default=None, help="checkpoint path (default: cache, else download)")
    group.add_argument(
        "--random-weights",
        action="store_true",
        default=None,
        help="run with seeded random weights (no checkpoint needed; masks are meaningless)",
    )
    group.add_argument("--image-size", type=int, default=None, help="model input size, a multiple of 32 (default 1024)")
    group.add_argument("--device", default=None, help="auto (default), cpu, cuda or cuda:N")
    group.add_argument("--seed", type=int, default=None, help="seed of random weights (default 0)")
    group.add_argument("--no-download", action="store_true", help="never download a missing checkpoint")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vidseg", description="Video segmentation streaming pipeline.")
    parser.add_argument("--version", action="version", version=f"vidseg {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo",
        help="track a generated clip with the streaming tracker",
        description="Generate a clip of moving shapes, prompt the first shape with one click, "
        "track it frame by frame, and write overlays and a summary to --out.",
    )
    _add_model_args(demo)
    demo.add_argument("--frames", type=int, default=48, help="clip length in frames")
    demo.add_argument("--objects", type=int, default=2, help="shapes in the clip (all are prompted)")
    demo.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder")

    sub.add_parser("models", help="list the SAM 2 models vidseg knows")
    return parser


def _cache_dir() -> Path | None:
    value = os.environ.get("VIDSEG_CACHE")
    return Path(value) / "checkpoints" if value else None


def _run_demo(args: argparse.Namespace) -> int:
    from vidseg.config import load_config
    from vidseg.demo import DemoConfig, run_demo

    tracker_flags = {
        "model": args.model,
        "checkpoint": args.checkpoint,
        "random_weights": args.random_weights,
        "image_size": args.image_size,
        "device": args.device,
        "seed": args.seed,
    }
    config = DemoConfig(
        tracker=load_config(args.config, {"tracker": tracker_flags}).tracker,
        download=not args.no_download,
        cache_dir=_cache_dir(),
        frames=args.frames,
        objects=args.objects,
        out=args.out,
    )
    run_demo(config)
    return 0


def _list_models() -> int:
    from vidseg.tracking import MODELS

    for spec in MODELS.values():
        print(f"{spec.name:24s} {spec.url}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vidseg`` console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.captureWarnings(True)
    try:
        if args.command == "demo":
            return _run_demo(args)
        return _list_models()
    except VidsegError as exc:
        print(f"vidseg: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vidseg: interrupted", file=sys.stderr)
        return 130
