"""COCO RLE and label maps."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from vidseg.errors import InputError
from vidseg.masks import Rle, decode_rle, encode_rle, exclusive_masks, summarize_mask, to_label_map
from vidseg.types import mask_box


def test_rle_round_trip_and_pycocotools_agreement():
    rng = np.random.default_rng(0)
    mask = rng.random((31, 45)) > 0.6
    rle = encode_rle(mask)
    assert rle.size == (31, 45) and isinstance(rle.counts, str)
    np.testing.assert_array_equal(decode_rle(rle), mask)
    assert coco_mask.area({"size": [31, 45], "counts": rle.counts.encode()}) == mask.sum()
    assert Rle.from_json(rle.to_json()) == rle


def test_bad_rle():
    with pytest.raises(InputError):
        Rle.from_json({"size": [2, 2]})
    with pytest.raises(InputError):
        Rle.from_json({"size": [2, 2], "counts": [1, 2, 1]})


def test_boxes():
    mask = np.zeros((10, 10), bool)
    assert mask_box(mask) is None
    mask[2:5, 3:9] = True
    assert mask_box(mask) == (3, 2, 9, 5)


def test_label_map_later_objects_win_and_dtype():
    masks = np.zeros((2, 4, 4), bool)
    masks[0, :2] = True
    masks[1, 1:3] = True
    labels = to_label_map(masks, [5, 300])
    assert labels.dtype == np.uint16
    assert labels[:, 0].tolist() == [5, 300, 300, 0]
    with pytest.raises(InputError, match="background"):
        to_label_map(masks, [0, 1])


def test_exclusive_masks_give_each_pixel_to_the_higher_logit():
    masks = np.zeros((3, 1, 4), bool)
    masks[0, 0, :3] = True
    masks[1, 0, 1:] = True
    logits = np.zeros((3, 1, 4), np.float32)
    logits[0, 0] = [5, 5, 1, 0]
    logits[1, 0] = [0, 2, 3, 4]
    out = exclusive_masks(masks, logits)
    assert out[0, 0].tolist() == [True, True, False, False]
    assert out[1, 0].tolist() == [False, False, True, True]
    assert not out[2].any() and out.sum(axis=0).max() == 1
    np.testing.assert_array_equal(exclusive_masks(masks[:1], logits[:1]), masks[:1])


def test_encode_rle_gives_pycocotools_strings_for_any_mask():
    from pycocotools import mask as coco_mask

    rng = np.random.default_rng(0)
    cases = [np.zeros((5, 7), bool), np.ones((5, 7), bool), np.ones((1, 1), bool), np.zeros((1, 1), bool)]
    for _ in range(200):
        height, width = (int(v) for v in rng.integers(1, 40, 2))
        mask = rng.random((height, width)) < rng.random()
        cases.append(mask)
        edge = np.zeros((height, width), bool)
        edge[:, -1] = True  # touching the right border, where the trailing run is empty
        cases.append(edge)
    for mask in cases:
        expected = coco_mask.encode(np.asfortranarray(mask, dtype=np.uint8))["counts"].decode()
        assert encode_rle(mask).counts == expected, mask.shape
        assert np.array_equal(decode_rle(encode_rle(mask)), mask)
        summary = summarize_mask(mask)
        assert summary.box == mask_box(mask) and summary.area == mask.sum() and summary.rle.counts == expected
        # Any region that holds the whole mask gives the same summary, reading only that region.
        height, width = mask.shape
        x1, y1, x2, y2 = summary.box or (0, 0, 0, 0)
        region = (int(rng.integers(0, x1 + 1)), int(rng.integers(0, y1 + 1)),
                  int(rng.integers(x2, width + 1)), int(rng.integers(y2, height + 1)))  # fmt: skip
        assert summarize_mask(mask, region) == summary, (mask.shape, region)


def test_summary_region_must_lie_inside_the_mask():
    with pytest.raises(InputError, match="region"):
        summarize_mask(np.zeros((4, 5), bool), (0, 0, 6, 4))
    with pytest.raises(InputError, match="HxW"):
        summarize_mask(np.zeros((2, 4, 5), bool))


@pytest.mark.parametrize(
    ("size", "counts", "why"),
    [
        ([4, 4], "0?2", "add up to more"),  # runs 0, 15, 2: one pixel past the mask
        ([2, 2], "05", "must lie in 0..4"),
        ([2, 2], "2", "add up to 2"),
        ([2, 2], "0P", "end in the middle"),
        ([2, 2], "0\x7f", "expected characters"),
        ([100000, 100000], "0", "add up to 0"),
    ],
)
def test_untrusted_rle_is_checked_before_decoding(size, counts, why):
    """pycocotools writes past its buffer when runs add up to more than the mask: checked first."""
    with pytest.raises(InputError, match=why):
        decode_rle(Rle.from_json({"size": size, "counts": counts}))
