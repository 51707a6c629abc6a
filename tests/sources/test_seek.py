"""--start/--end give every frame of the window, whatever the container and keyframe interval,
and every output keeps the source's times (an MPEG-TS that starts at 10 s included)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from vidseg.config import TrackerConfig
from vidseg.datasets.moving_shapes import moving_shapes_clip
from vidseg.pipeline.job import JobConfig, run_job
from vidseg.prompts.spec import ScheduledPrompt
from vidseg.sinks.files.label_video import read_label_video
from vidseg.sinks.files.objects_jsonl import read_objects_jsonl
from vidseg.sources.file import FileSource
from vidseg.types import Prompt

pytestmark = pytest.mark.timeout(300)
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
