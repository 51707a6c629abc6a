"""--start/--end give every frame of the window, whatever the container and keyframe interval,
and every output keeps the source's times (an MPEG-TS that starts at 10 s included)."""

from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import pytest
from PIL import Image

from vidseg.config import TrackerConfig
from vidseg.datasets.moving_shapes import moving_shapes_clip
from vidseg.errors import SourceError
from vidseg.formats.label_video import read_label_video
from vidseg.formats.objects_jsonl import read_objects_jsonl
from vidseg.pipeline.job import JobConfig, run_job
from vidseg.prompts.spec import ScheduledPrompt
from vidseg.sources import open_source
from vidseg.sources.file import FileSource
from vidseg.types import Prompt

pytestmark = pytest.mark.timeout(300)
ROOT = Path(__file__).resolve().parents[2]
FORMATS = {"ts": "mpegts", "mp4": "mp4", "mkv": "matroska", "webm": "webm", "avi": "avi"}


def _encode(path: Path, gop: int, offset_s: float, frames: int = 50, bframes: int = 0) -> None:
    clip = moving_shapes_clip(num_frames=frames, height=48, width=64, num_objects=1, seed=2)
    codec = "libvpx-vp9" if path.suffix == ".webm" else "libx264"
    with av.open(str(path), "w", format=FORMATS[path.suffix[1:]]) as out:
        stream = out.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 25)
        stream.options = {"g": str(gop), "keyint_min": str(gop)}
        if codec == "libx264":
            stream.options = {**stream.options, "sc_threshold": "0", "bf": str(bframes)}
        for k, image in enumerate(clip.frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = k + round(offset_s * 25), Fraction(1, 25)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


@pytest.mark.parametrize("gop", [250, 5])
@pytest.mark.parametrize("ext", ["ts", "mp4", "mkv", "webm", "avi"])
def test_every_frame_of_the_window_comes_out(tmp_path, ext, gop):
    path = tmp_path / f"clip.{ext}"
    _encode(path, gop, offset_s=10.0 if ext == "ts" else 0.0, bframes=2 if ext == "ts" else 0)
    with FileSource(path, start=0.4, end=0.8) as source:
        times = [round(f.time - source.info.start_time, 3) for f in source]  # type: ignore[operator]
    assert times == [round(0.4 + 0.04 * k, 3) for k in range(11)]


def test_every_output_keeps_the_times_of_a_stream_that_starts_at_10_s(tmp_path):
    path = tmp_path / "clip.ts"
    _encode(path, gop=250, offset_s=10.0)
    out = tmp_path / "o"
    prompt = ScheduledPrompt(Prompt(1, points=((30.0, 20.0),), labels=(1,)))
    config = JobConfig(source=str(path), out=out, prompts=(prompt,), start=0.4, end=0.8,
                       tracker=TrackerConfig(random_weights=True, image_size=64, device="cpu"))  # fmt: skip
    run_job(config, show_progress=False)
    expected = [round(10.4 + 0.04 * k, 3) for k in range(11)]
    assert [round(r.time, 3) for r in read_objects_jsonl(out / "objects.jsonl")] == expected  # type: ignore[arg-type]
    assert [round(f.time, 3) for f in read_label_video(out / "masks.mkv")] == expected  # type: ignore[arg-type]
    with av.open(str(out / "overlay.mp4")) as overlay:
        assert [round(float(f.time), 3) for f in overlay.decode(video=0)] == expected


@pytest.mark.parametrize("start", [2.0, 999.0])
@pytest.mark.parametrize("kind", ["mp4", "ts", "images"])
def test_a_start_at_or_past_the_end_is_refused_on_opening(tmp_path, kind, start):
    if kind == "images":  # 50 images at 25 fps: 2 s
        for k, image in enumerate(moving_shapes_clip(num_frames=50, height=16, width=16, num_objects=1, seed=2).frames):
            Image.fromarray(image).save(tmp_path / f"{k:05d}.png")
        path = tmp_path
    else:
        path = tmp_path / f"clip.{kind}"
        _encode(path, gop=250, offset_s=10.0 if kind == "ts" else 0.0)  # 50 frames at 25 fps: 2 s
    with pytest.raises(SourceError) as error:
        open_source(path, start=start, fps=25)
    message = str(error.value)
    assert "\n" not in message and f"--start {start:g} s" in message and "lasts 2.000 s" in message
    assert "give a --start below 2.000 s" in message
    with open_source(path, start=1.96, fps=25) as source:  # type: ignore[attr-defined]
        assert len(list(source)) == 1  # the last frame


def _vidseg(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VIDSEG_CACHE": str(cwd / "cache")}
    return subprocess.run([sys.executable, "-m", "vidseg", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=240)  # fmt: skip


def test_a_run_with_start_past_the_end_leaves_no_output_folder(tmp_path):
    path = tmp_path / "clip.mp4"
    _encode(path, gop=250, offset_s=0.0, frames=12)
    run = ("run", str(path), "--out", "o", "--point", "10,10", "--model", "vidseg_synthetic_tiny")
    proc = _vidseg(*run, "--start", "999", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vidseg: error: --start 999 s is at or past the end"), proc.stderr
    assert "lasts 0.480 s" in lines[0]
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
    proc = _vidseg(*run, "--start", "0.2", cwd=tmp_path)  # no --overwrite needed
    assert proc.returncode == 0, proc.stderr
    assert len(list(read_objects_jsonl(tmp_path / "o" / "objects.jsonl"))) == 7
