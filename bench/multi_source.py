"""Many sources in one process against one process per source: frames/s, peak RSS, live latency.

Part 1: 1, 2 and 4 sources of the same clip, run (a) in one process (``run_sources``: one copy of
the weights, one owner thread for the tracker) and (b) as that many separate processes started
together (each ``run_job`` on its own model; they load first, then start at one signal). Total
frames/s is every source's frames over the span from the first source's first frame to the last
one's end; peak RSS is each child's ``ru_maxrss`` (``os.wait4``), summed over the processes of (b).
The two sides alternate their order from round to round.

Part 2: the RTSP test feed's capture-to-publish latency (Redis entry time minus the frame's decode
time, as ``bench/live_latency.py``) when it runs alone in a process, and with two file sources
beside it in the same process (only the entries published while the files ran count).

Goals: one process with N sources >= 0.95x the total frames/s of N processes; each extra source
adds <= 15% of one source's RSS; the feed's p95 beside two files <= 1.5x its p95 alone.

    python bench/multi_source.py --frames 60 --rounds 2 --live-seconds 20
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from common import print_table

ROOT = Path(__file__).resolve().parents[1]
MODEL = "vidseg_synthetic_tiny"


def _config(source: str, out: Path, click: tuple[float, float], **options: Any) -> Any:
    from vidseg.config import TrackerConfig
    from vidseg.pipeline.config import JobConfig
    from vidseg.prompts.spec import ScheduledPrompt
    from vidseg.types import Prompt

    return JobConfig(source=source, out=out, prompts=(ScheduledPrompt(Prompt(1, points=(click,), labels=(1,))),),
                     tracker=TrackerConfig(model=MODEL, device="cpu"), **options)  # fmt: skip


# ---------------------------------------------------------------------------- workers (child processes)
def worker_many(args: argparse.Namespace) -> dict[str, Any]:
    from vidseg.pipeline.many import run_sources

    click = (args.x, args.y)
    sources = {f"s{k}": _config(args.clip, Path(args.out) / f"s{k}", click) for k in range(args.sources)}
    report = run_sources(sources, progress_every=0)
    spans = []
    for outcome in report.outcomes:
        assert outcome.report is not None, outcome.line()
        spans.append({"frames": outcome.report.frames_processed, "run_seconds": outcome.report.run_seconds})
    return {"spans": spans, "ended": time.time()}


def worker_single(args: argparse.Namespace) -> dict[str, Any]:
    from dataclasses import asdict

    from vidseg.models.tracking import build_model
    from vidseg.pipeline.job import run_job

    config = _config(args.clip, Path(args.out), (args.x, args.y))
    model = build_model(**asdict(config.tracker))
    Path(args.ready).touch()
    while not Path(args.go).exists():
        time.sleep(0.01)
    report = run_job(config, show_progress=False, model=model)
    return {"spans": [{"frames": report.frames_processed, "run_seconds": report.run_seconds}], "ended": time.time()}


def worker_live(args: argparse.Namespace) -> dict[str, Any]:
    import redis

    from vidseg.pipeline.many import run_sources
    from vidseg.sinks.redis.schema import RedisConfig, decode_frame_entry
    from vidseg.sources import LiveOptions

    out = Path(args.out)
    sources = {"cam": _config(args.feed, out / "cam", (160.0, 120.0), duration=args.seconds, live=LiveOptions(),
                              redis=RedisConfig(args.redis, source_id="cam", maxlen=1_000_000))}  # fmt: skip
    for k in range(args.files):
        sources[f"f{k}"] = _config(args.clip, out / f"f{k}", (args.x, args.y),
                                   redis=RedisConfig(args.redis, source_id=f"f{k}", maxlen=1_000_000))  # fmt: skip
    report = run_sources(sources, progress_every=0)
    client = redis.Redis.from_url(args.redis)

    def stored(entry_id: bytes) -> float:
        return int(entry_id.decode().split("-")[0]) / 1000

    window = (0.0, float("inf"))
    if args.files:
        times = [stored(i) for k in range(args.files) for i, _ in client.xrange(f"vidseg:f{k}:frames")]
        window = (min(times), max(times))
    latencies = []
    entries = client.xrange("vidseg:cam:frames")
    first = stored(entries[0][0]) if entries else 0.0
    for entry_id, fields in entries:
        at = stored(entry_id)
        entry = decode_frame_entry(fields)
        if at - first >= 2.0 and window[0] <= at <= window[1] and entry.record.wallclock is not None:
            latencies.append((at - entry.record.wallclock) * 1000)
    client.delete(*[f"vidseg:{sid}:{kind}" for sid in sources for kind in ("frames", "events", "status")])
    client.close()
    files_fps = sum(o.report.frames_processed / o.report.run_seconds for o in report.outcomes
                    if o.source_id != "cam" and o.report is not None and o.report.run_seconds > 0)  # fmt: skip
    return {"latencies": latencies, "files_fps": files_fps, "window": window[1] - window[0] if args.files else None}


# ---------------------------------------------------------------------------- the parent
def _python(args: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)  # fmt: skip


def _finish(proc: subprocess.Popen[str]) -> tuple[dict[str, Any], float]:
    """The child's JSON and its peak RSS in MB (``ru_maxrss``, KiB on Linux)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    out, err = proc.communicate()
    if proc.returncode != 0:
        sys.stderr.write(err[-3000:])
        raise SystemExit(f"a worker failed with exit status {proc.returncode}")
    return dict(json.loads(out.strip().splitlines()[-1])), usage.ru_maxrss / 1024


def _total_fps(results: list[dict[str, Any]]) -> float:
    spans = [(r["ended"] - s["run_seconds"], r["ended"], s["frames"]) for r in results for s in r["spans"]]
    return sum(f for _, _, f in spans) / (max(e for _, e, _ in spans) - min(s for s, _, _ in spans))


def _one_process(common: list[str], n: int, tmp: Path) -> tuple[float, float]:
    result, rss = _finish(_python(["--worker", "many", "--sources", str(n), "--out", str(tmp / f"one{n}"), *common]))
    return _total_fps([result]), rss


def _processes(common: list[str], n: int, tmp: Path) -> tuple[float, float]:
    go = tmp / f"go{n}"
    go.unlink(missing_ok=True)
    procs = []
    for k in range(n):
        ready = tmp / f"ready{n}-{k}"
        ready.unlink(missing_ok=True)
        procs.append((_python(["--worker", "single", "--out", str(tmp / f"p{n}-{k}"), "--ready", str(ready),
                               "--go", str(go), *common]), ready))  # fmt: skip
    while not all(ready.exists() for _, ready in procs):
        if any(p.poll() is not None for p, _ in procs):
            break
        time.sleep(0.05)
    go.touch()
    finished = [_finish(p) for p, _ in procs]
    return _total_fps([r for r, _ in finished]), sum(rss for _, rss in finished)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=60, help="frames of the clip each file source tracks")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--counts", default="1,2,4", help="numbers of sources to compare")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--live-seconds", type=float, default=20.0, help="how long each live run lasts (0: no part 2)")
    parser.add_argument("--live-frames", type=int, default=300, help="frames of each file beside the live feed")
    parser.add_argument("--worker", choices=["many", "single", "live"], default=None, help=argparse.SUPPRESS)
    for name in ("--clip", "--out", "--ready", "--go", "--feed", "--redis"):
        parser.add_argument(name, default=None, help=argparse.SUPPRESS)
    for name in ("--x", "--y", "--seconds"):
        parser.add_argument(name, type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--sources", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--files", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.WARNING)
    if args.worker is not None:
        work = {"many": worker_many, "single": worker_single, "live": worker_live}[args.worker]
        print(json.dumps(work(args)))
        return

    from vidseg.datasets.moving_shapes import moving_shapes_clip, write_clip_video

    counts = [int(c) for c in args.counts.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        clip = moving_shapes_clip(num_frames=args.frames, height=args.height, width=args.width, num_objects=1, seed=0)
        video = write_clip_video(clip, tmp / "clip.mp4", fps=25)
        x, y = clip.center(0, 1)
        common = ["--clip", str(video), "--x", str(x), "--y", str(y)]
        fps: dict[tuple[str, int], list[float]] = {}
        rss: dict[tuple[str, int], list[float]] = {}
        for r in range(args.rounds):
            for n in counts:
                sides = [("one", _one_process), ("procs", _processes)]
                for side, run in sides if (r + n) % 2 == 0 else sides[::-1]:  # alternate the order
                    f, m = run(common, n, tmp)
                    fps.setdefault((side, n), []).append(f)
                    rss.setdefault((side, n), []).append(m)
                    print(f"round {r + 1}, {n} source(s), {side}: {f:.1f} frames/s, peak RSS {m:.0f} MB", flush=True)
        live = _live_part(args, tmp) if args.live_seconds > 0 else None

    med = {k: statistics.median(v) for k, v in fps.items()}
    mem = {k: statistics.median(v) for k, v in rss.items()}
    one_rss = mem[("one", counts[0])] if counts[0] == 1 else float("nan")
    rows = []
    for n in counts:
        ratio = med[("one", n)] / med[("procs", n)]
        extra = (mem[("one", n)] - one_rss) / (n - 1) / one_rss * 100 if n > 1 else float("nan")
        rows.append([n, med[("one", n)], med[("procs", n)], ratio, mem[("one", n)], mem[("procs", n)],
                     "-" if n == 1 else f"{extra:.1f}%"])  # fmt: skip
    print(f"\n{MODEL}, {args.frames} frames of {args.width}x{args.height} per source, median of {args.rounds} rounds, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    print_table(["sources", "one process fps", "N processes fps", "ratio", "one process RSS MB", "N processes RSS MB",
                 "RSS per extra source"], rows)  # fmt: skip
    for n, _, _, ratio, _, _, extra in rows:
        if n > 1:
            share = float(str(extra).rstrip("%"))
            print(f"goal {n} sources: frames/s >= 0.95x: {'met' if ratio >= 0.95 else 'NOT met'} ({ratio:.2f}x); "
                  f"each extra source <= 15% RSS: {'met' if share <= 15 else 'NOT met'} ({share:.1f}%)")  # fmt: skip
    if live is not None:
        alone, beside, files_fps = live
        print(f"\nlive feed (RTSP test feed 320x240 at 25 fps), capture-to-publish from decoding, "
              f"{args.live_seconds:.0f} s per run")  # fmt: skip
        print_table(["run", "entries", "p50 ms", "p95 ms", "max ms"],
                    [[name, len(v), statistics.median(v), _p95(v), max(v)] for name, v in
                     (("alone", alone), ("beside 2 file sources", beside))])  # fmt: skip
        ratio = _p95(beside) / _p95(alone)
        print(f"the files beside it ran at {files_fps:.1f} frames/s in all")
        print(f"goal: p95 beside two files <= 1.5x alone: {'met' if ratio <= 1.5 else 'NOT met'} ({ratio:.2f}x)")


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.95 * (len(ordered) - 1))]


def _live_part(args: argparse.Namespace, tmp: Path) -> tuple[list[float], list[float], float]:
    from vidseg.datasets.moving_shapes import moving_shapes_clip, write_clip_video
    from vidseg.devtools.redis_server import LocalRedisServer
    from vidseg.devtools.rtsp_feed import RtspTestFeed

    clip = moving_shapes_clip(num_frames=args.live_frames, height=args.height, width=args.width, num_objects=1, seed=1)
    video = write_clip_video(clip, tmp / "long.mp4", fps=25)
    x, y = clip.center(0, 1)
    alone: list[float] = []
    beside: list[float] = []
    files_fps = 0.0
    with LocalRedisServer() as server, RtspTestFeed() as feed:
        for r in range(args.rounds):
            for files in (0, 2) if r % 2 == 0 else (2, 0):
                proc = _python(["--worker", "live", "--feed", feed.url, "--redis", server.url, "--files", str(files),
                                "--clip", str(video), "--x", str(x), "--y", str(y), "--seconds", str(args.live_seconds),
                                "--out", str(tmp / f"live{r}-{files}")])  # fmt: skip
                result, _ = _finish(proc)
                (beside if files else alone).extend(result["latencies"])
                files_fps = result["files_fps"] if files else files_fps
                print(f"round {r + 1}, live feed with {files} file(s): p95 {_p95(result['latencies']):.0f} ms over "
                      f"{len(result['latencies'])} entries", flush=True)  # fmt: skip
    return alone, beside, files_fps


if __name__ == "__main__":
    main()
