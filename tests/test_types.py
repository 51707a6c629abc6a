"""Stage records validate themselves."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from vidseg.errors import FrameError, InputError
from vidseg.results import FrameRecord
from vidseg.types import Frame, ModelInfo, Prompt, TrackingResult, mask_box

INFO = ModelInfo("m", 64, None, None, True, "cpu", "float32")


def test_frame_validates_and_carries_timestamps():
    frame = Frame(np.zeros((4, 6, 3), np.uint8), index=3, pts=3003, time_base=Fraction(1, 30000), time=0.1001)
    assert (frame.height, frame.width) == (4, 6)
    with pytest.raises(FrameError):
        Frame(np.zeros((4, 6), np.uint8), index=0)
    with pytest.raises(InputError, match="index"):
        Frame(np.zeros((4, 6, 3), np.uint8), index=-1)


def test_prompt_kinds():
    assert Prompt(1, points=((1.0, 2.0),), labels=(1,)).kind == "points"
    assert Prompt(1, box=(0, 0, 2, 2)).kind == "box"
    assert Prompt(1, box=(0, 0, 2, 2), points=((1.0, 1.0),), labels=(0,)).kind == "box+points"
    assert Prompt(1, mask=np.ones((2, 2), bool)).kind == "mask"


def test_result_boxes_visibility_and_lookup():
    masks = np.zeros((2, 5, 8), bool)
    masks[0, 1:3, 2:6] = True
    result = TrackingResult(
        frame_index=0,
        object_ids=np.array([4, 9]),
        masks=masks,
        logits=np.where(masks, 1.0, -1.0).astype(np.float32),
        scores=np.array([0.9, 0.8], np.float32),
        model=INFO,
    )
    np.testing.assert_array_equal(result.boxes, [[2, 1, 6, 3], [0, 0, 0, 0]])
    assert result.visible().tolist() == [True, False]  # object 9 is present but its mask is empty
    assert result.mask_of(4).sum() == 8
    with pytest.raises(KeyError):
        result.mask_of(5)


def test_result_shape_checks():
    with pytest.raises(InputError, match="masks"):
        TrackingResult(
            0, np.array([1]), np.zeros((2, 4, 4), bool), np.zeros((2, 4, 4), np.float32), np.zeros(1, np.float32), INFO
        )
    with pytest.raises(InputError, match="logits"):
        TrackingResult(
            0, np.array([1]), np.zeros((1, 4, 4), bool), np.zeros((1, 4, 4), np.float64), np.zeros(1, np.float32), INFO
        )
    with pytest.raises(InputError, match="regions"):
        TrackingResult(
            0, np.array([1]), np.zeros((1, 4, 4), bool), np.zeros((1, 4, 4), np.float32), np.zeros(1, np.float32), INFO,
            regions=np.zeros((2, 4), np.int64),
        )  # fmt: skip


def test_regions_limit_where_boxes_are_looked_for():
    """A result's regions only narrow the search: boxes, and records built from them, are the
    same as from a full scan (tracker-made regions: tests/models/tracking/test_postprocess.py)."""
    masks = np.zeros((2, 30, 40), bool)
    masks[0, 3:9, 20:31] = True
    masks[1, 25:27, 0:2] = True
    kwargs = dict(frame_index=0, object_ids=np.array([1, 2]), masks=masks,
                  logits=np.where(masks, 1.0, -1.0).astype(np.float32), scores=np.ones(2, np.float32), model=INFO)  # fmt: skip
    plain = TrackingResult(**kwargs)  # type: ignore[arg-type]
    hinted = TrackingResult(**kwargs, regions=np.array([[18, 1, 35, 12], [0, 22, 5, 30]]))  # type: ignore[arg-type]
    np.testing.assert_array_equal(hinted.boxes, plain.boxes)
    np.testing.assert_array_equal(plain.boxes, [[20, 3, 31, 9], [0, 25, 2, 27]])
    frame = Frame(np.zeros((30, 40, 3), np.uint8), index=0)
    assert FrameRecord.build(frame, hinted).to_json() == FrameRecord.build(frame, plain).to_json()
    # A region that misses part of the mask is the producer's bug, and shows as a smaller box.
    cut = TrackingResult(**kwargs, regions=np.array([[18, 1, 25, 12], [0, 22, 5, 30]]))  # type: ignore[arg-type]
    assert cut.boxes[0].tolist() == [20, 3, 25, 9]
    with pytest.raises(InputError, match="region"):
        mask_box(masks[0], within=(-1, 0, 5, 5))


def test_a_result_without_objects_has_empty_boxes_and_visibility():
    result = TrackingResult(
        frame_index=0,
        object_ids=np.zeros(0, np.int64),
        masks=np.zeros((0, 5, 8), bool),
        logits=np.zeros((0, 5, 8), np.float32),
        scores=np.zeros(0, np.float32),
        model=INFO,
    )
    assert result.visible().shape == (0,) and result.boxes.shape == (0, 4)
