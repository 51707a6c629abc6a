"""Hole filling without SAM 2's CUDA extension."""

from __future__ import annotations

import torch

from vidseg.tracking.postprocess import HOLE_LOGIT, fill_holes, to_frame_size


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
