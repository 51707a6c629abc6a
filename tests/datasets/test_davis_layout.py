"""The DAVIS layout: generated datasets round-trip, real DAVIS 2017 folders read, and broken
folders fail with errors that say what was expected."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from PIL import Image

import vidseg
from vidseg.datasets import VideoSpec, generate_video, list_videos, load_dataset, load_video, write_davis_dataset
from vidseg.errors import InputError, SinkError, SourceNotFoundError, VidsegError
from vidseg.formats.davis import davis_palette

SPEC = VideoSpec(num_frames=5, height=48, width=64, min_objects=2, max_objects=3)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    names = write_davis_dataset(root, [42, 7], SPEC, progress=False)
    return root, names


def test_round_trip(dataset):
    root, names = dataset
    assert names == ["synth_00042", "synth_00007"]
    assert list_videos(root) == sorted(names)
    assert list_videos(root, split="train") == names
    for seed, name in zip([42, 7], names, strict=True):
        original = generate_video(seed, SPEC)
        video = load_video(root, name)
        assert video.name == name and video.frame_names == ("00000", "00001", "00002", "00003", "00004")
        np.testing.assert_array_equal(video.labels, original.labels)
        assert video.object_ids == original.object_ids
        error = np.abs(video.frames.astype(int) - original.frames.astype(int))
        assert video.frames.shape == original.frames.shape and error.mean() < 5.0


def test_annotations_are_davis_palette_pngs(dataset):
    root, names = dataset
    with Image.open(root / "Annotations" / names[0] / "00000.png") as image:
        assert image.mode == "P"
        assert image.getpalette()[: 3 * 8] == davis_palette()[: 3 * 8]
    assert sorted(p.name for p in (root / "JPEGImages" / names[0]).iterdir())[0] == "00000.jpg"


def test_meta(dataset):
    root, names = dataset
    meta = json.loads((root / "meta.json").read_text())
    assert meta["vidseg_version"] == vidseg.__version__
    assert meta["classes"]["1"] == "disc"
    videos = meta["splits"]["train"]
    assert [videos[name]["seed"] for name in names] == [42, 7]
    assert VideoSpec.from_dict(meta["specs"][videos[names[0]]["spec"]]) == SPEC
    original = generate_video(7, SPEC)
    assert videos["synth_00007"]["objects"] == {str(k): v for k, v in original.object_classes.items()}


def test_splits_share_a_root_and_overwrite_is_explicit(tmp_path, caplog):
    easy = VideoSpec.at_difficulty(0.0, num_frames=2, height=32, width=32)
    with caplog.at_level(logging.INFO):
        write_davis_dataset(tmp_path, [1, 2], easy, split="train", progress=False)
    assert "wrote 2 videos" in caplog.text
    write_davis_dataset(tmp_path, [3], SPEC, split="val", progress=False)
    assert list_videos(tmp_path, "train") == ["synth_00001", "synth_00002"]
    assert list_videos(tmp_path, "val") == ["synth_00003"]
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert len(meta["specs"]) == 2 and set(meta["splits"]) == {"train", "val"}
    with pytest.raises(SinkError, match="overwrite=True"):
        write_davis_dataset(tmp_path, [2, 9], easy, progress=False)
    longer = VideoSpec.at_difficulty(0.0, num_frames=3, height=32, width=32)
    write_davis_dataset(tmp_path, [2], longer, overwrite=True, progress=False)
    assert load_video(tmp_path, "synth_00002").num_frames == 3
    shorter = VideoSpec.at_difficulty(0.0, num_frames=1, height=32, width=32)
    write_davis_dataset(tmp_path, [2], shorter, overwrite=True, progress=False)
    assert load_video(tmp_path, "synth_00002").num_frames == 1
    assert list_videos(tmp_path, "train") == ["synth_00001", "synth_00002"]
    assert [v.name for v in load_dataset(tmp_path, "train")] == ["synth_00001", "synth_00002"]


def write_davis2017(root, name="bear", frames=3, size=(40, 30)):
    """A miniature DAVIS 2017 release: 480p level, palette PNGs, ImageSets per year."""
    rng = np.random.default_rng(0)
    width, height = size
    for t in range(frames):
        for kind in ("JPEGImages", "Annotations"):
            (root / kind / "480p" / name).mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(
            root / "JPEGImages" / "480p" / name / f"{t:05d}.jpg"
        )
        labels = np.zeros((height, width), np.uint8)
        labels[5:15, 5 + t : 20 + t] = 1
        labels[20:, :10] = 2
        png = Image.fromarray(labels, mode="P")
        png.putpalette(davis_palette())
        png.save(root / "Annotations" / "480p" / name / f"{t:05d}.png")
    for year, names in (("2016", ""), ("2017", f"{name}\n")):
        (root / "ImageSets" / year).mkdir(parents=True, exist_ok=True)
        (root / "ImageSets" / year / "train.txt").write_text(names)


def test_reads_davis_2017_folders(tmp_path):
    write_davis2017(tmp_path)
    assert list_videos(tmp_path) == ["bear"]
    assert list_videos(tmp_path, "train") == ["bear"]  # the newest year's image set
    video = load_video(tmp_path, "bear")
    assert video.frames.shape == (3, 30, 40, 3) and video.labels.shape == (3, 30, 40)
    assert video.object_ids == (1, 2)
    assert int(video.labels[2, 10, 21]) == 1 and int(video.labels[0, 10, 21]) == 0
    assert load_video(tmp_path, "bear", resolution="480p").num_frames == 3
    with pytest.raises(SourceNotFoundError, match="Full-Resolution does not exist"):
        load_video(tmp_path, "bear", resolution="Full-Resolution")


def break_missing_annotations(root):
    for png in (root / "Annotations" / "480p" / "bear").iterdir():
        png.unlink()
    (root / "Annotations" / "480p" / "bear").rmdir()


def break_frame_count(root):
    (root / "Annotations" / "480p" / "bear" / "00002.png").unlink()


def break_frame_size(root):
    Image.new("RGB", (50, 30)).save(root / "JPEGImages" / "480p" / "bear" / "00001.jpg")


def break_label_size(root):
    Image.new("P", (40, 31)).save(root / "Annotations" / "480p" / "bear" / "00001.png")


def break_label_mode(root):
    Image.new("RGB", (40, 30)).save(root / "Annotations" / "480p" / "bear" / "00001.png")


def break_frame_file(root):
    (root / "JPEGImages" / "480p" / "bear" / "00001.jpg").write_bytes(b"not a jpeg")


@pytest.mark.parametrize(
    ("damage", "error", "match"),
    [
        (break_missing_annotations, SourceNotFoundError, "no annotations: expected .*Annotations/480p/bear"),
        (break_frame_count, InputError, r"3 JPEG frames .* 2 PNG annotations .*without a PNG: \['00002'\]"),
        (break_frame_size, InputError, "size 50x30, expected 40x30"),
        (break_label_size, InputError, "size 40x31, expected 40x30"),
        (break_label_mode, InputError, "found mode RGB"),
        (break_frame_file, InputError, "cannot read .*00001.jpg"),
    ],
    ids=["missing-annotations", "frame-count", "frame-size", "label-size", "label-mode", "corrupt-frame"],
)
def test_broken_video(tmp_path, damage, error, match):
    write_davis2017(tmp_path)
    damage(tmp_path)
    with pytest.raises(error, match=match) as info:
        load_video(tmp_path, "bear")
    assert isinstance(info.value, VidsegError)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda root: list_videos(root / "missing"), "does not exist; expected a DAVIS-layout folder"),
        (lambda root: load_video(root, "cat"), r"video 'cat' not found.*\['bear'\]"),
        (lambda root: list_videos(root, split="test-dev"), "no image set for split 'test-dev'"),
        (lambda root: list_videos(root / "JPEGImages"), "has no JPEGImages/ folder"),
    ],
    ids=["missing-root", "unknown-video", "unknown-split", "not-a-dataset"],
)
def test_not_found(tmp_path, call, match):
    write_davis2017(tmp_path)
    with pytest.raises(SourceNotFoundError, match=match) as info:
        call(tmp_path)
    assert isinstance(info.value, FileNotFoundError)


@pytest.mark.parametrize(
    ("seeds", "options", "match"),
    [
        ([1, 1], {}, "distinct"),
        ([-3], {}, "integers >= 0"),
        ([1.5], {}, "integers >= 0"),
        ([1], {"jpeg_quality": 0}, "jpeg_quality"),
        ([1], {"split": "../x"}, "plain file name"),
    ],
    ids=["repeated", "negative", "float", "quality", "split-path"],
)
def test_bad_write_arguments(tmp_path, seeds, options, match):
    with pytest.raises(InputError, match=match):
        write_davis_dataset(tmp_path, seeds, SPEC, progress=False, **options)
    assert not (tmp_path / "JPEGImages").exists()
