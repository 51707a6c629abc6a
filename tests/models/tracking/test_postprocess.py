"""Hole filling without SAM 2's CUDA extension; resizing to frame size; where a resized mask can be."""

from __future__ import annotations

import numpy as np
import torch

from vidseg.models.tracking.postprocess import HOLE_LOGIT, fill_holes, support_boxes, to_frame_size
from vidseg.types import mask_box


def test_small_background_components_are_filled():
    logits = torch.full((2, 1, 16, 16), 3.0)
    logits[0, 0, 4:6, 4:6] = -2.0  # a 4-pixel hole: filled
    logits[0, 0, 10:13, 10:13] = -2.0  # a 9-pixel hole: kept (max_area 8)
    logits[1, 0, 0:2, 0:16] = -1.0  # a 32-pixel band: kept
    filled = fill_holes(logits, max_area=8)
    assert torch.all(filled[0, 0, 4:6, 4:6] == HOLE_LOGIT)
    assert torch.all(filled[0, 0, 10:13, 10:13] == -2.0)
    assert torch.equal(filled[1], logits[1])
    assert torch.equal(fill_holes(logits, max_area=0), logits)


def test_diagonal_pixels_join_one_component():
    """8-connectivity, as SAM 2's kernel: two diagonal 4-pixel blocks form one 8-pixel hole."""
    logits = torch.full((1, 1, 12, 12), 1.0)
    logits[0, 0, 2:4, 2:4] = -1.0
    logits[0, 0, 4:6, 4:6] = -1.0
    assert torch.all(fill_holes(logits, max_area=8)[0, 0, 2:6, 2:6].ge(0))
    assert torch.all(fill_holes(logits, max_area=7)[0, 0, 2:4, 2:4] == -1.0)


def test_resize_to_frame_size():
    logits = torch.randn(3, 1, 16, 16)
    assert to_frame_size(logits, 16, 16) is logits
    assert to_frame_size(logits, 45, 31).shape == (3, 1, 45, 31)


def _tight_box(mask: torch.Tensor) -> tuple[int, int, int, int] | None:
    ys, xs = torch.nonzero(mask, as_tuple=True)
    if ys.numel() == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def test_support_boxes_hold_every_positive_pixel_of_the_resized_mask():
    """Up- and down-scaling, odd sizes, masks touching the borders, single positive samples: the
    box always contains the resized mask, and stays within a few frame pixels of it."""
    gen = torch.Generator().manual_seed(0)
    checked = 0
    for low, (height, width) in [(16, (45, 80)), (32, (720, 1280)), (16, (16, 16)), (32, (20, 13)), (24, (301, 97))]:
        for trial in range(12):
            logits = torch.full((3, 1, low, low), -5.0)
            y, x = torch.randint(0, low - 2, (2,), generator=gen).tolist()
            h, w = torch.randint(1, low - max(y, x), (2,), generator=gen).tolist()
            logits[0, 0, y : y + h, x : x + w] = torch.rand(h, w, generator=gen) * 4 - 1  # a noisy blob
            logits[1, 0, trial % low, (3 * trial) % low] = 0.3  # one positive sample
            # logits[2] stays negative: an empty mask
            resized = to_frame_size(logits, height, width)[:, 0] > 0
            boxes = support_boxes(logits, height, width)
            for k in range(3):
                tight = _tight_box(resized[k])
                if tight is None:
                    continue
                x1, y1, x2, y2 = boxes[k].tolist()
                assert x1 <= tight[0] and y1 <= tight[1] and x2 >= tight[2] and y2 >= tight[3], (low, height, width)
                margin_x, margin_y = 2 * width / low + 2, 2 * height / low + 2  # at most ~2 samples wider
                assert tight[0] - x1 <= margin_x and x2 - tight[2] <= margin_x
                assert tight[1] - y1 <= margin_y and y2 - tight[3] <= margin_y
                checked += 1
            assert boxes[2].tolist() == [0, 0, 0, 0]
    assert checked > 60


def test_tracker_style_regions_give_the_same_box_as_a_full_scan():
    logits = torch.full((1, 1, 32, 32), -3.0)
    logits[0, 0, 5:20, 7:11] = 2.0
    mask = (to_frame_size(logits, 90, 160)[0, 0] > 0).numpy()
    region = support_boxes(logits, 90, 160)[0]
    assert mask_box(mask, within=region) == mask_box(mask)
    assert mask_box(np.zeros_like(mask), within=region) is None


def test_support_boxes_at_sizes_where_the_resize_rounds_its_source_index_differently():
    """One positive row or column at every place, over size pairs where float32 and float64
    source indices differ (PyTorch computes in float32): the box still holds the mask."""
    for low, out in [(256, 720), (256, 1080), (64, 1000), (37, 1999), (256, 4320), (100, 3), (7, 299)]:
        for place in range(low):
            logits = torch.full((2, 1, low, 3), -1.0)
            logits[0, 0, place, 1] = 2.0  # one positive sample in row ``place``
            logits[1, 0, place, :] = 0.5
            resized = to_frame_size(logits, out, 5)[:, 0] > 0
            boxes = support_boxes(logits, out, 5)
            for k in range(2):
                rows = torch.nonzero(resized[k].any(dim=1)).flatten()
                if rows.numel():
                    assert boxes[k, 1] <= int(rows.min()) and boxes[k, 3] >= int(rows.max()) + 1, (low, out, place)
