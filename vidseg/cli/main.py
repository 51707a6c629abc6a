"""The ``vidseg`` command line: thin subcommands over library calls.

Every :class:`~vidseg.errors.VidsegError` ends the command with one clear line on stderr and
exit status 2; environment variables are read here and nowhere else.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vidseg import __version__
from vidseg.errors import ConfigError, VidsegError

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
    group.add_argument("--image-size", type=int, default=None,
                       help="model input size, a multiple of 32 (default: the model's own: 1024 for SAM 2.1, 128 for "
                       "vidseg_synthetic_tiny)")  # fmt: skip
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
        help="generate a sample clip and track its shapes (the main job)",
        description="Write a sample clip (854x480 H.264, shapes moving over a textured background) to "
        "--out/sample.mp4, click each shape once on frame 0, and run `vidseg run` on it into --out/run "
        "(masks.mkv, overlay.mp4, objects.jsonl, manifest.json). Reports IoU against the generator's truth.",
    )
    _add_model_args(demo)
    demo.add_argument("--frames", type=int, default=48, help="clip length in frames")
    demo.add_argument("--objects", type=int, default=1, help="shapes in the clip (all are prompted)")
    demo.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder")
    demo.add_argument(
        "--redis", default=os.environ.get("VIDSEG_REDIS_URL"), metavar="URL",
        help="publish to this Redis (default: $VIDSEG_REDIS_URL, else a private redis-server on a free loopback "
        "port when one is installed)",
    )
    demo.add_argument("--no-redis", action="store_true", help="write files only")
    demo.add_argument(
        "--live", action="store_true",
        help="the live demo: start the RTSP test feed and a private redis-server, run the live job on the feed, "
        "send a prompt through Redis mid-run, and print latency, drops and entries (outputs in out/demo-live)",
    )
    demo.add_argument("--seconds", type=float, default=20.0, help="how long the live demo runs (default 20)")
    demo.add_argument("--semantic", action="store_true",
                      help="also run the shipped semantic U-Net beside the tracker: semantic.mkv, classes in the "
                      "overlay and each object's class")  # fmt: skip

    run = sub.add_parser(
        "run",
        help="track prompted objects through a video file, an image folder or a live feed",
        description="Track prompted objects through SOURCE (a video file, an image folder or glob, or a live feed: "
        "rtsp://, http(s)://, udp://, srt://, /dev/video*) and write "
        "masks.mkv (lossless label video), overlay.mp4, objects.jsonl and manifest.json to --out, publish every "
        "frame to Redis (--redis URL), or both. "
        "Prompts: --point [ID:]X,Y[,LABEL][@WHEN], --box [ID:]X1,Y1,X2,Y2[@WHEN], --mask [ID:]FILE.png[@WHEN], "
        "where WHEN is a frame index (@12) or seconds (@2.5s); ID defaults to 1. A run needs a prompt unless it "
        "tracks by class (--track-class) or reads prompts from Redis (--redis).",
    )
    run.add_argument("source", help="video file, image folder, image glob, live feed (rtsp://...; a password may come "
                     "from $VIDSEG_SOURCE_PASSWORD), or url-file:PATH (a feed URL in a file only you may read)")
    run.add_argument("--out", type=Path, default=None, help="output folder (give --out, --redis or both)")
    run.add_argument("--point", action="append", default=[], metavar="[ID:]X,Y[,LABEL][@WHEN]")
    run.add_argument("--box", action="append", default=[], metavar="[ID:]X1,Y1,X2,Y2[@WHEN]")
    run.add_argument("--mask", action="append", default=[], metavar="[ID:]FILE[@WHEN]")
    run.add_argument("--prompts", type=Path, default=None, help="JSON/YAML list of prompts")
    run.add_argument("--every", type=int, default=1, help="process every N-th frame")
    run.add_argument("--start", type=float, default=None, help="start time in seconds")
    run.add_argument("--end", type=float, default=None, help="end time in seconds")
    run.add_argument("--fps", type=float, default=24.0, help="frame rate of an image folder")
    run.add_argument("--davis", type=Path, default=None, help="also write DAVIS palette PNGs to this folder")
    run.add_argument("--no-overlay", action="store_true", help="skip overlay.mp4")
    run.add_argument("--overwrite", action="store_true", help="replace an earlier run's outputs in --out")
    live_group = run.add_argument_group("live feeds (rtsp://, rtsps://, http(s)://, udp://, srt://, /dev/video*)")
    live_group.add_argument("--rtsp-transport", choices=["tcp", "udp"], default="tcp", help="RTSP transport (default tcp)")
    live_group.add_argument("--open-timeout", type=float, default=10.0, help="seconds to connect (default 10)")
    live_group.add_argument(
        "--read-timeout", type=float, default=5.0, help="seconds without a frame before reconnecting (default 5)"
    )
    live_group.add_argument(
        "--reconnect-attempts", type=int, default=None, help="reconnections after the feed is lost (default: forever)"
    )
    live_group.add_argument(
        "--max-latency", type=float, default=None, metavar="SECONDS",
        help="drop (and count) a frame captured longer ago than this instead of tracking it",
    )
    live_group.add_argument(
        "--segment-seconds", type=float, default=None,
        help="cut the file outputs into segment-NNNNN/ folders of this many seconds (live feeds: 300 by default)",
    )
    live_group.add_argument("--keep-segments", type=int, default=None, help="keep only the newest N closed segments")
    run.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    run.add_argument("--duration", type=float, default=None, metavar="SECONDS", help="stop after this many seconds")
    run.add_argument("--visible-min-area", type=int, default=16, metavar="PIXELS",
                     help="smallest mask that counts as a visible object (default 16)")
    run.add_argument("--event-frames", type=int, default=3, metavar="N",
                     help="frames in a row a change of visibility must hold to be an object_lost / object_reappeared "
                     "event (default 3)")  # fmt: skip
    limits = run.add_argument_group("limits (what one prompt and one run may ask; a refusal is a prompt_rejected event)")
    limits.add_argument("--point-limit", type=int, default=64, metavar="N", help="clicks in one prompt (default 64)")
    limits.add_argument("--object-limit", type=int, default=100, metavar="N",
                        help="objects tracked at once, from every origin (default 100)")
    limits.add_argument("--stop-grace", type=float, default=30.0, metavar="SECONDS",
                        help="once stopped (Ctrl-C, --duration), how long the frames in flight may take before the "
                        "run aborts (default 30)")  # fmt: skip
    limits.add_argument("--abort-deadline", type=float, default=10.0, metavar="SECONDS",
                        help="once aborted, how long every thread gets to stop; a model step still running then is "
                        "left behind and the command exits (default 10)")  # fmt: skip
    sem_group = run.add_argument_group("semantic model (a label map per frame, beside the tracker)")
    sem_group.add_argument("--semantic", default=None, metavar="NAME",
                           help="lraspp_mobilenet_v3_large, deeplabv3_mobilenet_v3_large, deeplabv3_resnet50, "
                           "fcn_resnet50, vidseg_unet_synthetic, or hf:<hub id or folder> (SegFormer, Mask2Former, "
                           "EoMT; the transformers extra); see `vidseg models`")
    sem_group.add_argument("--semantic-checkpoint", default=None, help="its weights (default: cache, else download)")
    sem_group.add_argument("--semantic-random-weights", action="store_true", help="seeded random weights (meaningless maps)")
    sem_group.add_argument("--semantic-size", type=int, default=None, help="its input size (default: the model's)")
    sem_group.add_argument("--semantic-same-thread", action="store_true",
                           help="run the semantic model on the tracker's thread, one after the other (one core)")
    sem_group.add_argument("--overlay-classes", action="store_true",
                           help="colour overlay.mp4 by semantic class (under the objects) with a legend of the classes")
    sem_group.add_argument("--semantic-every", type=int, default=1, metavar="K",
                           help="label every K-th frame; the frames between reuse the last map (marked reused)")
    sem_group.add_argument("--track-class", action="append", default=[], metavar="NAME",
                           help="track every region of this semantic class as an object (repeatable; needs --semantic, "
                           "or --proposer maskrcnn with a COCO class)")  # fmt: skip
    sem_group.add_argument("--proposer", choices=("regions", "maskrcnn"), default="regions",
                           help="where objects tracked by class come from: connected regions of the semantic map "
                           "(default; touching objects of one class merge), or Mask R-CNN instances (COCO classes)")
    sem_group.add_argument("--proposer-checkpoint", default=None, metavar="FILE",
                           help="Mask R-CNN's COCO weights, torchvision's maskrcnn_resnet50_fpn file (default: the "
                           "cache, else a download)")  # fmt: skip
    sem_group.add_argument("--proposer-random-weights", action="store_true",
                           help="Mask R-CNN with seeded random weights (no download; meaningless instances)")
    sem_group.add_argument("--max-objects", type=int, default=None, help="at most this many objects created by class")
    sem_group.add_argument("--min-region-area", type=int, default=64, help="smallest region (pixels) to track")
    redis_group = run.add_argument_group("Redis output")
    redis_group.add_argument(
        "--redis", default=os.environ.get("VIDSEG_REDIS_URL"), metavar="URL",
        help="publish every frame to Redis (redis://, rediss://, unix://; default $VIDSEG_REDIS_URL)",
    )
    redis_group.add_argument("--source-id", default=None, help="stream name part (default: the source file's stem)")
    redis_group.add_argument("--redis-prefix", default="vidseg", help="key prefix (default vidseg)")
    redis_group.add_argument("--redis-maxlen", type=int, default=10_000, help="approximate stream length kept")
    redis_group.add_argument(
        "--redis-no-prompts", action="store_true", help="do not read prompts from {prefix}:{source_id}:prompts"
    )
    redis_group.add_argument(
        "--redis-wait", type=float, default=60.0, metavar="SECONDS",
        help="how long a file run waits for an unreachable Redis before it fails, counting what was not sent "
        "(default 60)",
    )
    _add_model_args(run)

    info = sub.add_parser("info", help="describe what a source holds")
    info.add_argument("source", help="video file, image folder, image glob, live feed URL, or url-file:PATH")

    sub.add_parser("models", help="list the models vidseg knows: trackers (--model) and semantic models (--semantic)")

    evaluate = sub.add_parser(
        "eval",
        help="score predictions against ground truth: object masks (DAVIS J&F) or semantic maps (--semantic: mIoU)",
        description="Score PRED against GT with the DAVIS 2017 semi-supervised measures: J (mask IoU) and F "
        "(boundary F-measure), per object, then J&F-Mean over all objects of all sequences. Each of PRED and GT "
        "is a folder of PNG label maps (pixel value = object id; 255 in GT is void, scored as background), a "
        "label video (masks.mkv, or a `vidseg run` output folder), or a folder of such sequences (DAVIS "
        "Annotations/480p layout, matched by name). PNG frames are matched by name; a label video's frames are placed "
        "by time (the frame rate and start from the run's manifest.json, or --fps). With --semantic, semantic maps "
        "(semantic.mkv or PNGs of class ids) are scored instead: per-class IoU, mIoU and pixel accuracy.",
    )
    evaluate.add_argument("pred", type=Path, help="predicted label maps (one sequence, or a folder of sequences)")
    evaluate.add_argument("gt", type=Path, help="ground-truth label maps, in the same layout as PRED")
    evaluate.add_argument("--json", type=Path, default=None, metavar="OUT.json", help="also write the report as JSON")
    evaluate.add_argument(
        "--bound-th",
        type=float,
        default=0.008,
        help="F's boundary tolerance: a fraction of the image diagonal (< 1) or a radius in pixels (default 0.008)",
    )
    evaluate.add_argument(
        "--semantic", action="store_true",
        help="score semantic maps instead (semantic.mkv or PNG folders of class ids): per-class IoU, mIoU, pixel accuracy",
    )
    evaluate.add_argument(
        "--tracks", action="store_true",
        help="score instance tracks instead (MOTS): HOTA with DetA and AssA, IDF1, ID switches, MOTSA, and predicted "
        "objects per ground-truth instance (needs pip install 'vidseg[eval]')",
    )
    evaluate.add_argument(
        "--iou-threshold", type=float, default=0.5,
        help="with --tracks: the mask IoU at which MOTSA, IDF1 and ID switches count a match (default 0.5)",
    )
    evaluate.add_argument(
        "--objects", choices=["all-frames", "first-frame"], default="all-frames",
        help="which ids are objects: those of the first and every scored ground-truth frame (default), or DAVIS "
        "2017's ids 1..max of the first frame (to compare with published figures)",
    )
    evaluate.add_argument(
        "--fps", type=float, default=None,
        help="the source's frame rate, to place a label video's frames among PNG frames by time (default: from the "
        "run's manifest.json)",
    )
    evaluate.add_argument(
        "--keep-first-last",
        action="store_true",
        help="also score each sequence's first and last frame (DAVIS excludes them)",
    )
    prompt = sub.add_parser(
        "prompt",
        help="send a prompt to a running `vidseg run --redis` through Redis",
        description="Add prompts to {prefix}:{source_id}:prompts; the run applies them on the next frame it "
        "processes (or the first frame at or after --pts) and reports each as applied or rejected on "
        "{prefix}:{source_id}:events. Same syntax as `vidseg run`, without @WHEN.",
    )
    prompt.add_argument("source_id", help="the run's source id (its --source-id, by default the file's stem)")
    prompt.add_argument("--redis", default=os.environ.get("VIDSEG_REDIS_URL"), metavar="URL",
                        help="redis://, rediss:// or unix:// URL (default $VIDSEG_REDIS_URL)")
    prompt.add_argument("--redis-prefix", "--prefix", dest="prefix", default="vidseg",
                        help="key prefix, as the run's --redis-prefix (default vidseg)")
    prompt.add_argument("--point", action="append", default=[], metavar="[ID:]X,Y[,LABEL]")
    prompt.add_argument("--box", action="append", default=[], metavar="[ID:]X1,Y1,X2,Y2")
    prompt.add_argument("--mask", action="append", default=[], metavar="[ID:]FILE")
    prompt.add_argument("--remove", type=int, action="append", default=[], metavar="ID", help="stop tracking ID")
    prompt.add_argument("--track-class", action="append", default=[], metavar="NAME",
                        help="track every region of this semantic class from now on (the run needs --semantic)")
    prompt.add_argument("--pts", type=int, default=None, help="apply at this pts (source time base) instead of next")
    prompt.add_argument("--request-id", default=None, help="echoed in the events (default: generated)")
    _add_training_parsers(sub)
    return parser


def _add_training_parsers(sub: Any) -> None:
    synth = sub.add_parser(
        "synth",
        help="write a synthetic video dataset (DAVIS layout) with exact masks",
        description="Generate textured shapes that move, rotate, scale, occlude each other and leave and re-enter "
        "the view, and write them in the DAVIS layout (JPEGImages/, Annotations/ palette PNGs of object ids, "
        "SemanticAnnotations/ PNGs of shape-class ids for `vidseg train semantic`, ImageSets/, meta.json). The same "
        "seeds give the same videos.",
    )
    synth.add_argument("out", type=Path, help="dataset folder")
    synth.add_argument("--videos", type=int, default=100, help="number of videos")
    synth.add_argument("--seed", type=int, default=0, help="first seed (video k uses seed + k)")
    synth.add_argument("--difficulty", type=float, default=0.5, help="0 (one big slow object) .. 1 (crowded, fast)")
    synth.add_argument("--frames", type=int, default=24, help="frames per video")
    synth.add_argument("--size", type=int, default=128, help="frame width and height in pixels")
    synth.add_argument("--split", default="train", help="ImageSets list name")

    train = sub.add_parser("train", help="train models").add_subparsers(dest="what", required=True)
    tracker = train.add_parser(
        "tracker",
        help="train or fine-tune a SAM 2 tracker on annotated videos",
        description="Train (from scratch) or fine-tune (--init CKPT) a SAM 2 model on videos with per-frame "
        "instance masks in the DAVIS layout. Each step unrolls the memory over clips prompted on their first "
        "frame (click, box or mask) with Dice + BCE, IoU-prediction and object-score losses; --val videos are "
        "tracked with the streaming tracker and scored with J&F. Writes best.pt (loadable with --checkpoint), "
        "last.pt (resume with --resume) and history.jsonl to --out.",
    )
    tracker.add_argument("data", type=Path, nargs="+", help="training dataset folder(s), DAVIS layout")
    tracker.add_argument("--out", type=Path, required=True, help="folder for checkpoints and history")
    tracker.add_argument("--val", type=Path, default=None, help="validation dataset folder (J&F while training)")
    tracker.add_argument("--model", default="vidseg_synthetic_tiny", help="architecture (see `vidseg models`)")
    tracker.add_argument("--image-size", type=int, default=None, help="model input size (default: the model's)")
    tracker.add_argument("--init", type=Path, default=None, help="checkpoint to fine-tune (default: from scratch)")
    tracker.add_argument("--freeze-image-encoder", action="store_true", help="train all but the image encoder")
    tracker.add_argument("--steps", type=int, default=2000, help="optimiser steps")
    tracker.add_argument("--batch-size", type=int, default=4, help="clips per step")
    tracker.add_argument("--clip-len", type=int, default=8, help="frames per clip (1: single frames)")
    tracker.add_argument(
        "--objects-per-clip",
        type=int,
        default=3,
        help="at most this many objects of each clip are tracked, sharing its images",
    )
    tracker.add_argument("--lr", type=float, default=5e-4, help="peak learning rate")
    tracker.add_argument("--warmup", type=int, default=100, help="warm-up steps")
    tracker.add_argument("--prompts", default="0.7,0.2,0.1", help="click,box,mask prompt probabilities")
    tracker.add_argument("--focal", action="store_true", help="focal mask loss (weight 20, as SAM 2) instead of BCE")
    tracker.add_argument("--seed", type=int, default=0)
    tracker.add_argument("--val-every", type=int, default=250, help="steps between validations")
    tracker.add_argument("--max-minutes", type=float, default=None, help="stop and save after this wall time")
    tracker.add_argument(
        "--anneal-by-time",
        action="store_true",
        help="with --max-minutes: the learning rate decays over the time budget as well as the steps, whichever "
        "runs out first, so a run its budget stops still ends annealed (train for N minutes: --steps high)",
    )
    tracker.add_argument(
        "--ema-decay",
        type=float,
        default=None,
        help="also keep a moving average of the weights with this decay (e.g. 0.99: about the last 100 steps), "
        "saved as --out/ema.pt and validated at the end",
    )
    tracker.add_argument("--resume", action="store_true", help="continue from --out/last.pt")
    tracker.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    tracker.add_argument(
        "--processes",
        type=int,
        default=1,
        help="data-parallel training processes sharing the threads and splitting each batch (on a CPU, 2 "
        "processes of 1 thread trained 1.4x faster than 1 of 2)",
    )

    semantic = train.add_parser(
        "semantic",
        help="train the U-Net or fine-tune a torchvision model on class-id label maps",
        description="Train a per-frame semantic model on frames with class-id label maps in the DAVIS-like layout "
        "(JPEGImages/<video>/ and SemanticAnnotations/<video>/ palette or grayscale PNGs, 255 = ignored; vidseg synth "
        "writes them). The project's U-Net trains from scratch; a torchvision model is fine-tuned from its "
        "pretrained weights (or --init), its classifier replaced when the classes differ. Cross-entropy + Dice "
        "loss; --val frames are scored with mIoU. Writes best.pt (use with --semantic NAME --semantic-checkpoint), "
        "last.pt (continue with --resume) and history.jsonl to --out.",
    )
    semantic.add_argument("data", type=Path, nargs="+", help="training dataset folder(s)")
    semantic.add_argument("--out", type=Path, required=True, help="folder for checkpoints and history")
    semantic.add_argument("--val", type=Path, default=None, help="validation dataset folder (mIoU while training)")
    semantic.add_argument("--model", default="vidseg_unet_synthetic", help="semantic model (see `vidseg models`)")
    semantic.add_argument("--input-size", type=int, default=None, help="model input size (default: the model's)")
    semantic.add_argument("--labels", default="SemanticAnnotations",
                          help="folder of class-id PNGs in each dataset (default: SemanticAnnotations)")
    semantic.add_argument("--classes", default=None, help="class names by id, comma-separated (default: the "
                          "dataset's meta.json, else class_0, class_1, ...)")  # fmt: skip
    semantic.add_argument("--every", type=int, default=1, help="use one frame in this many")
    semantic.add_argument("--init", type=Path, default=None, help="checkpoint to fine-tune")
    semantic.add_argument("--random-init", action="store_true", help="torchvision model from random weights")
    semantic.add_argument("--steps", type=int, default=3000, help="optimiser steps")
    semantic.add_argument("--batch-size", type=int, default=16, help="frames per step")
    semantic.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    semantic.add_argument("--warmup", type=int, default=100, help="warm-up steps")
    semantic.add_argument("--dice-weight", type=float, default=1.0, help="Dice loss weight (cross-entropy: 1)")
    semantic.add_argument("--seed", type=int, default=0)
    semantic.add_argument("--val-every", type=int, default=250, help="steps between validations")
    semantic.add_argument("--max-minutes", type=float, default=None,
                          help="stop and save after this wall time (the learning rate anneals over it)")
    semantic.add_argument("--resume", action="store_true", help="continue from --out/last.pt")
    semantic.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")

def _synth(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from vidseg.datasets.davis_layout import write_davis_dataset
    from vidseg.datasets.synthetic_videos import VideoSpec

    spec = replace(VideoSpec.at_difficulty(args.difficulty), num_frames=args.frames, height=args.size, width=args.size)
    names = write_davis_dataset(args.out, range(args.seed, args.seed + args.videos), spec, split=args.split)
    log.info("wrote %d videos to %s", len(names), args.out)
    return 0


def _train_tracker(args: argparse.Namespace) -> int:
    import torch

    from vidseg.errors import ConfigError
    from vidseg.models.tracking.registry import get_model_spec
    from vidseg.training.data import load_training_videos
    from vidseg.training.loop import TrainConfig, train_tracker
    from vidseg.training.losses import LossWeights

    try:
        probs = tuple(float(p) for p in args.prompts.split(","))
    except ValueError:
        probs = ()
    if len(probs) != 3:
        raise ConfigError(f"--prompts takes three numbers click,box,mask (e.g. 0.7,0.2,0.1); found {args.prompts!r}")
    if args.threads:
        torch.set_num_threads(args.threads)
    config = TrainConfig(
        out=args.out,
        model=args.model,
        image_size=args.image_size,
        init=args.init,
        steps=args.steps,
        batch_size=args.batch_size,
        clip_len=args.clip_len,
        objects_per_clip=args.objects_per_clip,
        lr=args.lr,
        warmup=args.warmup,
        prompt_probs=(probs[0], probs[1], probs[2]),
        losses=LossWeights(mask=20.0, focal=True) if args.focal else LossWeights(),
        freeze_image_encoder=args.freeze_image_encoder,
        seed=args.seed,
        val_every=args.val_every,
        max_minutes=args.max_minutes,
        anneal_by_time=args.anneal_by_time,
        ema_decay=args.ema_decay,
        resume=args.resume,
        processes=args.processes,
    )
    size = args.image_size or get_model_spec(args.model).default_image_size
    train = load_training_videos(args.data, size)
    val = load_training_videos([args.val], size) if args.val is not None else []
    report = train_tracker(config, train, val)
    best = f"best J&F {report.best_jf:.3f} at step {report.best_step} -> {report.best_path}" if report.best_path else (
        "no validation (give --val)")  # fmt: skip
    log.info("%d steps in %.1f min; %s; resume from %s", report.steps_done, report.seconds / 60, best, report.last_path)
    if report.ema_path is not None:
        scored = f"validation J&F {report.ema_final.jf:.3f}" if report.ema_final is not None else "not validated"
        log.info("weight average (%s) -> %s", scored, report.ema_path)
    return 0


def _train_semantic(args: argparse.Namespace) -> int:
    import torch

    from vidseg.models.semantic.build import semantic_spec
    from vidseg.training.semantic import SemanticTrainConfig, load_semantic_frames, train_semantic

    if args.threads:
        torch.set_num_threads(args.threads)
    config = SemanticTrainConfig(
        out=args.out, model=args.model, input_size=args.input_size, init=args.init, random_init=args.random_init,
        steps=args.steps, batch_size=args.batch_size, lr=args.lr, warmup=args.warmup, dice_weight=args.dice_weight,
        seed=args.seed, val_every=args.val_every, max_minutes=args.max_minutes, resume=args.resume,
    )  # fmt: skip
    size = args.input_size or semantic_spec(args.model).input_size
    classes = [c.strip() for c in args.classes.split(",")] if args.classes else None
    train = load_semantic_frames(args.data, size, annotations=args.labels, classes=classes, every=args.every)
    val = load_semantic_frames([args.val], size, annotations=args.labels, classes=train.classes, every=args.every) if (
        args.val is not None) else None  # fmt: skip
    log.info("training %s on %d frames (%d classes: %s)", args.model, len(train), len(train.classes),
             ", ".join(train.classes))  # fmt: skip
    report = train_semantic(config, train, val)
    best = f"best mIoU {report.best_miou:.4f} at step {report.best_step} -> {report.best_path}" if (
        report.best_path) else "no validation (give --val)"  # fmt: skip
    log.info("%d steps in %.1f min; %s; resume from %s", report.steps_done, report.seconds / 60, best, report.last_path)
    if report.final is not None:
        print(report.final.format(train.classes))
    return 0


def _cache_dir() -> Path | None:
    value = os.environ.get("VIDSEG_CACHE")
    return Path(value) / "checkpoints" if value else None


def _run_demo(args: argparse.Namespace) -> int:
    from vidseg.cli.demo import DemoConfig, run_demo, run_live_demo

    if args.live:
        tracker = _tracker_config(args)
        if args.model is None and args.checkpoint is None and not args.random_weights:
            from dataclasses import replace

            tracker = replace(tracker, model="vidseg_synthetic_tiny", image_size=None)  # offline, fast
        run_live_demo(tracker, args.seconds, cache_dir=_cache_dir(), download=not args.no_download)
        return 0

    config = DemoConfig(
        tracker=_tracker_config(args),
        download=not args.no_download,
        cache_dir=_cache_dir(),
        frames=args.frames,
        objects=args.objects,
        out=args.out,
        # Nothing chosen by flag: without the official checkpoint, run the shipped synthetic model.
        fallback=args.model is None and args.checkpoint is None and not args.random_weights,
        redis=args.redis,
        local_redis=not args.no_redis,
        semantic=args.semantic,
    )
    run_demo(config)
    return 0


def _tracker_config(args: argparse.Namespace) -> Any:
    from vidseg.config import load_config

    flags = {
        "model": args.model,
        "checkpoint": args.checkpoint,
        "random_weights": args.random_weights,
        "image_size": args.image_size,
        "device": args.device,
        "seed": args.seed,
    }
    return load_config(args.config, {"tracker": flags}).tracker


def _run_job(args: argparse.Namespace) -> int:
    # Everything the arguments can be checked against is checked before the models' code (torch)
    # is imported: a bad argument is answered in well under a second.
    from vidseg.cli.signals import SignalBridge
    from vidseg.pipeline.config import JobConfig, SemanticConfig
    from vidseg.pipeline.status import JobStatus
    from vidseg.prompts.router import PromptLimits
    from vidseg.prompts.spec import load_prompt_file, parse_cli_prompts
    from vidseg.sources import PASSWORD_ENV, LiveOptions

    prompts = parse_cli_prompts(args.point, args.box, args.mask)
    if args.prompts is not None:
        prompts += load_prompt_file(args.prompts)
    redis_config = None
    if args.redis is not None:
        from vidseg.sinks.redis.schema import RedisConfig
        from vidseg.sources.base import default_source_id

        source_id = args.source_id or default_source_id(args.source)
        redis_config = RedisConfig(
            args.redis,
            source_id=source_id,
            prefix=args.redis_prefix,
            maxlen=args.redis_maxlen,
            accept_prompts=not args.redis_no_prompts,
            outage_limit=args.redis_wait,
        )
    config = JobConfig(
        source=args.source,
        out=args.out,
        prompts=tuple(prompts),
        tracker=_tracker_config(args),
        every=args.every,
        start=args.start,
        end=args.end,
        image_fps=args.fps,
        davis=args.davis,
        overlay=not args.no_overlay,
        overlay_classes=args.overlay_classes,
        overwrite=args.overwrite,
        live=LiveOptions(transport=args.rtsp_transport, open_timeout=args.open_timeout, read_timeout=args.read_timeout,
                         reconnect_attempts=args.reconnect_attempts, password=os.environ.get(PASSWORD_ENV) or None),
        max_latency=args.max_latency,
        max_frames=args.max_frames,
        duration=args.duration,
        semantic=SemanticConfig(args.semantic, args.semantic_checkpoint, args.semantic_random_weights,
                                args.semantic_size, args.semantic_every,
                                not args.semantic_same_thread) if args.semantic else None,
        track_classes=tuple(args.track_class),
        max_objects=args.max_objects,
        min_region_area=args.min_region_area,
        proposer=args.proposer,
        proposer_checkpoint=args.proposer_checkpoint,
        proposer_random_weights=args.proposer_random_weights,
        limits=PromptLimits(points=args.point_limit, objects=args.object_limit),
        stop_grace=args.stop_grace,
        visible_min_area=args.visible_min_area,
        event_frames=args.event_frames,
        deadline=args.abort_deadline,
        segment_seconds=args.segment_seconds,
        keep_segments=args.keep_segments,
        cache_dir=_cache_dir(),
        download=not args.no_download,
        redis=redis_config,
    )
    from vidseg.pipeline.job import run_job

    with SignalBridge() as signals:
        report = run_job(config, stop=signals.stop, abort=signals.abort, running=signals.running)
    where = f"outputs in {report.out}" if report.out is not None else "published to Redis"
    log.info("%s: %d frames processed in %.1f s; %s", report.status.value, report.frames_processed,
             report.seconds, where)  # fmt: skip
    return 0 if report.status is JobStatus.COMPLETED else signals.exit_code


def _send_prompts(args: argparse.Namespace) -> int:
    import uuid

    import redis

    from vidseg.errors import ConfigError, PromptError
    from vidseg.prompts.spec import parse_cli_prompts
    from vidseg.redact import redact_url
    from vidseg.sinks.redis.client import as_vidseg_error, connect
    from vidseg.sinks.redis.schema import RedisConfig, encode_prompt, encode_removal, encode_track_class

    if args.redis is None:
        raise ConfigError("vidseg prompt needs the run's Redis: give --redis URL or set VIDSEG_REDIS_URL")
    prompts = parse_cli_prompts(args.point, args.box, args.mask)
    if not prompts and not args.remove and not args.track_class:
        raise PromptError("no prompt given: add --point, --box, --mask, --remove or --track-class")
    if any(p.frame is not None or p.time is not None for p in prompts):
        raise PromptError("@WHEN does not apply here: prompts go to the next frame, or use --pts")
    key = RedisConfig(args.redis, source_id=args.source_id, prefix=args.prefix).key("prompts")
    request = args.request_id or uuid.uuid4().hex[:12]
    when = args.pts if args.pts is not None else "next"
    count = len(prompts) + len(args.remove) + len(args.track_class)
    ids = [request if count == 1 else f"{request}-{k}" for k in range(count)]
    entries = [encode_prompt(p.prompt, when, rid) for p, rid in zip(prompts, ids, strict=False)]
    entries += [encode_removal(obj_id, when, rid) for obj_id, rid in zip(args.remove, ids[len(prompts) :], strict=False)]
    entries += [encode_track_class(name, when, rid)
                for name, rid in zip(args.track_class, ids[len(prompts) + len(args.remove) :], strict=True)]
    client = connect(args.redis)
    try:
        status_key = RedisConfig(args.redis, source_id=args.source_id, prefix=args.prefix).key("status")
        last: Any = client.xrevrange(status_key, count=1)
        state = bytes(last[0][1].get(b"state", b"")).decode() if last else None
        if state is None or state in ("stopped", "failed"):
            why = "no run has published a status" if state is None else f"its last run has {state}"
            log.warning("source %r at %s: %s (%s); a run reads only prompts sent while it runs",
                        args.source_id, redact_url(args.redis), why, status_key)  # fmt: skip
        for fields, request_id in zip(entries, ids, strict=True):
            entry = client.xadd(key, fields)  # type: ignore[arg-type]
            print(f"{key} {entry.decode() if isinstance(entry, bytes) else entry} request_id={request_id}")
    except (redis.RedisError, OSError) as exc:
        raise as_vidseg_error(exc, args.redis, f"sending prompts to {key}") from None
    finally:
        client.close()
    return 0


def _info(args: argparse.Namespace) -> int:
    from vidseg.sources import PASSWORD_ENV, LiveOptions, open_source

    source = open_source(args.source, live=LiveOptions(reconnect_attempts=0,
                                                       password=os.environ.get(PASSWORD_ENV) or None))
    try:
        print("\n".join(source.info.lines()))
    finally:
        source.close()
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from vidseg.evaluation import evaluate, format_report, write_report_json

    if args.tracks and args.semantic:
        raise ConfigError("--tracks and --semantic score different label maps; give one of them")
    if args.tracks:
        from vidseg.evaluation.tracks import evaluate_tracks, write_track_report_json

        tracks = evaluate_tracks(args.pred, args.gt, fps=args.fps, iou_threshold=args.iou_threshold)
        print(tracks.format())
        if args.json is not None:
            write_track_report_json(tracks, args.json)
            log.info("report written to %s", args.json)
        return 0
    if args.semantic:
        from vidseg.evaluation.semantic import evaluate_semantic, write_semantic_report_json

        semantic = evaluate_semantic(args.pred, args.gt, fps=args.fps)  # names its classes when the run's manifest does
        print(semantic.format())
        if args.json is not None:
            write_semantic_report_json(semantic, args.json)
            log.info("report written to %s", args.json)
        return 0

    report = evaluate(args.pred, args.gt, bound_th=args.bound_th, keep_first_last=args.keep_first_last,
                      objects=args.objects, fps=args.fps)  # fmt: skip
    print(format_report(report))
    if args.json is not None:
        write_report_json(report, args.json)
        log.info("report written to %s", args.json)
    return 0


def _list_models() -> int:
    from vidseg.models.semantic import SEMANTIC_MODELS
    from vidseg.models.tracking import MODELS

    print("trackers (--model):")
    for spec in MODELS.values():
        print(f"  {spec.name:30s} {spec.description or spec.source}")
    print("semantic models (--semantic):")
    for sem in SEMANTIC_MODELS.values():
        print(f"  {sem.name:30s} {sem.description}")
    print(f"  {'hf:<hub id or folder>':30s} SegFormer, Mask2Former or EoMT checkpoint (pip install 'vidseg[transformers]'; "
          "SegFormer weights: non-commercial use only)")
    return 0


_VALUE_FLAGS = ("--point", "--box", "--mask")


def _join_dashed_values(argv: Sequence[str]) -> list[str]:
    """``--point -3:10,10`` as ``--point=-3:10,10``: argparse would take the value for an option
    and print its usage; the prompt parser then says what is wrong with it."""
    out: list[str] = []
    items = list(argv)
    k = 0
    while k < len(items):
        item = items[k]
        nxt = items[k + 1] if k + 1 < len(items) else None
        if item in _VALUE_FLAGS and nxt is not None and nxt.startswith("-") and not nxt.startswith("--"):
            out.append(f"{item}={nxt}")
            k += 2
            continue
        out.append(item)
        k += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vidseg`` console script (``argv`` None: the process's own arguments).

    Run as the process's own command, it ends the process itself when a run left a thread
    behind (a model step that outlived the abort deadline): the outputs are closed by then, and
    a normal interpreter exit would tear the model's thread pool down under that thread (a C++
    ``terminate``, exit 134)."""
    code = _main(argv)
    if argv is None:
        left = [t.name for t in threading.enumerate() if t.name.startswith("vidseg-") and t.is_alive()]
        if left:
            log.warning("leaving %s behind: the process ends now (exit %d)", ", ".join(left), code)
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return code


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(_join_dashed_values(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.captureWarnings(True)
    try:
        if args.command == "demo":
            return _run_demo(args)
        if args.command == "run":
            return _run_job(args)
        if args.command == "info":
            return _info(args)
        if args.command == "eval":
            return _evaluate(args)
        if args.command == "prompt":
            return _send_prompts(args)
        if args.command == "synth":
            return _synth(args)
        if args.command == "train":
            return _train_semantic(args) if args.what == "semantic" else _train_tracker(args)
        return _list_models()
    except VidsegError as exc:
        print(f"vidseg: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vidseg: interrupted", file=sys.stderr)
        return 130
