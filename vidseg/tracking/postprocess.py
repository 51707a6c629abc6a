"""Mask post-processing: hole filling and resizing to frame size.

SAM 2's own hole filling needs a CUDA extension that the PyPI build lacks (the official predictor
then skips it with a warning). This is the same operation on the CPU with OpenCV: connected
components (8-connectivity) of the background (logits <= 0) whose area is at most ``max_area``
become foreground with a small positive logit, 0.1, as in ``sam2.utils.misc``.
"""

from __future__ import annotations

import cv2
import numpy as np
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
