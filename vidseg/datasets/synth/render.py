"""Drawing a synthetic clip: each object's shape is rasterised once per frame without
anti-aliasing, and that one mask writes its label (:func:`lay_out`) and paints its texture
(:func:`paint`), so labels match the drawn pixels exactly; blur, noise and JPEG compression then
touch the image only.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np

from vidseg.datasets.synth.appearance import draw_texture
from vidseg.datasets.synth.backdrop import Backdrop
from vidseg.datasets.synth.bodies import Body
from vidseg.datasets.synth.spec import F64Array, LabelArray, VideoSpec
from vidseg.types import BoolArray, ImageArray


class Piece(NamedTuple):
    """An object's rasterised shape on one frame: a bool mask whose top-left pixel is (x, y)."""

    x: int
    y: int
    mask: BoolArray


def linear_map(angle: float, scale: float) -> F64Array:
    """The 2x2 map from an object's own frame to the image: rotation by ``angle`` (radians), then scale."""
    cos, sin = math.cos(angle), math.sin(angle)
    return float(scale) * np.array([[cos, -sin], [sin, cos]])


def rasterise(outline: F64Array, center: F64Array, linear: F64Array, height: int, width: int) -> Piece | None:
    """The pixels of ``outline`` placed at ``center`` (no anti-aliasing; vertices at 1/16 pixel),
    None when none is in view."""
    points = center + outline @ linear.T
    x0, y0 = max(math.floor(points[:, 0].min()), 0), max(math.floor(points[:, 1].min()), 0)
    x1, y1 = min(math.ceil(points[:, 0].max()) + 1, width), min(math.ceil(points[:, 1].max()) + 1, height)
    if x0 >= x1 or y0 >= y1:
        return None
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(canvas, [np.round((points - (x0, y0)) * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    mask = canvas.astype(bool)
    return Piece(x0, y0, mask) if mask.any() else None


def depth_orders(rng: np.random.Generator, spec: VideoSpec, count: int) -> list[list[int]]:
    """Per frame, object indices from bottom to top."""
    order = [int(i) for i in rng.permutation(count)]
    orders = [order]
    for _ in range(1, spec.num_frames):
        order = order.copy()
        if count > 1 and rng.random() < spec.z_swap_prob:
            k = int(rng.integers(count - 1))
            order[k], order[k + 1] = order[k + 1], order[k]
        orders.append(order)
    return orders


def lay_out(
    spec: VideoSpec, bodies: list[Body], orders: list[list[int]]
) -> tuple[LabelArray, list[list[Piece | None]]] | None:
    """Instance labels and per-frame pieces; None when the layout breaks a guarantee (overlap when
    objects must stay apart, too little of an object visible on frame 0)."""
    labels = np.zeros((spec.num_frames, spec.height, spec.width), np.uint8)
    pieces: list[list[Piece | None]] = []
    for t, order in enumerate(orders):
        row: list[Piece | None] = [None] * len(bodies)
        for i in order:
            body = bodies[i]
            assert body.centers is not None
            linear = linear_map(body.angles[t], body.scales[t])
            piece = row[i] = rasterise(body.outline, body.centers[t], linear, spec.height, spec.width)
            if piece is None:
                continue
            region = labels[t, piece.y : piece.y + piece.mask.shape[0], piece.x : piece.x + piece.mask.shape[1]]
            if spec.occlusion_prob == 0 and region[piece.mask].any():
                return None
            region[piece.mask] = bodies[i].obj_id
        pieces.append(row)
        if t == 0:
            shown = np.bincount(labels[0].ravel(), minlength=len(bodies) + 1)
            for body, piece in zip(bodies, row, strict=True):
                if piece is None or shown[body.obj_id] < spec.min_first_visible * np.count_nonzero(piece.mask):
                    return None
    return labels, pieces


def _camera(image: ImageArray, spec: VideoSpec, rng: np.random.Generator) -> ImageArray:
    """Blur, sensor noise, then JPEG compression, as configured."""
    if spec.blur_sigma > 0:
        image = np.asarray(cv2.GaussianBlur(image, (0, 0), spec.blur_sigma), dtype=np.uint8)
    if spec.noise_std > 0:
        noisy = image.astype(np.float32)
        noisy += rng.standard_normal(image.shape, dtype=np.float32) * np.float32(spec.noise_std)
        image = np.clip(noisy + 0.5, 0, 255).astype(np.uint8)
    if spec.jpeg_quality is not None:
        ok, data = cv2.imencode(
            ".jpg", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, spec.jpeg_quality]
        )
        decoded = cv2.imdecode(data, cv2.IMREAD_COLOR) if ok else None
        if decoded is not None:
            image = np.ascontiguousarray(decoded[..., ::-1], dtype=np.uint8)
    return image


def paint(
    spec: VideoSpec, bodies: list[Body], pieces: list[list[Piece | None]], orders: list[list[int]],
    backdrop: Backdrop, rng: np.random.Generator,
) -> ImageArray:  # fmt: skip
    """The frames: each object's texture, warped with its pose, painted through its mask in depth order."""
    frames = np.empty((spec.num_frames, spec.height, spec.width, 3), np.uint8)
    patches: list[ImageArray] = []
    for body in bodies:
        half = math.ceil(body.radius) + 2
        patches.append(draw_texture(rng, body.texture, body.colors, half, spec.texture_noise))
    for t, order in enumerate(orders):
        image = backdrop.view(t, spec.height, spec.width).copy()
        for i in order:
            piece, body = pieces[t][i], bodies[i]
            if piece is None:
                continue
            assert body.centers is not None
            h, w = piece.mask.shape
            half = (patches[i].shape[0] - 1) / 2
            linear = linear_map(body.angles[t], body.scales[t])
            shift = body.centers[t] - (piece.x, piece.y) - linear @ (half, half)
            warped = cv2.warpAffine(patches[i], np.hstack([linear, shift[:, None]]), (w, h),
                                    flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)  # fmt: skip
            region = image[piece.y : piece.y + h, piece.x : piece.x + w]
            region[piece.mask] = warped[piece.mask]
        frames[t] = _camera(image, spec, rng)
    return frames
