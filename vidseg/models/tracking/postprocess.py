"""Mask post-processing: hole filling, resizing to frame size, and where a resized mask can be.

SAM 2's own hole filling needs a CUDA extension that the PyPI build lacks (the official predictor
then skips it with a warning). This is the same operation on the CPU with OpenCV: connected
components (8-connectivity) of the background (logits <= 0) whose area is at most ``max_area``
become foreground with a small positive logit, 0.1, as in ``sam2.utils.misc``.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

HOLE_LOGIT = 0.1


def fill_holes(logits: torch.Tensor, max_area: int) -> torch.Tensor:
    """Fill background components of area <= ``max_area`` in (B, 1, h, w) mask logits.

    Returns ``logits`` itself when ``max_area`` <= 0 or no hole is found.
    """
    if max_area <= 0:
        return logits
    background = (logits <= 0).squeeze(1).to("cpu", torch.uint8).numpy()
    holes = np.zeros(background.shape, dtype=bool)
    for i, bg in enumerate(background):
        count, labels, stats, _ = cv2.connectedComponentsWithStats(bg, connectivity=8)
        if count <= 1:
            continue
        small = stats[:, cv2.CC_STAT_AREA] <= max_area
        small[0] = False  # label 0 is the foreground of the mask, never a hole
        holes[i] = small[labels]
    if not holes.any():
        return logits
    hole_t = torch.from_numpy(holes).to(logits.device).unsqueeze(1)
    return torch.where(hole_t, torch.full_like(logits, HOLE_LOGIT), logits)


def to_frame_size(logits: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear resize of (B, 1, h, w) logits to (B, 1, height, width), as SAM 2 outputs them."""
    if logits.shape[-2:] == (height, width):
        return logits
    return F.interpolate(logits, size=(height, width), mode="bilinear", align_corners=False)


def _first_source_index(out_size: int, in_size: int) -> npt.NDArray[np.int64]:
    """For each output row (or column) of a bilinear resize (align_corners=False), the first of
    the two input rows it mixes (the second is the next one, clamped to the last)."""
    src = (np.arange(out_size, dtype=np.float64) + 0.5) * (in_size / out_size) - 0.5
    return np.floor(np.maximum(src, 0.0)).astype(np.int64)


def support_boxes(logits: torch.Tensor, height: int, width: int) -> npt.NDArray[np.int64]:
    """Boxes that hold every pixel where ``to_frame_size(logits, height, width) > 0``.

    A frame pixel mixes two neighbouring low-resolution rows and columns with non-negative
    weights, so it can be positive only if one of those four samples is: the box of the positive
    samples, grown by one sample and mapped to frame pixels, holds the whole resized mask. One more
    frame pixel each side absorbs rounding in the resize's source index. Reading only this box of a
    full-size mask costs as much as the object's size, not the frame's.

    Args:
        logits: (B, 1, h, w) mask logits.
        height, width: the frame size they are resized to.

    Returns:
        (B, 4) int64 (x1, y1, x2, y2), x2/y2 exclusive, clipped to the frame; (0, 0, 0, 0) where
        no logit is positive (the resized mask is then empty).
    """
    positive = (logits[:, 0] > 0).cpu().numpy()
    boxes = np.zeros((positive.shape[0], 4), dtype=np.int64)
    first_row = _first_source_index(height, positive.shape[1])
    first_col = _first_source_index(width, positive.shape[2])
    for i, samples in enumerate(positive):
        rows = np.flatnonzero(samples.any(axis=1))
        if rows.size == 0:
            continue
        cols = np.flatnonzero(samples.any(axis=0))
        # Frame pixels whose first source index lies in [first - 1, last] read a positive sample.
        y1 = int(np.searchsorted(first_row, rows[0] - 1, side="left"))
        y2 = int(np.searchsorted(first_row, rows[-1], side="right"))
        x1 = int(np.searchsorted(first_col, cols[0] - 1, side="left"))
        x2 = int(np.searchsorted(first_col, cols[-1], side="right"))
        boxes[i] = (max(0, x1 - 1), max(0, y1 - 1), min(width, x2 + 1), min(height, y2 + 1))
    return boxes
