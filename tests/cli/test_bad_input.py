"""Every bad input is answered in one line (exit 2, no traceback), saying what was expected."""

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
from vidseg.models.tracking.registry import SYNTHETIC_MODEL

pytestmark = pytest.mark.timeout(300)
ROOT = Path(__file__).resolve().parents[2]


def _vidseg(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VIDSEG_CACHE": str(cwd / "cache")}
    return subprocess.run([sys.executable, "-m", "vidseg", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=240)  # fmt: skip


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frames = moving_shapes_clip(num_frames=3, height=48, width=64, num_objects=1, seed=1, fps=25)
    return write_clip_video(frames, tmp_path_factory.mktemp("clip") / "clip.mp4", fps=25)


def _one_line(proc: subprocess.CompletedProcess[str], *expected: str, only: bool = True) -> str:
    errors = [line for line in proc.stderr.splitlines() if line.startswith("vidseg: error:")]
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "usage:" not in proc.stderr, proc.stderr
    assert len(errors) == 1, proc.stderr
    if only:
        assert proc.stderr.strip().splitlines() == errors, proc.stderr
    for text in expected:
        assert text in errors[0], errors[0]
    return errors[0]


def test_a_checkpoint_of_another_architecture(clip, tmp_path):
    assert SYNTHETIC_MODEL.bundled is not None
    proc = _vidseg("run", str(clip), "--out", "o", "--point", "5,5", "--model", "sam2.1_hiera_tiny", "--checkpoint",
                   str(SYNTHETIC_MODEL.bundled), cwd=tmp_path)  # fmt: skip
    _one_line(proc, "another architecture", "--model sam2.1_hiera_tiny", "vidseg models")


def test_a_random_file_as_checkpoint(clip, tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(os.urandom(4096))
    proc = _vidseg("run", str(clip), "--out", "o", "--point", "5,5", "--checkpoint", str(junk), cwd=tmp_path)
    line = _one_line(proc, "not a PyTorch checkpoint")
    assert "weights_only" not in line


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("p.json", b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "is not text"),
        ("p.json", b"[" * 5000 + b"]" * 5000, "nested too deeply"),
        ("p.yaml", b"- " * 5000 + b"1", "nested too deeply"),
        ("p.yaml", b"- {id: 1, points: [[1, 2]], colour: red}", "unknown keys"),
        ("p.yaml", b"- {id: 1, points: [{x: 1}]}", "malformed"),
    ],
)
def test_bad_prompts_files(clip, tmp_path, name, content, expected):
    (tmp_path / name).write_bytes(content)
    proc = _vidseg("run", str(clip), "--out", "o", "--prompts", name, "--random-weights", cwd=tmp_path)
    _one_line(proc, expected)


def test_an_image_folder_with_mixed_sizes_names_the_file(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for k, size in enumerate([(64, 48), (64, 48), (80, 48)]):
        Image.fromarray(np.full((size[1], size[0], 3), 40 * k, np.uint8)).save(folder / f"{k:05d}.jpg")
    proc = _vidseg("run", str(folder), "--out", "o", "--point", "5,5", "--random-weights", "--image-size", "64",
                   cwd=tmp_path)  # fmt: skip
    _one_line(proc, "00002.jpg", "80x48", "64x48", only=False)


def test_an_audio_only_file_lists_its_audio_stream(tmp_path):
    path = tmp_path / "sound.mka"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = 8000, 0, Fraction(1, 8000)
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    proc = _vidseg("info", str(path), cwd=tmp_path)
    _one_line(proc, "has no video stream", "audio (pcm_s16le)")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--point", "-3:100,100"], "cannot read --point '-3:100,100'"),
        (["--point", "5,5", "--start=-1"], "--start must be a time >= 0"),
        (["--point", "5,5", "--end", "-2"], "--end must be a time >= 0"),
        (["--point", "5,5@-1"], "cannot read --point"),
        (["--point", "0:5,5"], "object id 0 is out of range"),
        (["--point", "5,5", "--config", "bad.yaml"], "must be a mapping of options"),
    ],
)
def test_bad_flags(clip, tmp_path, args, expected):
    (tmp_path / "bad.yaml").write_text("tracker: 5\n")
    proc = _vidseg("run", str(clip), "--out", "o", "--random-weights", "--image-size", "64", *args, cwd=tmp_path)
    _one_line(proc, expected)


def test_a_variable_frame_rate_file_is_not_called_damaged(tmp_path):
    """Its container declares no frame count: duration x rate is an estimate, no count to miss."""
    frames = moving_shapes_clip(num_frames=12, height=48, width=64, num_objects=1, seed=1).frames
    path = tmp_path / "vfr.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for k, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = [0, 33, 66, 100, 400, 700, 1000, 1033, 1066, 1100, 1133, 1500][k], Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    proc = _vidseg("run", str(path), "--out", "o", "--point", "30,20", "--random-weights", "--image-size", "64",
                   cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "damaged or cut short" not in proc.stderr
