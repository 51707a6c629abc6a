"""Drawing masks over frames: a colour per object id, an outline, and the id as a label."""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

from vidseg.types import BoolArray, ImageArray, IntArray


def color_of(obj_id: int) -> tuple[int, int, int]:
    """A stable, well-separated RGB colour for an object id (golden-ratio hue steps)."""
    hue = (obj_id * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def draw_overlay(image: ImageArray, masks: BoolArray, object_ids: IntArray, alpha: float = 0.5) -> ImageArray:
    """Return a copy of ``image`` with each mask tinted, outlined and labelled by its id."""
    out = image.copy()
    for mask, obj_id in zip(masks, object_ids, strict=True):
        if not mask.any():
            continue
        color = np.array(color_of(int(obj_id)), dtype=np.float32)
        out[mask] = (out[mask] * (1 - alpha) + color * alpha).astype(np.uint8)
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, tuple(int(c) for c in color), thickness=2)
        ys, xs = np.nonzero(mask)
        org = (int(xs.min()), max(int(ys.min()) - 4, 12))
        cv2.putText(out, str(int(obj_id)), org, cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 2, cv2.LINE_AA)
        cv2.putText(
            out, str(int(obj_id)), org, cv2.FONT_HERSHEY_SIMPLEX, 0.5, tuple(int(c) for c in color), 1, cv2.LINE_AA
        )
    return out
