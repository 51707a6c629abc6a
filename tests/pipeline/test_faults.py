"""The run always ends, closes its outputs and says how: Redis killed and two Ctrl-C, a permanent
Redis error, a Redis-only run that writes nothing to disk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import pytest
import redis

from vidseg.config import TrackerConfig
from vidseg.datasets.moving_shapes import moving_shapes_clip, write_clip_video
from vidseg.errors import PipelineError
from vidseg.formats.label_video import read_label_video
from vidseg.pipeline.job import JobConfig, JobStatus, run_job
from vidseg.prompts.spec import ScheduledPrompt
from vidseg.sinks.redis.schema import RedisConfig, decode_entry
from vidseg.types import Prompt

pytestmark = pytest.mark.timeout(300)
ROOT = Path(__file__).resolve().parents[2]
CLICK = ScheduledPrompt(Prompt(1, points=((100.0, 100.0),), labels=(1,)))


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clip = moving_shapes_clip(num_frames=400, height=120, width=160, num_objects=1, seed=11, fps=25)
    return write_clip_video(clip, tmp_path_factory.mktemp("clip") / "clip.mp4", fps=25)


def _frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def _wait_for(condition: object, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _vidseg(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "vidseg", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def _vidseg_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("vidseg-")]


def test_redis_killed_mid_run_then_two_ctrl_c_end_the_process_within_15_s(long_clip, tmp_path, redis_server):
    """Redis dies mid-run and stays down. The first Ctrl-C stops reading and the run waits for
    Redis to take its backlog; the second aborts that wait. The process ends within 15 s of the
    first Ctrl-C, with playable videos and a manifest saying ``aborted``."""
    client = redis.Redis.from_url(redis_server.url)
    out = tmp_path / "o"
    proc = _vidseg("run", str(long_clip), "--out", str(out), "--redis", redis_server.url, "--source-id", "k",
                   "--point", "100,100", "--random-weights", "--image-size", "64", cwd=tmp_path)  # fmt: skip
    try:
        _wait_for(lambda: client.exists("vidseg:k:frames") and client.xlen("vidseg:k:frames") >= 10)
        redis_server.stop(signal.SIGKILL)
        time.sleep(1.0)  # the run goes on; the publisher's backlog grows
        first = time.monotonic()
        proc.send_signal(signal.SIGINT)
        time.sleep(1.5)
        assert proc.poll() is None  # still waiting for Redis to take the backlog
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
        took = time.monotonic() - first
    finally:
        if proc.poll() is None:
            proc.kill()
        client.close()
    assert took < 15, took
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "aborted"
    processed = manifest["frames"]["processed"]
    assert 10 <= processed < 400
    assert len(list(read_label_video(out / "masks.mkv"))) == processed
    assert _frames(out / "overlay.mp4") == processed
    assert manifest["redis"]["sent"] + manifest["redis"]["not_sent"] == processed


def test_abort_while_a_full_backlog_waits_on_a_dead_redis_leaves_no_thread(long_clip, tmp_path, redis_server):
    """In-process: a small lossless backlog fills while Redis is down, so the write stage waits;
    stop, then abort, end the run within seconds and no thread of it is left."""
    client = redis.Redis.from_url(redis_server.url)
    stop, abort = threading.Event(), threading.Event()
    config = JobConfig(
        source=str(long_clip), out=tmp_path / "o", prompts=(CLICK,),
        tracker=TrackerConfig(random_weights=True, image_size=64, device="cpu"),
        redis=RedisConfig(redis_server.url, source_id="bk", backlog=3, heartbeat=0.2),
    )  # fmt: skip
    reports: list[object] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            reports.append(run_job(config, stop=stop, abort=abort, show_progress=False))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    _wait_for(lambda: client.exists("vidseg:bk:frames") and client.xlen("vidseg:bk:frames") >= 5)
    client.close()
    redis_server.stop(signal.SIGKILL)
    time.sleep(2.0)  # the backlog of 3 fills; the sink waits for room
    started = time.monotonic()
    stop.set()
    time.sleep(0.5)
    abort.set()
    thread.join(timeout=20)
    assert not thread.is_alive()
    assert time.monotonic() - started < 12
    assert not errors and reports
    report = reports[0]
    assert report.status is JobStatus.ABORTED  # type: ignore[attr-defined]
    assert _vidseg_threads() == []
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["status"] == "aborted" and manifest["redis"]["not_sent"] > 0
    written = {sink["name"]: sink["frames"] for sink in manifest["sinks"]}
    assert 5 <= written["files"] <= manifest["frames"]["processed"]  # frames in flight were dropped
    assert len(list(read_label_video(tmp_path / "o" / "masks.mkv"))) == written["files"]


def test_a_permanent_redis_error_fails_the_run_with_its_reason(tmp_path, redis_server):
    clip = moving_shapes_clip(num_frames=20, height=96, width=128, num_objects=1, seed=2, fps=25)
    source = write_clip_video(clip, tmp_path / "clip.mp4", fps=25)
    client = redis.Redis.from_url(redis_server.url)
    client.set("vidseg:bad:frames", "not a stream")  # every XADD answers WRONGTYPE
    config = JobConfig(
        source=str(source), out=tmp_path / "o", prompts=(ScheduledPrompt(Prompt(1, points=((60.0, 40.0),), labels=(1,))),),
        tracker=TrackerConfig(random_weights=True, image_size=64, device="cpu"),
        redis=RedisConfig(redis_server.url, source_id="bad"),
    )  # fmt: skip
    started = time.monotonic()
    with pytest.raises(PipelineError, match="WRONGTYPE") as info:
        run_job(config, show_progress=False)
    assert time.monotonic() - started < 60
    assert "\n" not in str(info.value)
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "WRONGTYPE" in manifest["error"]
    status = [fields for _, fields in client.xrange("vidseg:bad:status")]
    assert status[-1][b"state"] == b"failed" and b"WRONGTYPE" in status[-1][b"last_error"]
    assert _vidseg_threads() == []
    client.close()


def test_a_redis_only_run_publishes_every_frame_and_writes_nothing_to_disk(tmp_path, redis_server):
    clip = moving_shapes_clip(num_frames=15, height=96, width=128, num_objects=1, seed=4, fps=25)
    source = write_clip_video(clip, tmp_path / "clip.mp4", fps=25)
    work = tmp_path / "cwd"
    work.mkdir()
    before = sorted(p.name for p in tmp_path.rglob("*"))
    proc = _vidseg("run", str(source), "--redis", redis_server.url, "--point", "60,40", "--random-weights",
                   "--image-size", "64", cwd=work)  # fmt: skip
    _, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 0, stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written to disk
    client = redis.Redis.from_url(redis_server.url)
    entries = [decode_entry(fields) for _, fields in client.xrange("vidseg:clip:frames")]
    assert [e.index for e in entries] == list(range(15))
    assert all(len(e.objects) == 1 for e in entries)
    assert client.xrevrange("vidseg:clip:status", count=1)[0][1][b"state"] == b"stopped"
    client.close()
    assert "published to Redis" in stderr


def test_a_run_with_neither_out_nor_redis_is_refused(tmp_path):
    clip = moving_shapes_clip(num_frames=2, height=32, width=32, num_objects=1, seed=4, fps=25)
    source = write_clip_video(clip, tmp_path / "clip.mp4", fps=25)
    proc = _vidseg("run", str(source), "--point", "5,5", "--random-weights", cwd=tmp_path)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "nothing to write" in stderr and "Traceback" not in stderr


@pytest.mark.parametrize("backlog", [1000, 3], ids=["backlog-never-fills", "backlog-fills"])
def test_a_redis_outage_is_never_reported_as_success(tmp_path, redis_server, backlog):
    """Redis killed mid-run and left down: the file run waits up to --redis-wait, then fails,
    and the manifest counts what was not sent; whether or not the backlog filled meanwhile."""
    clip = moving_shapes_clip(num_frames=60, height=96, width=128, num_objects=1, seed=5, fps=25)
    source = write_clip_video(clip, tmp_path / "clip.mp4", fps=25)
    client = redis.Redis.from_url(redis_server.url)
    config = JobConfig(
        source=str(source), out=tmp_path / "o",
        prompts=(ScheduledPrompt(Prompt(1, points=((60.0, 40.0),), labels=(1,))),),
        tracker=TrackerConfig(random_weights=True, image_size=64, device="cpu"),
        redis=RedisConfig(redis_server.url, source_id="out", backlog=backlog, outage_limit=2.0),
    )  # fmt: skip
    errors: list[BaseException] = []
    thread = threading.Thread(target=lambda: _catch(errors, run_job, config, show_progress=False))
    thread.start()
    _wait_for(lambda: client.exists("vidseg:out:frames") and client.xlen("vidseg:out:frames") >= 5)
    client.close()
    redis_server.stop(signal.SIGKILL)
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert errors and isinstance(errors[0], PipelineError) and "not sent" in str(errors[0])
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "unreachable for more than 2 s" in manifest["error"]
    sent, lost = manifest["redis"]["sent"], manifest["redis"]["not_sent"]
    assert sent >= 5 and lost > 0
    assert sent + lost == {s["name"]: s["frames"] for s in manifest["sinks"]}["redis"]
    assert _vidseg_threads() == []


def _catch(errors: list[BaseException], fn: object, *args: object, **kwargs: object) -> None:
    try:
        fn(*args, **kwargs)  # type: ignore[operator]
    except BaseException as exc:
        errors.append(exc)


def test_many_ctrl_c_in_a_row_still_close_the_outputs_and_write_the_manifest(long_clip, tmp_path):
    """Stop, abort, then more Ctrl-C while the run ends: no traceback, no crash at exit, the
    videos decode and the manifest says aborted."""
    out = tmp_path / "o"
    proc = _vidseg("run", str(long_clip), "--out", str(out), "--point", "100,60", "--random-weights",
                   "--image-size", "64", cwd=tmp_path)  # fmt: skip
    try:
        _wait_for(lambda: (out / "objects.jsonl").exists() and (out / "objects.jsonl").stat().st_size > 0)
        for _ in range(6):
            proc.send_signal(signal.SIGINT)
            time.sleep(0.03)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "terminate called" not in stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "aborted"
    written = {sink["name"]: sink["frames"] for sink in manifest["sinks"]}["files"]
    assert len(list(read_label_video(out / "masks.mkv"))) == written
    assert _frames(out / "overlay.mp4") == written


def test_sigterm_exits_143_with_the_outputs_closed(long_clip, tmp_path):
    out = tmp_path / "o"
    proc = _vidseg("run", str(long_clip), "--out", str(out), "--point", "100,60", "--random-weights",
                   "--image-size", "64", cwd=tmp_path)  # fmt: skip
    try:
        _wait_for(lambda: (out / "objects.jsonl").exists() and (out / "objects.jsonl").stat().st_size > 0)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert len(list(read_label_video(out / "masks.mkv"))) == manifest["frames"]["processed"]
