"""draw_overlay: masks tinted with their object's colour, the rest of the frame untouched."""

from __future__ import annotations

import numpy as np
import pytest

from vidseg.masks import to_label_map
from vidseg.sinks.files.drawing import color_of, draw_overlay


def _scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    image = np.random.default_rng(0).integers(0, 256, (61, 97, 3), dtype=np.uint8)
    masks = np.zeros((2, 61, 97), dtype=bool)
    masks[0, 10:30, 20:50] = True
    masks[1, 35:55, 60:90] = True
    return image, masks, np.array([3, 7])


def _interior(mask: np.ndarray, margin: int = 3) -> np.ndarray:
    """The mask without a band along its edge (where the outline is drawn)."""
    inner = mask.copy()
    for axis in (0, 1):
        for shift in range(1, margin + 1):
            inner &= np.roll(mask, shift, axis) & np.roll(mask, -shift, axis)
    return inner


@pytest.mark.parametrize("wide_ids", [False, True])
def test_masks_are_tinted_with_their_colour_and_the_rest_is_untouched(wide_ids: bool) -> None:
    image, masks, ids = _scene()
    if wide_ids:
        ids = ids * 100  # 16-bit label map
    labels = to_label_map(masks, ids, dtype=np.uint16 if wide_ids else np.uint8)
    out = draw_overlay(image, masks, ids, alpha=0.5, labels=labels)
    assert out.shape == image.shape and out.dtype == np.uint8
    for mask, obj_id in zip(masks, ids, strict=True):
        inner = _interior(mask)
        expected = 0.5 * image[inner].astype(float) + 0.5 * np.array(color_of(int(obj_id)), dtype=float)
        assert np.abs(out[inner].astype(float) - expected).max() <= 1.0
    # Far from every mask (beyond outline and id label), pixels are the frame's own.
    near = np.zeros(masks.shape[1:], dtype=bool)
    for mask in masks:
        ys, xs = np.nonzero(mask)
        near[max(ys.min() - 20, 0) : ys.max() + 4, max(xs.min() - 4, 0) : xs.max() + 4] = True
    assert np.array_equal(out[~near], image[~near])
    assert not np.shares_memory(out, image)


def test_labels_are_computed_when_not_given() -> None:
    image, masks, ids = _scene()
    assert np.array_equal(
        draw_overlay(image, masks, ids), draw_overlay(image, masks, ids, labels=to_label_map(masks, ids))
    )


def test_no_visible_mask_gives_a_copy_of_the_frame() -> None:
    image, masks, ids = _scene()
    out = draw_overlay(image, np.zeros_like(masks), ids)
    assert np.array_equal(out, image) and not np.shares_memory(out, image)


def test_class_layer_tints_labelled_pixels_by_class_and_names_the_classes_in_a_legend():
    from vidseg.sinks.files.drawing import class_color, draw_classes

    image = np.full((120, 160, 3), 100, np.uint8)
    labels = np.zeros((120, 160), np.uint8)
    labels[60:110, 20:60] = 2  # the larger class: first in the legend
    labels[60:80, 100:150] = 5
    out = draw_classes(image, labels, ("background", "a", "b", "c", "d", "e"), alpha=0.5)
    assert (out[100:120, 70:90] == 100).all()  # background untouched
    expected = (0.5 * 100 + 0.5 * np.array(class_color(2))).round()
    assert np.abs(out[90, 40].astype(int) - expected).max() <= 1
    assert np.abs(out[70, 120].astype(int) - (0.5 * 100 + 0.5 * np.array(class_color(5))).round()).max() <= 1
    # The legend: a swatch per present class, largest first, top-left.
    assert tuple(out[8, 6]) == class_color(2) and tuple(out[8 + 14, 6]) == class_color(5)
    assert tuple(out[8 + 28, 6]) == (100, 100, 100)  # no third class
    assert class_color(0) == (0, 0, 0) and len({class_color(k) for k in range(1, 22)}) == 21
