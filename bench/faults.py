"""Fault injection: every fault of issues 18 and 24 against the real command line, in one go.

Each fault runs `vidseg` (random weights at 64 px, generated clips, a private redis-server) and
checks what a user would see; the script prints one table row per fault: fault, expected,
observed, pass. Exit status 1 when any row fails.

    python bench/faults.py            # about 4 minutes on 2 CPU cores
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import redis
from common import print_table
from PIL import Image

from vidseg.datasets.moving_shapes import moving_shapes_clip, write_clip_video
from vidseg.devtools.redis_server import LocalRedisServer
from vidseg.formats.label_video import read_label_video
from vidseg.models.tracking.registry import SYNTHETIC_MODEL
from vidseg.sinks.redis.schema import encode_prompt
from vidseg.types import Prompt

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--random-weights", "--image-size", "64"]
Row = tuple[str, str, str, bool]


def vidseg(*args: str, cwd: Path, wait: bool = True) -> subprocess.CompletedProcess[str] | subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VIDSEG_CACHE": str(cwd / "cache")}
    command = [sys.executable, "-m", "vidseg", *args]
    if not wait:
        return subprocess.Popen(command, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return subprocess.run(command, cwd=cwd, env=env, text=True, capture_output=True, timeout=300)


def one_line(proc: subprocess.CompletedProcess[str] | subprocess.Popen[str], stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("vidseg: error:")]
    clean = "Traceback" not in stderr and "usage:" not in stderr
    return f"exit {proc.returncode}, {len(errors)} error line(s){'' if clean else ', TRACEBACK'}: {errors[0][15:75] if errors else ''}"


def bad_input(name: str, args: list[str], expect: str, work: Path) -> Row:
    proc = vidseg(*args, cwd=work)
    assert isinstance(proc, subprocess.CompletedProcess)
    observed = one_line(proc, proc.stderr)
    ok = proc.returncode == 2 and "Traceback" not in proc.stderr and expect in proc.stderr
    return name, f"exit 2, one line with '{expect}'", observed, ok


def wait_for(condition: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.02)


def main() -> int:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        long_clip = write_clip_video(moving_shapes_clip(num_frames=400, height=136, width=320, num_objects=1, seed=6),
                                     work / "long.mp4", fps=25)  # fmt: skip
        short = write_clip_video(moving_shapes_clip(num_frames=20, height=48, width=64, num_objects=1, seed=1),
                                 work / "short.mp4", fps=25)  # fmt: skip
        rows += [killed(long_clip, work, after) for after in (42, 200)]
        with LocalRedisServer() as server:
            rows.append(redis_killed_then_two_ctrl_c(long_clip, work, server))
        with LocalRedisServer() as server:
            rows.append(redis_outage(long_clip, work, server))
        with LocalRedisServer() as server:
            rows.append(redis_prompts(long_clip, work, server))
        rows.append(ts_seek(work))
        junk = work / "junk.pt"
        junk.write_bytes(os.urandom(2048))
        (work / "binary.json").write_bytes(b"\x89PNG\x00\xff")
        (work / "deep.json").write_bytes(b"[" * 5000 + b"]" * 5000)
        (work / "bad.yaml").write_text("tracker: 5\n")
        folder = work / "mixed"
        folder.mkdir()
        for k, width in enumerate((64, 64, 80)):
            Image.fromarray(np.zeros((48, width, 3), np.uint8)).save(folder / f"{k:05d}.jpg")
        audio = work / "sound.mka"
        with av.open(str(audio), "w") as out:
            stream = out.add_stream("pcm_s16le", rate=8000)
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 8000, 0, Fraction(1, 8000)
            for packet in [*stream.encode(frame), *stream.encode()]:
                out.mux(packet)
        run = ["run", str(short), "--out", str(work / "bad")]
        rows += [
            bad_input("checkpoint of another architecture",
                      [*run, "--point", "5,5", "--model", "sam2.1_hiera_tiny", "--checkpoint", str(SYNTHETIC_MODEL.bundled)],
                      "another architecture", work),
            bad_input("random file as checkpoint", [*run, "--point", "5,5", "--checkpoint", str(junk)],
                      "not a PyTorch checkpoint", work),
            bad_input("binary --prompts", [*run, "--prompts", str(work / "binary.json"), *FAST], "is not text", work),
            bad_input("--prompts nested 5,000 deep", [*run, "--prompts", str(work / "deep.json"), *FAST],
                      "nested too deeply", work),
            bad_input("image folder of mixed sizes", ["run", str(folder), "--out", str(work / "m"), "--point", "5,5", *FAST],
                      "00002.jpg", work),
            bad_input("audio-only file", ["info", str(audio)], "audio (pcm_s16le)", work),
            bad_input("--point -3:100,100", [*run, "--point", "-3:100,100", *FAST], "cannot read --point", work),
            bad_input("--start=-1", [*run, "--point", "5,5", "--start=-1", *FAST], "--start must be", work),
            bad_input("config section of the wrong type", [*run, "--point", "5,5", "--config", str(work / "bad.yaml"), *FAST],
                      "must be a mapping", work),
        ]  # fmt: skip
        rows += issue24(work, short, long_clip)
        first = vidseg(*run, "--point", "5,5", *FAST, cwd=work)
        again = vidseg(*run, "--point", "5,5", "--no-overlay", *FAST, cwd=work)
        assert isinstance(again, subprocess.CompletedProcess) and isinstance(first, subprocess.CompletedProcess)
        rows.append(("re-run into a used --out", "refused without --overwrite", one_line(again, again.stderr),
                     first.returncode == 0 and again.returncode == 2 and "--overwrite" in again.stderr))  # fmt: skip
    print_table(["fault", "expected", "observed", "pass"], [[*row[:3], "yes" if row[3] else "NO"] for row in rows])
    failed = [row[0] for row in rows if not row[3]]
    print(f"{len(rows) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def killed(clip: Path, work: Path, after: int) -> Row:
    out = work / f"killed{after}"
    proc = vidseg("run", str(clip), "--out", str(out), "--point", "160,68", *FAST, cwd=work, wait=False)
    jsonl = out / "objects.jsonl"
    wait_for(lambda: jsonl.exists() and jsonl.read_bytes().count(b"\n") >= after)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    lines = jsonl.read_bytes().count(b"\n")
    labels = len(list(read_label_video(out / "masks.mkv")))
    with av.open(str(out / "overlay.mp4")) as overlay:
        shown = sum(1 for _ in overlay.decode(video=0))
    manifest = json.loads((out / "manifest.json").read_text())
    observed = (f"{lines} JSON lines, masks.mkv {labels} frames, overlay {shown}, manifest "
                f"'{manifest['status']}' at {manifest['frames']['processed']}")  # fmt: skip
    ok = labels >= lines - 30 and shown >= lines - 55 and manifest["frames"]["processed"] >= lines - 55
    return f"SIGKILL after {after} frames", "outputs readable up to ~1-2 s before", observed, ok


def redis_killed_then_two_ctrl_c(clip: Path, work: Path, server: LocalRedisServer) -> Row:
    out = work / "ctrl-c"
    client = redis.Redis.from_url(server.url)
    proc = vidseg("run", str(clip), "--out", str(out), "--redis", server.url, "--source-id", "k", "--point", "160,68",
                  *FAST, cwd=work, wait=False)  # fmt: skip
    wait_for(lambda: bool(client.exists("vidseg:k:frames")) and client.xlen("vidseg:k:frames") >= 10)
    client.close()
    server.stop(signal.SIGKILL)
    time.sleep(1.0)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    took = time.monotonic() - started
    manifest = json.loads((out / "manifest.json").read_text())
    labels = len(list(read_label_video(out / "masks.mkv")))
    observed = f"ended in {took:.1f} s, exit {proc.returncode}, '{manifest['status']}', masks.mkv {labels} frames"
    ok = took < 15 and proc.returncode == 130 and manifest["status"] == "aborted" and "Traceback" not in stderr
    return "Redis killed, then Ctrl-C twice", "ends < 15 s, aborted, outputs decode", observed, ok


def redis_outage(clip: Path, work: Path, server: LocalRedisServer) -> Row:
    out = work / "outage"
    client = redis.Redis.from_url(server.url)
    proc = vidseg("run", str(clip), "--out", str(out), "--redis", server.url, "--source-id", "o", "--redis-wait", "3",
                  "--point", "160,68", *FAST, cwd=work, wait=False)  # fmt: skip
    wait_for(lambda: bool(client.exists("vidseg:o:frames")) and client.xlen("vidseg:o:frames") >= 30)
    client.close()
    server.stop(signal.SIGKILL)
    proc.communicate(timeout=240)
    manifest = json.loads((out / "manifest.json").read_text())
    observed = (f"exit {proc.returncode}, '{manifest['status']}', sent {manifest['redis']['sent']}, "
                f"not sent {manifest['redis']['not_sent']}")  # fmt: skip
    ok = proc.returncode != 0 and manifest["status"] == "failed" and manifest["redis"]["not_sent"] > 0
    return "Redis killed at frame 30, left down", "fails after --redis-wait, counts not sent", observed, ok


def redis_prompts(clip: Path, work: Path, server: LocalRedisServer) -> Row:
    client = redis.Redis.from_url(server.url)
    key = "vidseg:p:prompts"
    proc = vidseg("run", str(clip), "--redis", server.url, "--source-id", "p", *FAST, cwd=work, wait=False)
    wait_for(lambda: bool(client.exists("vidseg:p:status")))
    time.sleep(0.1)  # a run with no object races through its frames: send while it runs
    client.xadd(key, {"schema_version": "1", "prompt": b"\xff\xfe"})
    client.xadd(key, {"schema_version": "1", "prompt": "[" * 5000 + "]" * 5000})
    client.xadd(key, {"schema_version": "1", "prompt": json.dumps({"id": 2, "mask": {"size": [40000, 40000], "counts": "0"}})})
    client.xadd(key, {"schema_version": "999", "prompt": json.dumps({"id": 2, "points": [[5, 5]]})})
    client.xadd(key, encode_prompt(Prompt(3, points=((30.0, 20.0),), labels=(1,)), request_id="ok"))

    def events() -> list[dict[str, object]]:
        return [json.loads(fields[b"event"]) for _, fields in client.xrange("vidseg:p:events")]

    with contextlib.suppress(TimeoutError):  # the row says what came
        wait_for(lambda: sum(1 for e in events() if str(e["kind"]).startswith("prompt")) >= 5, timeout=60)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    found = events()
    client.close()
    kinds = [(e["kind"], e["request_id"]) for e in found if str(e["kind"]).startswith("prompt")]
    rejected = sum(1 for kind, _ in kinds if kind == "prompt_rejected")
    ok = rejected == 4 and ("prompt_applied", "ok") in kinds and proc.returncode in (0, 130)
    return ("bad Redis prompts (not UTF-8, deep, 40000x40000 RLE, schema 999)", "4 rejected, the next applied",
            f"{rejected} rejected, applied: {[r for k, r in kinds if k == 'prompt_applied']}, exit {proc.returncode}",
            ok)  # fmt: skip


def issue24(work: Path, short: Path, long_clip: Path) -> list[Row]:
    """Issue 24's faults: bounded prompts, long steps, a full disk, pixel formats, rates, counts."""
    rows: list[Row] = []
    many = work / "many.json"
    many.write_text(json.dumps([{"id": k, "points": [[5, 5]]} for k in range(1, 10_001)]))
    started = time.monotonic()
    proc = vidseg("run", str(short), "--out", str(work / "many"), "--prompts", str(many), *FAST, cwd=work)
    assert isinstance(proc, subprocess.CompletedProcess)
    took = time.monotonic() - started
    rows.append(("prompts file with 10,000 ids", "exit 2 at once, names --object-limit",
                 f"{one_line(proc, proc.stderr)[:60]} in {took:.1f} s",
                 proc.returncode == 2 and "--object-limit" in proc.stderr and took < 30))  # fmt: skip
    with LocalRedisServer() as server:
        client = redis.Redis.from_url(server.url)
        proc = vidseg("run", str(long_clip), "--redis", server.url, "--source-id", "big", "--point", "160,68", *FAST,
                      cwd=work, wait=False)  # fmt: skip
        wait_for(lambda: bool(client.exists("vidseg:big:frames")) and client.xlen("vidseg:big:frames") >= 5)
        clicks = [[float(k % 300), float(k % 130)] for k in range(200_000)]
        client.xadd("vidseg:big:prompts", {"schema_version": "2", "request_id": "huge",
                                           "prompt": json.dumps({"id": 2, "points": clicks})})  # fmt: skip
        client.xadd("vidseg:big:prompts", {"schema_version": "2", "request_id": "v2",
                                           "prompt": json.dumps({"id": 3, "box": [10, 10, 60, 60]})})  # fmt: skip
        proc.communicate(timeout=240)
        events = [json.loads(fields[b"event"]) for _, fields in client.xrange("vidseg:big:events")]
        client.close()
    answers = {e["request_id"]: (e["kind"], e["detail"]) for e in events if str(e["kind"]).startswith("prompt")}
    huge, v2 = answers.get("huge", ("none", "")), answers.get("v2", ("none", ""))
    rows.append(("Redis prompt with 200,000 clicks; then a schema-2 box with request_id as a field",
                 "rejected naming --point-limit; the box applied; run completes",
                 f"{huge[0]} ({huge[1][:40]}), {v2[0]}, exit {proc.returncode}",
                 huge[0] == "prompt_rejected" and "--point-limit" in huge[1] and v2[0] == "prompt_applied"
                 and proc.returncode == 0))  # fmt: skip
    started = time.monotonic()
    proc = vidseg("run", str(short), "--out", str(work / "slow"), "--point", "5,5", "--model", "sam2.1_hiera_tiny",
                  "--random-weights", "--image-size", "1024", "--duration", "1", "--stop-grace", "1",
                  "--abort-deadline", "1", cwd=work)  # fmt: skip
    assert isinstance(proc, subprocess.CompletedProcess)
    took = time.monotonic() - started
    manifest = json.loads((work / "slow" / "manifest.json").read_text())
    rows.append(("--duration 1 while one model step takes seconds", "aborted, exit 130, no C++ abort, on time",
                 f"exit {proc.returncode}, '{manifest['status']}' in {took:.1f} s",
                 proc.returncode == 130 and manifest["status"] == "aborted" and "terminate" not in proc.stderr))  # fmt: skip
    rows.append(full_disk(work))
    folder = work / "grey16"
    folder.mkdir()
    ramp = (np.arange(48 * 64, dtype=np.uint16).reshape(48, 64) * 21).astype(np.uint16)
    for k in range(3):
        Image.fromarray(ramp).save(folder / f"{k:05d}.png")  # uint16: a 16-bit grey PNG
    from vidseg.sources import open_source

    source = open_source(str(folder))
    image = next(iter(source)).image
    source.close()
    rows.append(("16-bit grey PNG folder", "scaled to 8 bits, not white",
                 f"{source.info.pix_fmt}, values {int(image.min())}..{int(image.max())}",
                 int(image.max()) == int(ramp.max()) >> 8 and int(image.min()) == 0))  # fmt: skip
    proc = vidseg("run", str(short), "--out", str(work / "mf"), "--point", "5,5", "--max-frames", "5", *FAST, cwd=work)
    assert isinstance(proc, subprocess.CompletedProcess)
    frames = json.loads((work / "mf" / "manifest.json").read_text())["frames"]
    rows.append(("--max-frames 5 on an intact file", "no 'damaged', missing none, abandoned counted",
                 f"missing {frames['missing']}, abandoned {frames['abandoned']}",
                 "damaged" not in proc.stderr and frames["missing"] is None))  # fmt: skip
    proc = vidseg("run", str(short), "--out", str(work / "late"), "--point", "5,5", "--start", "999", *FAST, cwd=work)
    assert isinstance(proc, subprocess.CompletedProcess)
    rows.append(("--start past the end", "exit 2, no output folder left",
                 f"{one_line(proc, proc.stderr)[:50]}, folder {'left' if (work / 'late').exists() else 'none'}",
                 proc.returncode == 2 and not (work / "late").exists()))  # fmt: skip
    started = time.monotonic()
    proc = vidseg("run", str(short), "--out", str(work / "e"), "--point", "5,5", "--every", "0", cwd=work)
    assert isinstance(proc, subprocess.CompletedProcess)
    took = time.monotonic() - started
    rows.append(("a bad argument (--every 0)", "answered in under 1 s", f"{one_line(proc, proc.stderr)[:40]} in "
                 f"{took:.2f} s", proc.returncode == 2 and took < 1.0))  # fmt: skip
    return rows


def full_disk(work: Path) -> Row:
    """A run whose disk fills (a 200 KB tmpfs in a private mount namespace)."""
    disk = work / "disk"
    disk.mkdir()
    clip = write_clip_video(moving_shapes_clip(num_frames=120, height=240, width=320, num_objects=1, seed=4),
                            work / "disk.mp4", fps=25)  # fmt: skip
    inner = (f"mount -t tmpfs -o size=200k none {disk} && {sys.executable} -m vidseg run {clip} --out {disk}/o "
             f"--point 100,100 --model vidseg_synthetic_tiny; code=$?; cp -r {disk}/o {work}/disk-copy; exit $code")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VIDSEG_CACHE": str(work / "cache")}
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", inner], env=env, capture_output=True, text=True, timeout=300)
    if not (work / "disk-copy").is_dir():
        return "full disk", "one line, manifest failed, no partial", "could not mount a tmpfs (unshare)", False
    manifest = json.loads((work / "disk-copy" / "manifest.json").read_text())
    partial = list((work / "disk-copy").glob(".*partial"))
    observed = f"{one_line(proc, proc.stderr)[:45]}; manifest '{manifest['status']}', {len(partial)} partial"
    ok = proc.returncode == 2 and manifest["status"] == "failed" and not partial and "Traceback" not in proc.stderr
    return "full disk (200 KB tmpfs)", "one line, manifest failed, no partial", observed, ok


def ts_seek(work: Path) -> Row:
    path = work / "start10.ts"
    clip = moving_shapes_clip(num_frames=50, height=48, width=64, num_objects=1, seed=2)
    with av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 25)
        stream.options = {"g": "250", "keyint_min": "250", "sc_threshold": "0"}
        for k, image in enumerate(clip.frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = 250 + k, Fraction(1, 25)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    out_dir = work / "ts"
    proc = vidseg("run", str(path), "--out", str(out_dir), "--start", "0.4", "--end", "0.8", "--point", "30,20", *FAST,
                  cwd=work)  # fmt: skip
    times = [round(f.time, 2) for f in read_label_video(out_dir / "masks.mkv")] if proc.returncode == 0 else []
    with av.open(str(out_dir / "overlay.mp4")) as overlay:
        shown = [round(float(f.time), 2) for f in overlay.decode(video=0)]
    ok = len(times) == 11 and times[0] == 10.4 and shown == times
    return "MPEG-TS from 10 s, keyframe every 250, --start 0.4 --end 0.8", "11 frames, same times everywhere", \
        f"{len(times)} frames, masks {times[:1]}..{times[-1:]}, overlay {shown[:1]}..", ok


if __name__ == "__main__":
    sys.exit(main())
