"""A file run with Redis: prompts sent through Redis mid-run, status and events, Redis killed mid-run."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import redis

from tests.conftest import RedisServer
from vidseg.config import TrackerConfig
from vidseg.datasets.moving_shapes import moving_shapes_clip, write_clip_video
from vidseg.formats.label_video import read_label_video
from vidseg.formats.objects_jsonl import read_objects_jsonl
from vidseg.pipeline.job import JobConfig, JobReport, run_job
from vidseg.prompts.spec import ScheduledPrompt
from vidseg.results import Event, EventKind
from vidseg.sinks.redis.schema import (
    FrameDeduplicator,
    RedisConfig,
    decode_entry,
    decode_frame_entry,
    encode_prompt,
    encode_removal,
)
from vidseg.types import Prompt

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clip = moving_shapes_clip(num_frames=40, height=240, width=320, num_objects=2, seed=5, fps=25)
    return write_clip_video(clip, tmp_path_factory.mktemp("clip") / "clip.mp4", fps=25)


def _config(source: Path, out: Path, url: str, *prompts: ScheduledPrompt) -> JobConfig:
    return JobConfig(
        source=str(source),
        out=out,
        prompts=prompts,
        tracker=TrackerConfig(random_weights=True, image_size=64, device="cpu"),
        redis=RedisConfig(url, source_id="cam", heartbeat=0.2),
    )


def _in_thread(config: JobConfig) -> tuple[threading.Thread, list[JobReport]]:
    reports: list[JobReport] = []
    thread = threading.Thread(target=lambda: reports.append(run_job(config, show_progress=False)))
    thread.start()
    return thread, reports


def _wait_for(condition: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _strings(fields: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in fields.items()}


def test_prompts_through_redis_mid_run_and_the_events_and_status(long_clip, tmp_path, redis_server):
    client = redis.Redis.from_url(redis_server.url)
    click = ScheduledPrompt(Prompt(1, points=((100.0, 100.0),), labels=(1,)))
    thread, reports = _in_thread(_config(long_clip, tmp_path / "o", redis_server.url, click))
    _wait_for(lambda: client.exists("vidseg:cam:frames") and client.xlen("vidseg:cam:frames") >= 5)
    client.xadd("vidseg:cam:prompts", encode_prompt(Prompt(2, box=(150.0, 60.0, 260.0, 180.0)), request_id="box-2"))
    client.xadd("vidseg:cam:prompts", encode_prompt(Prompt(3, points=((999.0, 5.0),), labels=(1,)), request_id="far"))
    client.xadd("vidseg:cam:prompts", {"prompt": "{not json"})
    client.xadd("vidseg:cam:prompts", encode_removal(1, request_id="rm-1"))
    client.xadd("vidseg:cam:prompts", encode_removal(7, request_id="rm-7"))
    thread.join(timeout=240)
    assert reports and reports[0].status == "completed" and reports[0].frames_processed == 40

    events = [Event.from_fields(fields) for _, fields in client.xrange("vidseg:cam:events")]
    applied = [e for e in events if e.kind == EventKind.PROMPT_APPLIED]
    rejected = [e for e in events if e.kind == EventKind.PROMPT_REJECTED]
    # Every prompt is answered with an event, whatever its origin (the first is the command line's).
    assert [(e.obj_id, e.request_id) for e in applied] == [(1, None), (2, "box-2"), (1, "rm-1")]
    assert applied[0].frame_index == 0
    applied = applied[1:]
    assert [e.request_id for e in rejected] == ["far", None, "rm-7"]
    assert "outside the 320x240 frame" in rejected[0].detail and "not JSON" in rejected[1].detail
    assert "not tracked" in rejected[2].detail
    start = applied[0].frame_index
    assert start is not None and start >= 5
    # Object 2 is tracked from the frame the prompt was applied on, and on every frame after it.
    records = list(read_objects_jsonl(tmp_path / "o" / "objects.jsonl"))
    assert [r.index for r in records if any(o.obj_id == 2 for o in r.objects)] == list(range(start, 40))
    assert not any(o.obj_id == 3 for r in records for o in r.objects)
    # Object 1 is removed on the same frame (the entries arrived together): tracked up to it only.
    assert [r.index for r in records if any(o.obj_id == 1 for o in r.objects)] == list(range(start))
    added = [(e.obj_id, e.frame_index) for e in events if e.kind == EventKind.OBJECT_ADDED]
    assert added == [(1, 0), (2, start)]
    removed = [(e.obj_id, e.frame_index) for e in events if e.kind == EventKind.OBJECT_REMOVED]
    assert removed == [(1, start)]

    status = [_strings(fields) for _, fields in client.xrange("vidseg:cam:status")]
    states = [s["state"] for s in status]
    assert states[0] == "starting" and states[1] == "running" and states[-1] == "stopped"
    assert status[-1]["frames"] == "40" and float(status[-1]["fps"]) > 0
    entries = [decode_frame_entry(fields) for _, fields in client.xrange("vidseg:cam:frames")]
    assert [e.record for e in entries] == records  # the same records as objects.jsonl
    for entry, frame in zip(entries, read_label_video(tmp_path / "o" / "masks.mkv"), strict=True):
        for obj in entry.record.objects:  # and the same masks as the label video
            assert np.array_equal(obj.mask(), frame.labels == obj.obj_id)
    context = entries[7].context
    assert (context.source_id, context.epoch, context.dropped) == ("cam", 0, 0)
    assert context.model is not None and context.model["name"] == "sam2.1_hiera_tiny"
    assert context.model["random_weights"] is True and context.model["image_size"] == 64
    whole = json.loads((tmp_path / "o" / "manifest.json").read_text())
    manifest = whole["redis"]
    assert manifest["prompts_applied"] == 2 and manifest["prompts_rejected"] == 3  # those from Redis
    # The prompts applied while running are in the manifest's prompts, with the frame they were applied on.
    listed = [(p["origin"], p["id"], p["kind"], p.get("request_id"), p.get("applied_frame")) for p in whole["prompts"]]
    assert listed == [("command line", 1, "points", None, None), ("redis", 2, "box", "box-2", start),
                      ("redis", 1, "remove", "rm-1", start)]  # fmt: skip
    client.close()


def test_prompts_of_schema_1_and_2_and_a_request_id_as_a_stream_field():
    from vidseg.errors import PromptError
    from vidseg.sinks.redis.schema import decode_prompt

    body = json.dumps({"id": 2, "box": [150, 60, 260, 180]})
    command = decode_prompt({b"schema_version": b"2", b"prompt": body.encode(), b"request_id": b"as-field"})
    assert command.obj_id == 2 and command.request_id == "as-field"
    old = decode_prompt({"schema_version": "1", "prompt": json.dumps({"id": 3, "points": [[30, 30]]})})
    assert old.obj_id == 3 and old.request_id is None
    inside = decode_prompt({"prompt": json.dumps({"id": 4, "points": [[1, 1]], "request_id": "json"}), "request_id": "f"})
    assert inside.request_id == "json"  # the JSON's own wins
    with pytest.raises(PromptError, match=r"versions 1\.\.2"):
        decode_prompt({"schema_version": "3", "prompt": body})


def test_every_stream_says_the_one_schema_version(long_clip, tmp_path, redis_server):
    client = redis.Redis.from_url(redis_server.url)
    click = ScheduledPrompt(Prompt(1, points=((100.0, 100.0),), labels=(1,)))
    report = run_job(_config(long_clip, tmp_path / "o", redis_server.url, click), show_progress=False)
    assert report.status == "completed"
    for kind in ("frames", "status", "events"):
        _, fields = client.xrange(f"vidseg:cam:{kind}", count=1)[0]
        assert fields[b"schema_version"] == b"2", kind
    client.close()


def test_a_run_with_redis_may_start_without_prompts(long_clip, tmp_path, redis_server):
    report = run_job(_config(long_clip, tmp_path / "o", redis_server.url), show_progress=False)
    assert report.status == "completed" and report.frames_processed == 40
    client = redis.Redis.from_url(redis_server.url)
    assert client.xlen("vidseg:cam:frames") == 40
    assert all(not decode_entry(fields).objects for _, fields in client.xrange("vidseg:cam:frames"))
    client.close()


def test_redis_killed_and_restarted_mid_run_every_frame_arrives_once(long_clip, tmp_path):
    server = RedisServer(tmp_path / "redis", persist=True)
    server.folder.mkdir()
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        click = ScheduledPrompt(Prompt(1, points=((100.0, 100.0),), labels=(1,)))
        thread, reports = _in_thread(_config(long_clip, tmp_path / "o", server.url, click))
        _wait_for(lambda: client.exists("vidseg:cam:frames") and client.xlen("vidseg:cam:frames") >= 5)
        server.stop(signal.SIGKILL)
        time.sleep(1.5)  # the run goes on meanwhile; the publisher keeps its backlog and retries
        server.start()
        thread.join(timeout=240)
        assert reports and reports[0].status == "completed" and reports[0].frames_processed == 40
        entries = client.xrange("vidseg:cam:frames")
        dedup = FrameDeduplicator()
        fresh = [decode_entry(fields).index for _, fields in entries if dedup.is_new(fields)]
        assert fresh == list(range(40))  # every frame, once, in order (repeats carry the same key)
        assert len(entries) - len(fresh) <= 1
        client.close()
    finally:
        server.stop()
