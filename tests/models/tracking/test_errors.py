"""Bad input raises a clear VidsegError subclass (that also is the matching builtin)."""

from __future__ import annotations

import numpy as np
import pytest

from vidseg.errors import ConfigError, DeviceError, FrameError, PromptError, UnknownModelError, VidsegError
from vidseg.models.tracking import MODELS, build_tracker, get_model_spec


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(UnknownModelError, match=r"sam2\.1_hiera_tiny") as info:
        build_tracker("sam3_giant", random_weights=True)
    assert isinstance(info.value, VidsegError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize("alias", ["sam2.1_hiera_t", "SAM2.1-hiera-tiny", "sam2.1_hiera_tiny.pt"])
def test_model_aliases(alias):
    assert get_model_spec(alias).name == "sam2.1_hiera_tiny"


@pytest.mark.parametrize("size", [100, 0, 16, 48])
def test_bad_image_size(size):
    with pytest.raises(ConfigError, match="multiple of 32"):
        build_tracker("sam2.1_hiera_tiny", random_weights=True, image_size=size, device="cpu")


def test_random_weights_and_checkpoint_conflict(tmp_path):
    with pytest.raises(ConfigError, match="choose one"):
        build_tracker("sam2.1_hiera_tiny", tmp_path / "x.pt", random_weights=True, device="cpu")


def test_cuda_requested_without_cuda():
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(DeviceError, match="--device cpu"):
        build_tracker("sam2.1_hiera_tiny", random_weights=True, image_size=64, device="cuda")


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (np.zeros((32, 32), dtype=np.uint8), "3 RGB channels"),
        (np.zeros((32, 32, 4), dtype=np.uint8), "3 RGB channels"),
        (np.zeros((32, 32, 3), dtype=np.float32), "dtype uint8"),
        (np.zeros((0, 32, 3), dtype=np.uint8), "must not be empty"),
        ([[0, 0, 0]], "numpy array"),
    ],
    ids=["gray", "rgba", "float", "empty", "list"],
)
def test_bad_frames(make_tracker, frame, match):
    tracker = make_tracker(image_size=64)
    with pytest.raises(FrameError, match=match):
        tracker.step(frame)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"points": [(10, 10)], "labels": [1, 0]}, "one label"),
        ({"points": [(10, 10)], "labels": [5]}, "1 \\(positive\\) or 0"),
        ({"box": (30, 30, 10, 40)}, "x1 < x2"),
        ({"mask": np.zeros((40, 60), dtype=bool)}, "empty"),
        ({"mask": np.ones((40, 60), dtype=np.uint8)}, "dtype bool"),
        ({}, "no points, box or mask"),
        ({"mask": np.ones((40, 60), dtype=bool), "points": [(1, 1)]}, "cannot be combined"),
    ],
    ids=["labels-count", "label-value", "box-order", "empty-mask", "mask-dtype", "nothing", "mask-and-points"],
)
def test_malformed_prompts(make_tracker, kwargs, match):
    tracker = make_tracker(image_size=64)
    with pytest.raises(PromptError, match=match):
        tracker.add_prompt(1, **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [{"points": [(70, 10)]}, {"points": [(10, -1)]}, {"box": (61, 0, 90, 20)}, {"mask": np.ones((20, 20), dtype=bool)}],
    ids=["point-right", "point-above", "box-outside", "mask-size"],
)
def test_prompt_outside_the_frame(make_tracker, kwargs):
    frame = np.zeros((40, 60, 3), dtype=np.uint8)
    # Checked at step time before any frame was seen ...
    tracker = make_tracker(image_size=64)
    tracker.add_prompt(1, **kwargs)
    with pytest.raises(PromptError, match=r"outside|shape"):
        tracker.step(frame)
    # ... the bad prompt is dropped and the tracker goes on ...
    assert len(tracker.step(frame)) == 0
    # ... and at add time once the frame size is known.
    with pytest.raises(PromptError, match=r"outside|shape"):
        tracker.add_prompt(2, **kwargs)


def test_remove_unknown_object(make_tracker):
    tracker = make_tracker(image_size=64)
    with pytest.raises(PromptError, match="not tracked"):
        tracker.remove_object(7)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"obj_id": 1, "points": [(1, 2, 3)]},
        {"obj_id": 1, "points": [5, 6]},
        {"obj_id": 1, "points": [(1, 2)], "labels": ["a"]},
        {"obj_id": "x", "points": [(1, 2)]},
        {"obj_id": True, "points": [(1, 2)]},
        {"obj_id": 3.7, "points": [(1, 2)]},
        {"obj_id": -1, "points": [(1, 2)]},
        {"obj_id": 1, "box": (1, 2, 3)},
        {"obj_id": 1, "box": "abcd"},
    ],
    ids=["triple", "flat", "label-str", "id-str", "id-bool", "id-float", "id-negative", "box-3", "box-str"],
)
def test_prompt_values_of_the_wrong_shape(make_tracker, kwargs):
    tracker = make_tracker(image_size=64)
    with pytest.raises(PromptError):
        tracker.add_prompt(**kwargs)
    with pytest.raises(PromptError):
        tracker.refine(**kwargs)


def test_numpy_ids_and_coordinates_are_accepted(make_tracker):
    tracker = make_tracker(image_size=64)
    prompt = tracker.add_prompt(np.int64(3), points=np.array([[4.0, 5.0]]), labels=np.array([1]))
    assert type(prompt.obj_id) is int and prompt.points == ((4.0, 5.0),)


def test_refine_before_any_frame(make_tracker):
    with pytest.raises(PromptError, match="step a frame first"):
        make_tracker(image_size=64).refine(1, points=[(1, 1)])


def test_max_cond_frames_must_be_positive():
    with pytest.raises(ConfigError, match="max_cond_frames"):
        build_tracker("sam2.1_hiera_tiny", random_weights=True, image_size=64, device="cpu", max_cond_frames=0)


def test_a_failed_step_leaves_no_half_built_object(make_tracker, clip24, monkeypatch):
    tracker = make_tracker(image_size=64)
    tracker.add_prompt(1, points=[clip24.center(0, 1)])
    real = tracker.model.track_step

    def failing(*args, **kwargs):
        raise RuntimeError("out of memory (injected)")

    monkeypatch.setattr(tracker.model, "track_step", failing)
    with pytest.raises(RuntimeError, match="injected"):
        tracker.step(clip24.frames[0])
    assert tracker.object_ids == () and tracker.frame_index == 0
    monkeypatch.setattr(tracker.model, "track_step", real)
    assert tracker.step(clip24.frames[0]).object_ids.tolist() == [1]  # the prompt was kept


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_size_builds_and_tracks(name, clip24):
    """All SAM 2 and SAM 2.1 configs from the sam2 package build (random weights, 64 px) and step."""
    tracker = build_tracker(name, random_weights=True, image_size=64, device="cpu")
    tracker.add_prompt(1, box=clip24.box(0, 1))
    result = tracker.step(clip24.frames[0])
    assert result.object_ids.tolist() == [1] and result.logits.shape == (1, 240, 320)
    assert tracker.info.name == name
