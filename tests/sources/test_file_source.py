"""Video files and image folders as frame sources."""

from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from vidseg.datasets.moving_shapes import moving_shapes_clip, write_clip_video
from vidseg.errors import SourceFormatError, SourceNotFoundError, VidsegError
from vidseg.sources import FileSource, ImageFolderSource, open_source
from vidseg.sources.file import choose_rate, measured_rate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def clip():
    return moving_shapes_clip(num_frames=12, height=72, width=96, num_objects=1, seed=0)


@pytest.mark.parametrize(
    ("name", "codec", "pix_fmt"),
    [
        ("h264.mp4", "libx264", "yuv420p"),
        ("hevc.mkv", "libx265", "yuv420p"),
        ("vp9.webm", "libvpx-vp9", "yuv420p"),
        ("mjpeg.avi", "mjpeg", "yuvj420p"),
        ("h264-10bit.mov", "libx264", "yuv420p10le"),
        ("av1.mkv", "libsvtav1", "yuv420p"),
    ],
)
def test_every_frame_in_order_with_decoder_timestamps(tmp_path, clip, name, codec, pix_fmt):
    path = write_clip_video(clip, tmp_path / name, codec=codec, pix_fmt=pix_fmt, fps=25)
    with FileSource(path) as source:
        frames = list(source)
        info = source.info
    assert len(frames) == 12 and [f.index for f in frames] == list(range(12))
    assert (info.width, info.height) == (96, 72)
    times = [f.time for f in frames]
    assert times == sorted(times) and abs(times[1] - times[0] - 0.04) < 2e-3
    for frame in frames:
        assert frame.image.shape == (72, 96, 3) and frame.image.dtype == np.uint8
        assert frame.time == pytest.approx(float(frame.pts * frame.time_base))
    # Decoded pixels are close to what was encoded (lossy codecs).
    assert np.abs(frames[5].image.astype(int) - clip.frames[5].astype(int)).mean() < 12


def test_stride_and_time_range(tmp_path, clip):
    path = write_clip_video(clip, tmp_path / "c.mp4", fps=25)
    with FileSource(path, every=3) as source:
        assert [round(f.time, 2) for f in source] == [0.0, 0.12, 0.24, 0.36]
    with FileSource(path, start=0.2, end=0.32) as source:
        assert [round(f.time, 2) for f in source] == [0.2, 0.24, 0.28, 0.32]


def test_rotation_metadata_is_applied(tmp_path):
    path = tmp_path / "rot.mp4"
    image = np.zeros((32, 64, 3), np.uint8)
    image[:8, :8] = 255  # a white top-left corner
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv444p"
        stream.set_display_rotation(90)  # display rotated 90 degrees counterclockwise
        for _ in range(2):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with FileSource(path) as source:
        frame = next(iter(source))
        assert source.info.rotation == 90 and (source.info.width, source.info.height) == (32, 64)
    assert frame.image.shape == (64, 32, 3)
    assert frame.image[-4, 4].mean() > 200 and frame.image[4, 4].mean() < 50  # corner moved to bottom-left


def test_image_folder_in_natural_order(tmp_path, clip):
    for k in (0, 1, 2, 10):
        Image.fromarray(clip.frames[k]).save(tmp_path / f"{k}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    source = open_source(tmp_path, fps=10)
    assert isinstance(source, ImageFolderSource)
    frames = list(source)
    assert [f.pts for f in frames] == [0, 1, 2, 3]
    assert frames[1].time_base == Fraction(1, 10) and frames[3].time == pytest.approx(0.3)
    np.testing.assert_array_equal(frames[3].image, clip.frames[10])


@pytest.mark.parametrize("kind", ["missing", "text", "audio-only", "empty-folder"])
def test_bad_sources(tmp_path, kind):
    if kind == "missing":
        path, error = tmp_path / "nope.mp4", SourceNotFoundError
    elif kind == "text":
        path, error = tmp_path / "x.mp4", SourceFormatError
        path.write_text("this is not a video")
    elif kind == "audio-only":
        path, error = tmp_path / "a.wav", SourceFormatError
        with av.open(str(path), "w") as out:
            stream = out.add_stream("pcm_s16le", rate=8000)
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
            frame.sample_rate = 8000
            for packet in stream.encode(frame):
                out.mux(packet)
    else:
        path, error = tmp_path / "empty", SourceFormatError
        path.mkdir()
    with pytest.raises(error) as info:
        open_source(path)
    assert isinstance(info.value, VidsegError)


def test_truncated_file_decodes_what_it_can(tmp_path):
    clip = moving_shapes_clip(num_frames=40, height=72, width=96, num_objects=1, seed=1)
    path = write_clip_video(clip, tmp_path / "c.mkv", fps=25, options={"g": "5"})
    data = path.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 6 // 10])
    with FileSource(cut) as source:
        frames = list(source)
    assert 10 < len(frames) < 40


def _remux_with_rate_of_time_base(source: Path, path: Path) -> Path:
    """Remux to MKV with PyAV, the stream's rate set to Matroska's 1 ms time base: the file then
    declares a default duration of 1 ms, and FFmpeg reads its average rate as 1000 fps."""
    with av.open(str(source)) as inp, av.open(str(path), "w") as out:
        stream = inp.streams.video[0]
        copy = out.add_stream_from_template(stream)
        copy.codec_context.framerate = Fraction(1000)
        for packet in inp.demux(stream):
            if packet.dts is None:  # the flush packet
                continue
            packet.stream = copy
            out.mux(packet)
    return path


def test_an_average_rate_that_is_the_time_base_is_not_the_frame_rate(tmp_path, clip, caplog):
    path = _remux_with_rate_of_time_base(write_clip_video(clip, tmp_path / "c.mp4", fps=25), tmp_path / "c.mkv")
    with av.open(str(path)) as container:  # what FFmpeg says: the muxer's time base as the average rate
        stream = container.streams.video[0]
        assert (stream.average_rate, stream.guessed_rate, stream.time_base) == (1000, 25, Fraction(1, 1000))
    with FileSource(path) as source:
        info, frames = source.info, list(source)
    assert (info.fps, info.frames, info.frames_declared) == (25.0, 12, False)
    assert len(frames) == 12 and frames[1].time == pytest.approx(0.04)
    assert "reads 1000 fps, but its first frames are 25 fps apart; using 25 fps" in caplog.text
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "vidseg", "info", str(path)], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "frame rate: 25.000" in proc.stdout and "frames:     12 (estimated" in proc.stdout, proc.stdout


def _ms(times: list[float]) -> list[int]:
    return [round(t * 1000) for t in times]


@pytest.mark.parametrize(
    ("pts", "time_base", "expected"),
    [
        (list(range(0, 640, 40)), Fraction(1, 1000), Fraction(25)),
        ([0, 160, 80, 40, 120, 320, 240, 200, 280], Fraction(1, 1000), Fraction(25)),  # B-frames, out of order
        (_ms([k * 1001 / 30000 for k in range(60)]), Fraction(1, 1000), Fraction(30000, 1001)),  # 33/34 ms gaps
        ([0, 3600, 7200, 14400, 18000], Fraction(1, 90000), Fraction(25)),  # a frame not yet read: a gap left out
        ([0, 40], Fraction(1, 1000), None),  # too few to measure
        ([0, 0, 0], Fraction(1, 1000), None),
    ],
)
def test_measured_rate(pts, time_base, expected):
    rate = measured_rate(pts, time_base)
    assert rate == expected if expected is None else float(rate) == pytest.approx(float(expected), rel=1e-3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("average", "guessed", "measured", "time_base", "expected"),
    [
        (25, 25, 25, Fraction(1, 1000), 25),
        (1000, 25, 25, Fraction(1, 1000), 25),  # the time base read as the rate
        (1000, 25, None, Fraction(1, 1000), 25),  # the same, nothing measured
        (1000, 1000, 1000, Fraction(1, 1000), 1000),  # a 1000 fps camera on a 1 ms time base
        (1000, 1000, 25, Fraction(1, 1000), 25),  # no rate believable: the frames' own spacing
        (Fraction(30000, 1001), Fraction(30000, 1001), 24, Fraction(1, 1000), Fraction(30000, 1001)),  # VFR wobble
        (50, 25, 25, Fraction(1, 90000), 25),  # fields counted as frames
        (None, 25, None, Fraction(1, 1000), 25),
        (None, None, None, None, None),
    ],
)
def test_choose_rate(average, guessed, measured, time_base, expected):
    rate = choose_rate(*(Fraction(v) if isinstance(v, int) else v for v in (average, guessed, measured)), time_base)
    assert rate == expected
