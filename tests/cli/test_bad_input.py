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


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--point", "5,5", "--every", "0"], "--every must be >= 1"),
        (["--point", "5,5", "--max-frames", "0"], "max-frames must be >= 1"),
        (["--point", "5,5", "--object-limit", "0"], "--object-limit must be a whole number"),
        (["--point", "5,5", "--start", "2", "--end", "1"], "is before --start"),
        (["--point=-3:5,5"], "cannot read --point"),
    ],
)
def test_bad_arguments_are_answered_before_the_models_code_is_imported(clip, tmp_path, args, expected):
    """What can be checked without torch is checked first (a bad argument is answered at once)."""
    code = ("import sys; from vidseg.cli.main import main; "
            f"rc = main({['run', str(clip), '--out', 'o', *args]!r}); print('torch' in sys.modules, rc)")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert proc.stdout.split() == ["False", "2"], proc.stdout + proc.stderr
    assert expected in proc.stderr


def test_a_class_the_semantic_model_lacks_is_refused_before_any_model_loads(clip, tmp_path):
    proc = _vidseg("run", str(clip), "--out", "o", "--model", SYNTHETIC_MODEL.name, "--semantic", "vidseg_unet_synthetic",
                   "--track-class", "car", cwd=tmp_path)  # fmt: skip
    _one_line(proc, "'car' is not a class of vidseg_unet_synthetic", "disc", only=False)
    assert "loaded" not in proc.stderr  # neither the tracker nor the semantic model was built


def test_offline_without_the_default_checkpoint_names_the_shipped_model(clip, tmp_path):
    proc = _vidseg("run", str(clip), "--out", "o", "--point", "5,5", "--no-download", cwd=tmp_path)
    _one_line(proc, "--model vidseg_synthetic_tiny", "--random-weights")


def test_mask_rcnn_weights_can_be_given_as_its_error_says(clip, tmp_path):
    proc = _vidseg("run", str(clip), "--out", "o", "--proposer", "maskrcnn", "--track-class", "person", "--no-download",
                   "--model", SYNTHETIC_MODEL.name, cwd=tmp_path)  # fmt: skip
    line = _one_line(proc, "--proposer-checkpoint", only=False)
    junk = tmp_path / "maskrcnn.pth"
    junk.write_bytes(os.urandom(1024))
    proc = _vidseg("run", str(clip), "--out", "o2", "--proposer", "maskrcnn", "--track-class", "person",
                   "--proposer-checkpoint", str(junk), "--model", SYNTHETIC_MODEL.name, cwd=tmp_path)  # fmt: skip
    _one_line(proc, "cannot load Mask R-CNN weights", str(junk), only=False)
    assert line


def test_a_davis_annotation_of_several_objects_given_as_one_mask(clip, tmp_path):
    from vidseg.errors import PromptError
    from vidseg.prompts.spec import load_mask, parse_cli_prompts

    labels = np.zeros((48, 64), np.uint8)
    labels[5:15, 5:15], labels[20:30, 30:40], labels[35:45, 50:60] = 1, 2, 3
    image = Image.fromarray(labels, mode="P")
    image.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0] + [0] * (256 * 3 - 12))
    image.save(tmp_path / "00000.png")
    (prompt,) = parse_cli_prompts(masks=[f"2:{tmp_path / '00000.png'}"])
    assert prompt.prompt.mask is not None and np.array_equal(prompt.prompt.mask, labels == 2)
    with pytest.raises(PromptError, match=r"holds 3 labels \[1, 2, 3\].*--mask 1:00000.png"):
        load_mask(tmp_path / "00000.png", 7)
    binary = tmp_path / "binary.png"
    Image.fromarray((labels > 0).astype(np.uint8) * 255).save(binary)  # one object: its non-zero pixels
    assert np.array_equal(load_mask(binary, 7), labels > 0)


def test_an_image_size_far_from_the_models_own_is_warned(caplog):
    from vidseg.models.tracking import build_model

    build_model(SYNTHETIC_MODEL.name, image_size=1024, device="cpu")
    assert "trained at image size 128; it runs at 1024" in caplog.text
    caplog.clear()
    build_model(SYNTHETIC_MODEL.name, device="cpu")
    assert "trained at image size" not in caplog.text
