"""`vidseg run` end to end on a generated H.264 clip, as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from vidseg.config import TrackerConfig
from vidseg.datasets.moving_shapes import moving_shapes_clip, write_clip_video
from vidseg.errors import PipelineError, PromptError, SourceError
from vidseg.formats.label_video import read_label_video
from vidseg.formats.objects_jsonl import read_objects_jsonl
from vidseg.masks import decode_rle
from vidseg.pipeline.job import JobConfig, run_job
from vidseg.prompts.spec import ScheduledPrompt
from vidseg.sinks.files.sink import FileSink
from vidseg.types import Prompt


def vidseg(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vidseg", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def video_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [float(frame.time) for frame in container.decode(video=0)]


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory) -> Path:
    clip = moving_shapes_clip(num_frames=20, height=480, width=854, num_objects=1, seed=7, fps=25)
    return write_clip_video(clip, tmp_path_factory.mktemp("clip") / "clip.mp4", fps=25)


def test_run_writes_one_entry_per_frame_with_matching_timestamps(clip_file, tmp_path):
    out = tmp_path / "out"
    proc = vidseg(
        "run", str(clip_file), "--out", str(out), "--point", "1:400,240", "--random-weights", "--image-size", "256",
        "--davis", str(tmp_path / "davis"), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    with av.open(str(clip_file)) as container:
        source_frames = [(f.pts, float(f.time)) for f in container.decode(video=0)]
    records = list(read_objects_jsonl(out / "objects.jsonl"))
    labels = list(read_label_video(out / "masks.mkv"))
    overlay = video_times(out / "overlay.mp4")
    assert len(records) == len(labels) == len(overlay) == len(source_frames) == 20
    assert [(r.pts, r.time) for r in records] == source_frames
    for record, label, shown in zip(records, labels, overlay, strict=True):
        assert label.time == pytest.approx(record.time, abs=1e-3)  # Matroska keeps milliseconds
        assert shown == pytest.approx(record.time, abs=1e-3)
        (obj,) = record.objects
        assert obj.obj_id == 1
        np.testing.assert_array_equal(label.labels == 1, decode_rle(obj.rle))
        assert obj.area == int((label.labels == 1).sum())
    assert sorted(p.name for p in (tmp_path / "davis").iterdir())[:2] == ["00000.png", "00001.png"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["model"]["random_weights"] is True
    assert manifest["frames"] == {"read": 20, "processed": 20, "corrupt_packets": 0, "untimed": 0, "dropped": 0, "abandoned": 0, "missing": 0}
    assert manifest["source"]["codec"] == "h264" and set(manifest["timings"]) == {"decode", "track", "results", "sink-files"}
    assert manifest["prompts"] == [{"id": 1, "kind": "points", "origin": "command line", "points": [[400.0, 240.0]], "labels": [1]}]


@pytest.mark.parametrize("signals", [1, 2], ids=["sigint", "sigint-twice"])
def test_sigint_mid_run_closes_playable_outputs(tmp_path, signals):
    clip = moving_shapes_clip(num_frames=200, height=120, width=160, num_objects=1, seed=8)
    path = write_clip_video(clip, tmp_path / "long.mp4")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vidseg", "run", str(path), "--out", str(out), "--point", "60,60",
         "--random-weights", "--image-size", "64"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    jsonl = out / "objects.jsonl"
    while time.monotonic() < deadline and (not jsonl.exists() or len(jsonl.read_text().splitlines()) < 5):
        time.sleep(0.1)
    for _ in range(signals):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    records = list(read_objects_jsonl(jsonl))
    assert 5 <= len(records) < 200
    assert len(list(read_label_video(out / "masks.mkv"))) == len(records)
    assert len(video_times(out / "overlay.mp4")) == len(records)
    status = json.loads((out / "manifest.json").read_text())["status"]
    # A second signal can land after the frames in flight are done: then it is a plain interruption.
    assert status == "interrupted" if signals == 1 else status in ("aborted", "interrupted")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.mp4", "--point", "1,1"], "does not exist"),
        (["notes.mp4", "--point", "1,1"], "not a video"),
        (["clip.mp4"], "no prompts"),
        (["clip.mp4", "--point", "5000,1"], "outside"),
        (["clip.mp4", "--point", "1;1"], "--point"),
    ],
    ids=["missing", "not-a-video", "no-prompt", "outside", "bad-syntax"],
)
def test_bad_input_is_one_clear_line(clip_file, tmp_path, args, message):
    (tmp_path / "notes.mp4").write_text("hello")
    (tmp_path / "clip.mp4").write_bytes(clip_file.read_bytes())
    proc = vidseg("run", *args, "--out", str(tmp_path / "o"), "--random-weights", "--image-size", "64", cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_info_describes_the_clip(clip_file, tmp_path):
    proc = vidseg("info", str(clip_file), cwd=tmp_path)
    assert proc.returncode == 0
    assert "h264, yuv420p, 854x480" in proc.stdout and "frames:     20" in proc.stdout


def _job(source: Path, out: Path, *prompts: ScheduledPrompt, **kwargs: object) -> JobConfig:
    tracker = TrackerConfig(random_weights=True, image_size=64, device="cpu")
    return JobConfig(source=str(source), out=out, prompts=prompts, tracker=tracker, **kwargs)  # type: ignore[arg-type]


def _click(obj_id: int, x: float, y: float, **when: int | float) -> ScheduledPrompt:
    return ScheduledPrompt(Prompt(obj_id, points=((x, y),), labels=(1,)), **when)  # type: ignore[arg-type]


def test_overlapping_objects_get_the_same_masks_in_every_output(clip_file, tmp_path):
    # Random weights cover almost the whole frame for both objects: they overlap everywhere.
    report = run_job(_job(clip_file, tmp_path / "o", _click(1, 400, 240), _click(2, 100, 100)), show_progress=False)
    assert report.status == "completed"
    records = list(read_objects_jsonl(tmp_path / "o" / "objects.jsonl"))
    for record, label in zip(records, read_label_video(tmp_path / "o" / "masks.mkv"), strict=True):
        masks = {obj.obj_id: obj.mask() for obj in record.objects}
        assert not (masks[1] & masks[2]).any()
        for obj_id, mask in masks.items():
            np.testing.assert_array_equal(label.labels == obj_id, mask)


def test_a_failing_stage_is_named_and_outputs_stay_readable(clip_file, tmp_path, monkeypatch):
    real = FileSink.write

    def broken(self: FileSink, item: object) -> None:
        if self.frames == 3:
            raise OSError("disk full (injected)")
        real(self, item)  # type: ignore[arg-type]

    monkeypatch.setattr(FileSink, "write", broken)
    with pytest.raises(PipelineError, match="stage 'sink-files' failed: OSError: disk full") as info:
        run_job(_job(clip_file, tmp_path / "o", _click(1, 400, 240)), show_progress=False)
    assert info.value.stage == "sink-files"
    assert len(list(read_label_video(tmp_path / "o" / "masks.mkv"))) == 3
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "disk full" in manifest["error"]


def test_prompts_later_in_the_clip_and_ones_never_reached(clip_file, tmp_path):
    config = _job(
        clip_file, tmp_path / "o", _click(1, 400, 240), _click(2, 50, 50, time=0.4), _click(3, 9, 9, frame=99)
    )
    run_job(config, show_progress=False)
    records = list(read_objects_jsonl(tmp_path / "o" / "objects.jsonl"))
    assert [len(r.objects) for r in records] == [1] * 10 + [2] * 10  # 0.4 s = frame 10 at 25 fps
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert [p["id"] for p in manifest["prompts_not_applied"]] == [3]


@pytest.mark.parametrize(
    ("kwargs", "prompt", "error", "message"),
    [
        ({}, _click(0, 1, 1), PromptError, "0 is the background"),
        ({"davis": "d"}, _click(300, 1, 1), PromptError, "drop --davis"),
        ({"start": 5.0}, _click(1, 1, 1), SourceError, "at or past the end"),
        ({"every": 0}, _click(1, 1, 1), SourceError, "--every"),
    ],
    ids=["id-zero", "davis-id", "start-after-end", "every-zero"],
)
def test_job_input_errors(clip_file, tmp_path, kwargs, prompt, error, message):
    if "davis" in kwargs:
        kwargs = {"davis": tmp_path / "d"}
    with pytest.raises(error, match=message):
        run_job(_job(clip_file, tmp_path / "o", prompt, **kwargs), show_progress=False)


def test_a_video_with_brackets_in_its_name(clip_file, tmp_path):
    odd = tmp_path / "talk [1080p].mp4"
    odd.write_bytes(clip_file.read_bytes())
    assert run_job(_job(odd, tmp_path / "o", _click(1, 400, 240), end=0.1), show_progress=False).frames_processed == 3


def test_a_damaged_file_is_decoded_as_far_as_possible_and_the_loss_reported(tmp_path, caplog):
    clip = moving_shapes_clip(num_frames=30, height=72, width=96, num_objects=1, seed=2)
    path = write_clip_video(clip, tmp_path / "c.avi", codec="mjpeg", pix_fmt="yuvj420p")
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(0)
    for fraction in (0.3, 0.5, 0.7):  # overwrite three stretches mid-file with noise
        at = int(len(data) * fraction)
        data[at : at + 400] = rng.integers(0, 256, 400, dtype=np.uint8).tobytes()
    damaged = tmp_path / "damaged.avi"
    damaged.write_bytes(bytes(data))
    report = run_job(_job(damaged, tmp_path / "o", _click(1, 40, 30)), show_progress=False)
    assert report.status == "completed" and 20 <= report.frames_processed < 30
    frames = json.loads((tmp_path / "o" / "manifest.json").read_text())["frames"]
    assert frames["missing"] == 30 - report.frames_read > 0
    assert "damaged or cut short" in caplog.text


def test_image_folder_with_davis_pngs_named_like_the_images(tmp_path):
    from PIL import Image

    clip = moving_shapes_clip(num_frames=4, height=48, width=64, num_objects=1, seed=4)
    folder = tmp_path / "frames"
    folder.mkdir()
    for k, image in enumerate(clip.frames):
        Image.fromarray(image).save(folder / f"{10 * (k + 1):05d}.jpg")
    x, y = clip.center(0, 1)
    run_job(_job(folder, tmp_path / "o", _click(1, x, y), davis=tmp_path / "davis", every=2), show_progress=False)
    pngs = sorted(p.name for p in (tmp_path / "davis").iterdir())
    assert pngs == ["00010.png", "00030.png"]
    palette_png = Image.open(tmp_path / "davis" / "00030.png")
    assert palette_png.mode == "P"
    labels = next(f for k, f in enumerate(read_label_video(tmp_path / "o" / "masks.mkv")) if k == 1).labels
    np.testing.assert_array_equal(np.asarray(palette_png), labels)


def test_frames_published_to_redis_match_the_files(clip_file, tmp_path, redis_server):
    import redis

    from vidseg.sinks.redis.schema import RedisConfig, decode_entry

    config = _job(clip_file, tmp_path / "o", _click(1, 400, 240), redis=RedisConfig(redis_server.url, source_id="clip"))
    run_job(config, show_progress=False)
    client = redis.Redis.from_url(redis_server.url)
    entries = client.xrange("vidseg:clip:frames")
    client.close()
    assert [fields[b"frame_key"] for _, fields in entries] == [f"0:{k}".encode() for k in range(20)]
    assert [decode_entry(fields) for _, fields in entries] == list(read_objects_jsonl(tmp_path / "o" / "objects.jsonl"))
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["redis"]["sent"] == 20 and manifest["redis"]["stream"] == "vidseg:clip:frames"


def test_unreachable_redis_is_one_clear_line_without_the_password(clip_file, tmp_path):
    proc = vidseg(
        "run", str(clip_file), "--out", str(tmp_path / "o"), "--point", "1,1", "--random-weights", "--image-size", "64",
        "--redis", "redis://me:hunter2@127.0.0.1:1/0", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2 and "cannot reach Redis at redis://***@127.0.0.1:1/0" in proc.stderr
    assert "hunter2" not in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()  # stopped before writing anything
