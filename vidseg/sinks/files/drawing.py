"""Drawing masks over frames: a colour per object id, an outline, and the id as a label; and,
under them, an optional colour per semantic class with a legend of the classes on the frame."""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

from vidseg.formats.davis import davis_palette
from vidseg.masks import to_label_map
from vidseg.types import BoolArray, ImageArray, IntArray

_PALETTE = davis_palette()


def color_of(obj_id: int) -> tuple[int, int, int]:
    """A stable, well-separated RGB colour for an object id (golden-ratio hue steps)."""
    hue = (obj_id * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def draw_overlay(
    image: ImageArray,
    masks: BoolArray,
    object_ids: IntArray,
    alpha: float = 0.5,
    labels: np.ndarray | None = None,
) -> ImageArray:
    """Return a copy of ``image`` with each mask tinted, outlined and labelled by its id.

    Where masks overlap, the object listed later is drawn on top. ``labels`` (the label map of
    the same masks, see :func:`vidseg.masks.to_label_map`) saves recomputing it.
    """
    present = [(mask, int(obj_id)) for mask, obj_id in zip(masks, object_ids, strict=True) if mask.any()]
    if not present:
        return image.copy()
    if labels is None:
        labels = to_label_map(masks, object_ids)
    top = max(int(labels.max()), max(obj_id for _, obj_id in present))
    lut = np.zeros((256 if labels.dtype == np.uint8 else top + 1, 3), dtype=np.uint8)
    for _, obj_id in present:
        lut[obj_id] = color_of(obj_id)
    out = image.copy()
    # Tint only inside the box around every labelled pixel: objects usually cover a small part.
    x, y, w, h = cv2.boundingRect((labels > 0).view(np.uint8))
    if w == 0:
        return out
    region = labels[y : y + h, x : x + w]
    if labels.dtype == np.uint8:
        tint = cv2.LUT(cv2.merge([region, region, region]), lut.reshape(256, 1, 3))
    else:
        tint = np.take(lut, region, axis=0)
    blended = cv2.addWeighted(image[y : y + h, x : x + w], 1.0 - alpha, tint, alpha, 0.0)
    cv2.copyTo(blended, (region > 0).view(np.uint8), out[y : y + h, x : x + w])
    for mask, obj_id in present:
        color = color_of(obj_id)
        contours, _ = cv2.findContours(mask.view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, color, thickness=2)
        x, y, _, _ = cv2.boundingRect(np.concatenate(contours))
        org = (x, max(y - 4, 12))
        cv2.putText(out, str(obj_id), org, cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 2, cv2.LINE_AA)
        cv2.putText(out, str(obj_id), org, cv2.FONT_HERSHEY_SIMPLEX, 0.5, color, 1, cv2.LINE_AA)
    return out


def class_color(class_id: int) -> tuple[int, int, int]:
    """The colour of a semantic class: the VOC palette's (what VOC and DAVIS tools show)."""
    r, g, b = _PALETTE[3 * class_id : 3 * class_id + 3]
    return r, g, b


def draw_classes(image: ImageArray, labels: np.ndarray, classes: tuple[str, ...] | list[str],
                 alpha: float = 0.35) -> ImageArray:  # fmt: skip
    """A copy of ``image`` tinted by class (class 0, the background, left as it is), with a legend
    in the top-left corner naming the classes on the frame, largest first, in their colours."""
    if labels.shape != image.shape[:2]:
        raise ValueError(f"the label map is {labels.shape}, the image {image.shape[:2]}; they must match")
    lut = np.array([class_color(k) for k in range(256)], dtype=np.uint8).reshape(256, 1, 3)
    tint = cv2.LUT(cv2.merge([labels, labels, labels]), lut)
    blended = cv2.addWeighted(image, 1.0 - alpha, tint, alpha, 0.0)
    out = image.copy()
    cv2.copyTo(blended, (labels > 0).view(np.uint8), out)
    counts = np.bincount(labels.ravel(), minlength=256)
    present = [int(k) for k in np.argsort(-counts, kind="stable") if k and counts[k]]
    scale = 0.4 if image.shape[0] >= 120 else 0.3
    step = int(14 * scale / 0.4)
    for row, k in enumerate(present[: max(1, (image.shape[0] - 4) // step)]):
        name = classes[k] if k < len(classes) else str(k)
        y = 4 + row * step
        cv2.rectangle(out, (4, y), (4 + step - 4, y + step - 4), class_color(k), thickness=-1)
        org = (4 + step, y + step - 5)
        cv2.putText(out, name, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 2, cv2.LINE_AA)
        cv2.putText(out, name, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out
