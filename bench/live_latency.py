"""Capture-to-publish latency of a live run, its drops and its memory, against the loopback RTSP feed.

Runs `run_job` on the RTSP test feed (25 fps) with Redis output for --seconds (at least 120 for the
goal), then reads every frame entry back: latency = the entry's Redis ID time (when Redis stored
it) minus the frame's capture time (its ``wallclock``, taken when it was decoded). Prints p50 /
p95 / max latency, the drop rate, the model's step time and decode time, and RSS sampled every 5 s.

Goals: p95 latency <= one model step + one decode + 50 ms; RSS flat (<= 20 MB growth after the
first 30 s).

    python bench/live_latency.py --seconds 130 --model vidseg_synthetic_tiny
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import psutil
import redis
from common import print_table

from vidseg.config import TrackerConfig
from vidseg.pipeline.job import JobConfig, run_job
from vidseg.prompts.spec import ScheduledPrompt
from vidseg.sinks.redis.local_server import LocalRedisServer
from vidseg.sinks.redis.schema import RedisConfig, decode_frame_entry
from vidseg.sources import LiveOptions
from vidseg.sources.test_feed import RtspTestFeed
from vidseg.types import Prompt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=130.0)
    parser.add_argument("--model", default="vidseg_synthetic_tiny")
    parser.add_argument("--random-weights", action="store_true")
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--fps", type=int, default=25)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.WARNING)
    process = psutil.Process()
    rss: list[tuple[float, float]] = []
    with LocalRedisServer() as server, RtspTestFeed(fps=args.fps) as feed, tempfile.TemporaryDirectory() as tmp:
        config = JobConfig(
            source=feed.url, out=Path(tmp) / "out",
            prompts=(ScheduledPrompt(Prompt(1, points=((160.0, 120.0),), labels=(1,))),),
            tracker=TrackerConfig(model=args.model, random_weights=args.random_weights, image_size=args.image_size),
            redis=RedisConfig(server.url, source_id="bench", maxlen=1_000_000),
            live=LiveOptions(), duration=args.seconds,
        )  # fmt: skip
        reports: list[Any] = []
        thread = threading.Thread(target=lambda: reports.append(run_job(config, show_progress=False)))
        started = time.monotonic()
        thread.start()
        while thread.is_alive():
            rss.append((time.monotonic() - started, process.memory_info().rss / 2**20))
            thread.join(5.0)
        client = redis.Redis.from_url(server.url)
        entries = client.xrange("vidseg:bench:frames")
        client.close()
        manifest = (Path(tmp) / "out" / "manifest.json").read_text()
    report = reports[0]
    latencies, dropped = [], 0
    for entry_id, fields in entries:
        entry = decode_frame_entry(fields)
        stored = int(entry_id.decode().split("-")[0]) / 1000
        if entry.record.wallclock is not None:
            latencies.append((stored - entry.record.wallclock) * 1000)
        dropped += entry.context.dropped

    data = json.loads(manifest)
    timings = data["timings"]
    step = 1000 * timings["track"]["busy_seconds"] / max(1, timings["track"]["items"])
    decode = 1000 * data["decode_seconds"] / max(1, data["frames"]["read"])  # decoding only, not waiting for data
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    after30 = [mb for t, mb in rss if t >= 30]
    growth = (max(after30) - after30[0]) if after30 else float("nan")
    print(f"{args.model}{' (random weights)' if args.random_weights else ''}, RTSP feed 320x240 at {args.fps} fps, "
          f"{args.seconds:.0f} s, {report.frames_processed} frames processed, 2 CPU threads")  # fmt: skip
    print_table(["measure", "value"], [
        ["latency p50 (ms)", p50], ["latency p95 (ms)", p95], ["latency max (ms)", latencies[-1]],
        ["model step (ms)", step], ["decode (ms)", decode],
        ["frames dropped", dropped], ["drop rate", dropped / max(1, dropped + len(entries))],
        ["RSS at 30 s (MiB)", after30[0] if after30 else float("nan")], ["RSS growth after 30 s (MiB)", growth],
    ])  # fmt: skip
    bound = step + decode + 50
    print(f"goal: p95 <= step + decode + 50 ms = {bound:.0f} ms: {'met' if p95 <= bound else 'NOT met'} "
          f"(p95 {p95:.0f} ms); RSS growth <= 20 MiB: {'met' if growth <= 20 else 'NOT met'} ({growth:.1f} MiB)")


if __name__ == "__main__":
    main()
