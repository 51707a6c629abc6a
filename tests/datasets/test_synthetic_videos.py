"""Generated clips: reproducible, labels exactly under the drawn pixels, and the layout guarantees
(visible on frame 0, leave and return, occlusion or none) that training and J&F evaluation rely on."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from vidseg.datasets import (
    SHAPE_CLASSES,
    SHAPE_IDS,
    SyntheticVideo,
    VideoSpec,
    generate_video,
    render_background,
)
from vidseg.errors import ConfigError, InputError, VidsegError

CLEAN = {"noise_std": 0.0, "blur_sigma": 0.0, "jpeg_quality": None, "texture_noise": 0.0}


def overlap(video: SyntheticVideo, t: int, a: int, b: int) -> int:
    return int(np.count_nonzero(video.amodal_mask(t, a) & video.amodal_mask(t, b)))


@pytest.mark.parametrize("difficulty", [0.0, 0.5, 1.0])
def test_same_seed_same_clip(difficulty):
    spec = VideoSpec.at_difficulty(difficulty, num_frames=12)
    first, again = generate_video(3, spec), generate_video(3, spec)
    np.testing.assert_array_equal(first.frames, again.frames)
    np.testing.assert_array_equal(first.labels, again.labels)
    np.testing.assert_array_equal(first.class_labels, again.class_labels)
    assert [(o.shape, o.colors, o.leaves, o.crosses) for o in first.objects] == [
        (o.shape, o.colors, o.leaves, o.crosses) for o in again.objects
    ]


def test_different_seeds_differ():
    spec = VideoSpec(num_frames=6)
    clips = [generate_video(seed, spec) for seed in range(4)]
    for k, a in enumerate(clips):
        for b in clips[k + 1 :]:
            assert not np.array_equal(a.frames, b.frames)
            assert not np.array_equal(a.labels, b.labels)


def test_global_rng_untouched():
    np.random.seed(5)
    expected = np.random.random()
    np.random.seed(5)
    generate_video(0, VideoSpec(num_frames=4))
    assert np.random.random() == expected


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("difficulty", [0.3, 1.0])
def test_labels_exactly_under_drawn_pixels(seed, difficulty):
    spec = VideoSpec.at_difficulty(difficulty, num_frames=10, **CLEAN)
    video = generate_video(seed, spec)
    background = render_background(seed, spec)
    # Unlabelled pixels show the background untouched.
    unlabelled = video.labels == 0
    np.testing.assert_array_equal(video.frames[unlabelled], background[unlabelled])
    for obj in video.objects:
        labelled = video.labels == obj.obj_id
        assert labelled.any()
        # Labelled pixels carry the object's texture: colours between its two texture colours.
        first, second = (np.asarray(c, float) for c in obj.colors)
        pixels = video.frames[labelled].astype(float)
        along = second - first
        share = np.clip((pixels - first) @ along / max(float(along @ along), 1e-9), 0, 1)
        off_texture = np.linalg.norm(pixels - (first + share[:, None] * along), axis=1)
        assert off_texture.max() <= 2.0, f"object {obj.obj_id}: a labelled pixel is not its texture"
        for t in range(video.num_frames):
            # The label is the object's shape wherever no object lies on top of it.
            whole = video.amodal_mask(t, obj.obj_id)
            assert not (labelled[t] & ~whole).any()
            assert (video.labels[t][whole] != 0).all()
    lut = np.zeros(256, np.uint8)
    for obj_id, class_id in video.object_classes.items():
        lut[obj_id] = class_id
    np.testing.assert_array_equal(video.class_labels, lut[video.labels])
    assert set(np.unique(video.labels)) <= {0, *video.object_ids}


@pytest.mark.parametrize(("low", "high"), [(0.05, 0.2), (0.45, 0.9)], ids=["low-contrast", "high-contrast"])
def test_object_colours_keep_the_asked_contrast(low, high):
    spec = VideoSpec(num_frames=1, min_contrast=low, max_contrast=high)
    for seed in range(6):
        video = generate_video(seed, spec)
        background = render_background(seed, spec).reshape(-1, 3).astype(float)
        for obj in video.objects:
            for color in obj.colors:
                # Contrast to a background: the distance to its nearest 5% of pixels.
                contrast = np.quantile(np.linalg.norm(background - np.asarray(color, float), axis=1), 0.05) / 255
                assert 0.9 * low <= contrast <= 1.1 * high, f"seed {seed}, object {obj.obj_id}: contrast {contrast:.2f}"


def test_camera_effects_change_pixels_not_labels():
    spec = VideoSpec(num_frames=6, noise_std=0.0)
    clean = generate_video(4, spec)
    noisy = generate_video(4, dataclasses.replace(spec, noise_std=6.0, blur_sigma=0.8, jpeg_quality=70))
    np.testing.assert_array_equal(clean.labels, noisy.labels)
    difference = np.abs(clean.frames.astype(int) - noisy.frames.astype(int))
    assert 1.0 < difference.mean() < 30.0


CROWDED = {"min_objects": 5, "max_objects": 5, "min_size": 0.25, "max_size": 0.32, "occlusion_prob": 1.0}


@pytest.mark.parametrize(("difficulty", "changes"), [(0.0, {}), (0.5, {}), (1.0, {}), (1.0, CROWDED)])
def test_every_object_visible_on_frame_0(difficulty, changes):
    spec = VideoSpec.at_difficulty(difficulty, num_frames=2, **changes)
    for seed in range(12):
        video = generate_video(seed, spec)
        assert spec.min_objects <= len(video.objects) <= spec.max_objects
        for obj in video.objects:
            assert video.first_visible(obj.obj_id) == 0
            amodal = video.amodal_mask(0, obj.obj_id)
            inner = amodal[1:-1, 1:-1]
            assert np.count_nonzero(inner) == np.count_nonzero(amodal), "not entirely inside frame 0"
            whole, shown = np.count_nonzero(amodal), np.count_nonzero(video.mask(0, obj.obj_id))
            assert abs(whole - obj.size**2) <= 0.1 * obj.size**2 + 4 * obj.size
            assert shown >= spec.min_first_visible * whole
            assert shown >= 0.003 * spec.height * spec.width


@pytest.mark.parametrize(("height", "width"), [(128, 128), (96, 200)])
def test_objects_leave_and_come_back(height, width):
    spec = VideoSpec(num_frames=30, height=height, width=width, leave_prob=1.0, occlusion_prob=0.0, max_objects=2)
    leavers = 0
    for seed in range(6):
        video = generate_video(seed, spec)
        for obj in video.objects:
            assert obj.leaves
            seen = video.visibility(obj.obj_id)
            hidden = np.flatnonzero(~seen)
            assert seen[0] and hidden.size >= 2, f"seed {seed}: object {obj.obj_id} never left the view"
            assert seen[hidden[-1] + 1 :].any() and seen[-2:].all(), f"seed {seed}: object {obj.obj_id} never returned"
            leavers += 1
    assert leavers >= 6


def test_no_leaving_and_no_occlusion_keeps_objects_in_view():
    spec = VideoSpec(num_frames=30, leave_prob=0.0, occlusion_prob=0.0, edge_margin=0.3, min_objects=3, max_objects=3)
    for seed in range(5):
        video = generate_video(seed, spec)
        for obj in video.objects:
            assert not obj.leaves
            assert video.visibility(obj.obj_id).all()
        for t in range(spec.num_frames):
            for a in video.object_ids:
                for b in video.object_ids:
                    assert a >= b or overlap(video, t, a, b) == 0


def test_objects_that_cannot_stay_apart_are_fewer():
    spec = VideoSpec(num_frames=12, min_objects=8, max_objects=8, min_size=0.35, max_size=0.4, occlusion_prob=0.0)
    video = generate_video(0, spec)
    assert 1 <= len(video.objects) < 8
    for t in range(spec.num_frames):
        whole = sum(np.count_nonzero(video.amodal_mask(t, k)) for k in video.object_ids)
        assert whole == np.count_nonzero(video.labels[t])


def test_occlusion_happens_when_requested():
    spec = VideoSpec(num_frames=24, occlusion_prob=1.0, leave_prob=0.0, min_objects=3, max_objects=3)
    crossings = 0
    for seed in range(6):
        video = generate_video(seed, spec)
        for obj in video.objects:
            if obj.crosses is None:
                continue
            crossings += 1
            assert any(overlap(video, t, obj.obj_id, obj.crosses) > 0 for t in range(spec.num_frames))
            # Where they overlap, one of them hides part of the other.
            t = max(range(spec.num_frames), key=lambda t: overlap(video, t, obj.obj_id, obj.crosses))
            assert np.count_nonzero(video.mask(t, obj.obj_id)) < np.count_nonzero(
                video.amodal_mask(t, obj.obj_id)
            ) or np.count_nonzero(video.mask(t, obj.crosses)) < np.count_nonzero(video.amodal_mask(t, obj.crosses))
    assert crossings >= 6


def top_of(video: SyntheticVideo, t: int, a: int, b: int) -> int | None:
    both = video.amodal_mask(t, a) & video.amodal_mask(t, b)
    if not both.any():
        return None
    shown = set(np.unique(video.labels[t][both]).tolist()) & {a, b}
    return shown.pop() if len(shown) == 1 else None


@pytest.mark.parametrize(("swap", "expect_flip"), [(0.0, False), (0.5, True)])
def test_depth_order_fixed_or_changing(swap, expect_flip):
    spec = VideoSpec(num_frames=24, occlusion_prob=1.0, leave_prob=0.0, min_objects=4, max_objects=4, z_swap_prob=swap)
    flips = 0
    for seed in range(6):
        video = generate_video(seed, spec)
        for a in video.object_ids:
            for b in video.object_ids:
                if a < b:
                    tops = {top_of(video, t, a, b) for t in range(spec.num_frames)} - {None}
                    flips += len(tops) > 1
    assert (flips > 0) == expect_flip


def test_difficulty_knobs_are_monotone():
    specs = [VideoSpec.at_difficulty(d / 10) for d in range(11)]
    increasing = ["min_objects", "max_objects", "max_speed", "acceleration", "max_rotation", "scale_change",
                  "leave_prob", "occlusion_prob", "z_swap_prob", "distractors", "noise_std", "blur_sigma"]  # fmt: skip
    decreasing = ["min_size", "max_size", "min_contrast", "max_contrast", "edge_margin"]
    for name in increasing:
        values = [getattr(s, name) for s in specs]
        assert values == sorted(values) and values[0] < values[-1], name
    for name in decreasing:
        values = [getattr(s, name) for s in specs]
        assert values == sorted(values, reverse=True) and values[0] > values[-1], name
    easy = specs[0]
    assert (easy.min_objects, easy.max_objects, easy.leave_prob, easy.occlusion_prob) == (1, 1, 0.0, 0.0)


def measure(difficulty: float) -> dict[str, float]:
    spec = VideoSpec.at_difficulty(difficulty, num_frames=16)
    counts, sizes, speeds = [], [], []
    for seed in range(8):
        video = generate_video(seed, spec)
        counts.append(len(video.objects))
        for obj in video.objects:
            sizes.append(obj.size / min(spec.height, spec.width))
            speeds.append(float(np.median(np.linalg.norm(np.diff(obj.centers, axis=0), axis=1))))
    return {"count": float(np.mean(counts)), "size": float(np.mean(sizes)), "speed": float(np.mean(speeds))}


def test_hard_clips_have_more_smaller_faster_objects():
    easy, hard = measure(0.0), measure(1.0)
    assert hard["count"] > easy["count"]
    assert hard["size"] < easy["size"]
    assert hard["speed"] > 2 * easy["speed"]


def test_large_frames():
    spec = VideoSpec.at_difficulty(0.7, num_frames=6, height=480, width=854)
    video = generate_video(1, spec)
    assert video.frames.shape == (6, 480, 854, 3) and video.labels.shape == (6, 480, 854)
    assert all(video.visible(0, obj_id) for obj_id in video.object_ids)


def test_generation_is_fast():
    spec = VideoSpec()
    generate_video(0, spec)
    start = time.perf_counter()
    for seed in range(1, 4):
        generate_video(seed, spec)
    per_frame = (time.perf_counter() - start) / (3 * spec.num_frames)
    assert per_frame < 0.05, f"{per_frame * 1000:.1f} ms per 128x128 frame; the goal is < 50"


def test_click_box_and_visibility():
    video = generate_video(2, VideoSpec(num_frames=8))
    rng = np.random.default_rng(0)
    for obj_id in video.object_ids:
        mask = video.mask(0, obj_id)
        x, y = video.click(0, obj_id)
        assert mask[y, x]
        for _ in range(5):
            x, y = video.click(0, obj_id, rng)
            assert mask[y, x]
        ys, xs = np.nonzero(mask)
        assert video.box(0, obj_id) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    # The click is away from the edge: a 3x3 neighbourhood (at least) stays inside.
    obj_id = max(video.object_ids, key=lambda k: np.count_nonzero(video.mask(0, k)))
    x, y = video.click(0, obj_id)
    assert video.mask(0, obj_id)[y - 1 : y + 2, x - 1 : x + 2].all()


def test_click_on_hidden_object_says_where_it_is_visible():
    spec = VideoSpec(num_frames=30, leave_prob=1.0, occlusion_prob=0.0, min_objects=1, max_objects=1)
    video = generate_video(0, spec)
    hidden = int(np.flatnonzero(~video.visibility(1))[0])
    assert video.box(hidden, 1) is None and not video.visible(hidden, 1)
    with pytest.raises(InputError, match=r"first_visible\(1\) = 0"):
        video.click(hidden, 1)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda v: v.mask(0, 99), "unknown object id 99"),
        (lambda v: v.visible(50, 1), "frame 50 is outside"),
        (lambda v: v.click(-1, 1), "frame -1 is outside"),
    ],
    ids=["unknown-id", "frame-past-end", "negative-frame"],
)
def test_bad_queries(call, match):
    video = generate_video(0, VideoSpec(num_frames=4))
    with pytest.raises(InputError, match=match):
        call(video)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"num_frames": 0}, "num_frames >= 1"),
        ({"height": 8}, "height and width >= 16"),
        ({"min_objects": 3, "max_objects": 2}, "min_objects <= max_objects"),
        ({"max_objects": 300}, "<= 255"),
        ({"min_size": 0.0}, "0 < min_size"),
        ({"leave_prob": 1.5}, "0 <= leave_prob <= 1"),
        ({"max_speed": -0.1}, "max_speed >= 0"),
        ({"shapes": ("hexagon",)}, "shapes a non-empty subset"),
        ({"textures": ()}, "textures a non-empty subset"),
        ({"jpeg_quality": 0}, "jpeg_quality"),
        ({"min_contrast": 0.5, "max_contrast": 0.2}, "min_contrast <= max_contrast"),
    ],
    ids=lambda v: "-".join(v) if isinstance(v, dict) else None,
)
def test_bad_spec(changes, match):
    with pytest.raises(ConfigError, match=match) as info:
        VideoSpec(**changes)
    assert isinstance(info.value, ValueError) and "at_difficulty" in str(info.value)


@pytest.mark.parametrize("difficulty", [-0.1, 1.5])
def test_bad_difficulty(difficulty):
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        VideoSpec.at_difficulty(difficulty)


@pytest.mark.parametrize("seed", [-1, 1.5, True, "3"])
def test_bad_seed(seed):
    with pytest.raises(InputError, match="seed must be an integer >= 0") as info:
        generate_video(seed)
    assert isinstance(info.value, VidsegError)


def test_spec_round_trips_through_dict():
    spec = VideoSpec.at_difficulty(0.4, num_frames=7, shapes=("disc", "star"))
    assert VideoSpec.from_dict(spec.to_dict()) == spec
    assert dataclasses.replace(spec, num_frames=8) != spec
    with pytest.raises(ConfigError, match="unknown VideoSpec fields"):
        VideoSpec.from_dict({**spec.to_dict(), "colour": 1})


def test_shape_classes_table():
    assert sorted(SHAPE_CLASSES) == list(range(1, len(SHAPE_CLASSES) + 1))
    assert {SHAPE_IDS[name] for name in SHAPE_CLASSES.values()} == set(SHAPE_CLASSES)
    seen = set()
    for seed in range(12):
        video = generate_video(seed, VideoSpec(num_frames=1, min_objects=3))
        seen |= {SHAPE_CLASSES[obj.class_id] for obj in video.objects if obj.shape == SHAPE_CLASSES[obj.class_id]}
    assert seen == set(SHAPE_CLASSES.values())
