"""Capture-to-publish latency of a live run, its drops and its memory, against the loopback RTSP feed.

Runs `run_job` on the RTSP test feed (25 fps) with Redis output for --seconds (at least 120 for the
goal), then reads every frame entry back. Latency is the entry's Redis ID time (when Redis stored
it) minus the frame's capture time, two ways:

- from decoding: the frame's ``wallclock`` (when it was decoded here);
- from the sender's clock: its ``sender_wallclock`` (from the feed's RTCP sender reports), for the
  entries that have one. The feed runs on this machine, so its clock is ours and the difference
  is the whole capture-to-publish time, including the transport and the frames the decoder holds
  (a frame's wallclock misses both, and misses how late a burst after a freeze is).

Prints p50 / p95 / max of both, the drop rate, the model's step time and decode time, and RSS
sampled every 5 s. ``--freeze-every S --freeze-for S`` stops the feed's process (SIGSTOP) for a
while every so often, the freeze whose late burst ``--max-latency`` should drop.

Goals: p95 latency (from decoding) <= one model step + one decode + 50 ms; RSS flat (<= 20 MB
growth after the first 30 s).

    python bench/live_latency.py --seconds 130 --model vidseg_synthetic_tiny
    python bench/live_latency.py --seconds 60 --freeze-every 15 --freeze-for 3 --max-latency 1
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
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
from vidseg.devtools.redis_server import LocalRedisServer
from vidseg.devtools.rtsp_feed import RtspTestFeed
from vidseg.pipeline.job import JobConfig, run_job
from vidseg.prompts.spec import ScheduledPrompt
from vidseg.sinks.redis.schema import RedisConfig, decode_frame_entry
from vidseg.sources import LiveOptions
from vidseg.types import Prompt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=130.0)
    parser.add_argument("--model", default="vidseg_synthetic_tiny")
    parser.add_argument("--random-weights", action="store_true")
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--max-latency", type=float, default=None, help="the run's --max-latency (seconds)")
    parser.add_argument("--freeze-every", type=float, default=None, help="freeze the feed every S seconds ...")
    parser.add_argument("--freeze-for", type=float, default=3.0, help="... for S seconds (below the read timeout)")
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
            live=LiveOptions(), duration=args.seconds, max_latency=args.max_latency,
        )  # fmt: skip
        reports: list[Any] = []
        thread = threading.Thread(target=lambda: reports.append(run_job(config, show_progress=False)))
        started = time.monotonic()
        thread.start()
        next_sample, next_freeze, freezes = started, started + (args.freeze_every or float("inf")), 0
        while thread.is_alive():
            now = time.monotonic()
            if now >= next_sample:
                rss.append((now - started, process.memory_info().rss / 2**20))
                next_sample += 5.0
            if now >= next_freeze and now + args.freeze_for < started + args.seconds:
                feed.send(signal.SIGSTOP)
                time.sleep(args.freeze_for)
                feed.send(signal.SIGCONT)
                freezes += 1
                next_freeze += args.freeze_every or float("inf")
            thread.join(max(0.0, min(next_sample, next_freeze) - time.monotonic()))
        client = redis.Redis.from_url(server.url)
        entries = client.xrange("vidseg:bench:frames")
        client.close()
        manifest = (Path(tmp) / "out" / "manifest.json").read_text()
    report = reports[0]
    latencies, from_sender, dropped = [], [], 0
    for entry_id, fields in entries:
        entry = decode_frame_entry(fields)
        stored = int(entry_id.decode().split("-")[0]) / 1000
        if entry.record.wallclock is not None:
            latencies.append((stored - entry.record.wallclock) * 1000)
        if entry.record.sender_wallclock is not None:
            from_sender.append((stored - entry.record.sender_wallclock) * 1000)
        dropped += entry.context.dropped

    data = json.loads(manifest)
    timings = data["timings"]
    step = 1000 * timings["track"]["busy_seconds"] / max(1, timings["track"]["items"])
    decode = 1000 * data["decode_seconds"] / max(1, data["frames"]["read"])  # decoding only, not waiting for data
    latencies.sort()
    from_sender.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    nan = float("nan")
    s50 = statistics.median(from_sender) if from_sender else nan
    s95 = from_sender[int(0.95 * (len(from_sender) - 1))] if from_sender else nan
    after30 = [mb for t, mb in rss if t >= 30]
    growth = (max(after30) - after30[0]) if after30 else float("nan")
    print(f"{args.model}{' (random weights)' if args.random_weights else ''}, RTSP feed 320x240 at {args.fps} fps, "
          f"{args.seconds:.0f} s, {report.frames_processed} frames processed, 2 CPU threads"
          f"{f', {freezes} freezes of {args.freeze_for:g} s' if freezes else ''}"
          f"{f', --max-latency {args.max_latency:g}' if args.max_latency is not None else ''}")  # fmt: skip
    print_table(["measure", "value"], [
        ["latency from decoding p50 (ms)", p50], ["latency from decoding p95 (ms)", p95],
        ["latency from decoding max (ms)", latencies[-1]],
        ["latency from the sender's clock p50 (ms)", s50], ["latency from the sender's clock p95 (ms)", s95],
        ["latency from the sender's clock max (ms)", from_sender[-1] if from_sender else nan],
        ["entries with the sender's time", f"{len(from_sender)} of {len(entries)}"],
        ["model step (ms)", step], ["decode (ms)", decode],
        ["frames dropped", dropped], ["drop rate", dropped / max(1, dropped + len(entries))],
        ["RSS at 30 s (MiB)", after30[0] if after30 else float("nan")], ["RSS growth after 30 s (MiB)", growth],
    ])  # fmt: skip
    bound = step + decode + 50
    print(f"goal: p95 (from decoding) <= step + decode + 50 ms = {bound:.0f} ms: {'met' if p95 <= bound else 'NOT met'} "
          f"(p95 {p95:.0f} ms); RSS growth <= 20 MiB: {'met' if growth <= 20 else 'NOT met'} ({growth:.1f} MiB)")


if __name__ == "__main__":
    main()
