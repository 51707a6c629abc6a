"""A live run end to end: RTSP feed -> tracker -> Redis, newest frame wins, drops counted, a prompt
sent through Redis mid-run, the server killed and restarted."""

from __future__ import annotations

import json
import signal
import threading
import time

import pytest
import redis

from vidseg.config import TrackerConfig
from vidseg.pipeline.job import JobConfig, JobStatus, run_job
from vidseg.results import Event, EventKind
from vidseg.sinks.redis.schema import RedisConfig, decode_frame_entry, encode_prompt
from vidseg.sources import LiveOptions
from vidseg.types import Prompt

pytestmark = pytest.mark.timeout(300)


def _wait_for(condition: object, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_live_run_tracks_publishes_drops_and_reconnects(rtsp_feed, redis_server, tmp_path):
    client = redis.Redis.from_url(redis_server.url)
    stop = threading.Event()
    config = JobConfig(
        source=rtsp_feed.url, out=tmp_path / "o",
        tracker=TrackerConfig(random_weights=True, image_size=128, device="cpu"),  # slower than 25 fps here
        redis=RedisConfig(redis_server.url, source_id="cam", heartbeat=0.2),
        live=LiveOptions(open_timeout=5.0, read_timeout=2.0, backoff_first=0.2, backoff_cap=1.0),
    )  # fmt: skip
    reports: list[object] = []
    thread = threading.Thread(target=lambda: reports.append(run_job(config, stop=stop, show_progress=False)))
    thread.start()
    try:
        _wait_for(lambda: client.exists("vidseg:cam:frames") and client.xlen("vidseg:cam:frames") >= 5)
        client.xadd("vidseg:cam:prompts", encode_prompt(Prompt(1, points=((160.0, 120.0),), labels=(1,)),
                                                        request_id="click"))  # fmt: skip
        _wait_for(lambda: any(Event.from_fields(f).request_id == "click" for _, f in client.xrange("vidseg:cam:events")))
        rtsp_feed.stop(signal.SIGKILL)
        time.sleep(1.5)
        rtsp_feed.start()
        _wait_for(lambda: any(decode_frame_entry(f).record.epoch >= 1 for _, f in client.xrevrange("vidseg:cam:frames",
                                                                                                   count=3)))  # fmt: skip
        time.sleep(1.0)
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive() and reports
    assert reports[0].status is JobStatus.INTERRUPTED  # type: ignore[attr-defined]
    raw = client.xrange("vidseg:cam:frames")
    entries = [decode_frame_entry(f) for _, f in raw]
    events = [Event.from_fields(f) for _, f in client.xrange("vidseg:cam:events")]
    states = [f[b"state"].decode() for _, f in client.xrange("vidseg:cam:status")]
    client.close()
    # Every entry carries epoch, pts and the capture time; indices increase across the reconnect.
    assert all(e.record.wallclock is not None for e in entries)
    assert [e.record.index for e in entries] == sorted(e.record.index for e in entries)
    assert {e.record.epoch for e in entries} >= {0, 1}
    # Newest frame wins: the model is slower than the feed, so frames were dropped and counted, and
    # what is published is fresh (capture to publish well under a second, never a growing queue).
    assert sum(e.context.dropped for e in entries) > 0
    latencies = sorted(int(i.decode().split("-")[0]) / 1000 - e.record.wallclock  # type: ignore[operator]
                       for (i, _), e in zip(raw, entries, strict=True))  # fmt: skip
    assert latencies[len(latencies) // 2] < 0.5 and latencies[-1] < 3.0
    # The prompt sent through Redis tracks object 1 from the frame it was applied on.
    applied = next(e for e in events if e.request_id == "click")
    assert applied.kind is EventKind.PROMPT_APPLIED
    tracked = [e.record.index for e in entries if any(o.obj_id == 1 for o in e.record.objects)]
    assert tracked and tracked[0] == applied.frame_index
    # The reconnect is an event and shows on the status stream.
    assert any(e.kind is EventKind.SOURCE_RECONNECTED for e in events)
    assert "reconnecting" in states and states[states.index("reconnecting"):].count("running") >= 1
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["frames"]["dropped"] > 0 and manifest["source"]["kind"] == "live"


@pytest.mark.parametrize("keep", [None, 2])
def test_live_outputs_are_cut_into_playable_segments_listed_in_the_manifest(rtsp_feed, tmp_path, keep):
    import av

    from vidseg.formats.label_video import read_label_video
    from vidseg.formats.objects_jsonl import read_objects_jsonl

    out = tmp_path / "o"
    from vidseg.prompts.spec import ScheduledPrompt

    config = JobConfig(
        source=rtsp_feed.url, out=out, prompts=(ScheduledPrompt(Prompt(1, points=((160.0, 120.0),), labels=(1,))),),
        tracker=TrackerConfig(random_weights=True, image_size=64, device="cpu"),
        segment_seconds=1.0, keep_segments=keep, duration=4.2,
        live=LiveOptions(open_timeout=5.0, read_timeout=2.0),
    )  # fmt: skip
    report = run_job(config, show_progress=False)
    assert report.status is JobStatus.COMPLETED  # the --duration limit is a normal end
    manifest = json.loads((out / "manifest.json").read_text())
    segments = manifest["segments"]
    folders = sorted(p for p in out.iterdir() if p.name.startswith("segment-"))
    assert [s["folder"] for s in segments] == [p.name for p in folders]
    assert all(s["closed"] for s in segments)
    if keep is None:
        assert len(segments) >= 3
        assert sum(s["frames"] for s in segments) == report.frames_processed
    else:
        assert len(segments) == keep  # the oldest were removed
    for segment, folder in zip(segments, folders, strict=True):
        labels = list(read_label_video(folder / "masks.mkv"))
        records = list(read_objects_jsonl(folder / "objects.jsonl"))
        with av.open(str(folder / "overlay.mp4")) as overlay:
            shown = [round(float(f.time), 3) for f in overlay.decode(video=0)]
        assert len(labels) == len(records) == len(shown) == segment["frames"] > 0
        assert [round(f.time, 3) for f in labels] == [round(r.time, 3) for r in records] == shown  # real timing


def test_a_feed_back_at_another_resolution_goes_on_in_a_new_segment(rtsp_feed, tmp_path):
    from tests.conftest import RtspFeed
    from vidseg.formats.label_video import read_label_video
    from vidseg.prompts.spec import ScheduledPrompt

    out = tmp_path / "o"
    stop = threading.Event()
    config = JobConfig(
        source=rtsp_feed.url, out=out, prompts=(ScheduledPrompt(Prompt(1, points=((100.0, 80.0),), labels=(1,))),),
        tracker=TrackerConfig(random_weights=True, image_size=64, device="cpu"), segment_seconds=600.0,
        live=LiveOptions(open_timeout=5.0, read_timeout=2.0, backoff_first=0.2, backoff_cap=1.0),
    )  # fmt: skip
    reports: list[object] = []
    thread = threading.Thread(target=lambda: reports.append(run_job(config, stop=stop, show_progress=False)))
    thread.start()
    smaller: RtspFeed | None = None
    try:
        _wait_for(lambda: (out / "segment-00000" / "objects.jsonl").exists()
                  and (out / "segment-00000" / "objects.jsonl").stat().st_size > 0)  # fmt: skip
        port = rtsp_feed.port
        rtsp_feed.stop(signal.SIGKILL)
        smaller = RtspFeed(port=port, width=192, height=144).start()
        _wait_for(lambda: (out / "segment-00001" / "objects.jsonl").exists()
                  and (out / "segment-00001" / "objects.jsonl").stat().st_size > 0)  # fmt: skip
        time.sleep(1.0)
    finally:
        stop.set()
        thread.join(60)
        if smaller is not None:
            smaller.stop()
    assert reports and reports[0].status is JobStatus.INTERRUPTED  # type: ignore[attr-defined]
    first = list(read_label_video(out / "segment-00000" / "masks.mkv"))
    second = list(read_label_video(out / "segment-00001" / "masks.mkv"))
    assert first[0].labels.shape == (240, 320) and second[0].labels.shape == (144, 192)
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["folder"] for s in manifest["segments"]] == ["segment-00000", "segment-00001"]


def test_a_live_run_with_a_semantic_model_labels_frames_without_holding_the_tracker(rtsp_feed, tmp_path):
    """On a live feed the semantic model takes the newest frame and each tracked frame takes its
    newest map (marked reused when it is another frame's); frames tracked before the first map
    carry none. Random weights: the maps mean nothing, their shape and bookkeeping do."""
    from vidseg.formats.label_video import read_label_video
    from vidseg.formats.objects_jsonl import read_objects_jsonl
    from vidseg.pipeline.config import SemanticConfig
    from vidseg.prompts.spec import ScheduledPrompt

    out = tmp_path / "o"
    config = JobConfig(
        source=rtsp_feed.url, out=out, prompts=(ScheduledPrompt(Prompt(1, points=((160.0, 120.0),), labels=(1,))),),
        tracker=TrackerConfig(random_weights=True, image_size=64, device="cpu"), duration=4.0,
        semantic=SemanticConfig("vidseg_unet_synthetic", random_weights=True, input_size=64, every=2),
        track_classes=("disc", "star"), max_objects=2,  # frames before the first map propose nothing
        live=LiveOptions(open_timeout=5.0, read_timeout=2.0),
    )  # fmt: skip
    report = run_job(config, show_progress=False)
    assert report.status is JobStatus.COMPLETED
    segment = out / "segment-00000"  # a live run's outputs are cut into segments (300 s by default)
    records = list(read_objects_jsonl(segment / "objects.jsonl"))
    labelled = [r for r in records if r.class_histogram is not None]
    assert len(labelled) >= len(records) - 5 and labelled  # all but the frames before the first map
    first = records.index(labelled[0])
    assert all(r.class_histogram is not None for r in records[first:])  # from the first map on, every frame
    assert all(sum(n for _, n in r.class_histogram) == 240 * 320 for r in labelled)  # type: ignore[union-attr]
    assert any(r.semantic_reused for r in labelled)  # every=2 at least: maps are reused
    by_class = {o.obj_id: o.track_class for r in records for o in r.objects if o.obj_id != 1}
    assert len(by_class) <= 2 and all(name in ("disc", "star") for name in by_class.values())
    assert all(o.track_class is None for r in records for o in r.objects if o.obj_id == 1)
    maps = list(read_label_video(segment / "semantic.mkv"))
    assert len(maps) == len(labelled) and [round(m.time, 3) for m in maps] == [round(r.time, 3) for r in labelled]
    manifest = json.loads((out / "manifest.json").read_text())
    drops = manifest["drops"]  # frames the semantic model skipped are reported, but no frame was lost by them
    assert "to-semantic" in drops
    assert manifest["frames"]["dropped"] == sum(n for name, n in drops.items() if name != "to-semantic")
