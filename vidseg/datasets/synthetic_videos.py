"""Synthetic video segmentation clips with exact labels, for training and evaluating small SAM 2 models.

Each clip shows textured shapes (:data:`SHAPE_CLASSES`) over a textured background. They move
smoothly, rotate, change scale, occlude each other and may leave the view and come back. Every
shape is rasterised once per frame, without anti-aliasing, and that one mask both paints the
object's texture and writes its label, so the label maps match the drawn pixels exactly (the
top-most object owns a pixel). Blur, camera noise and JPEG artefacts come afterwards and touch
the image only.

Guarantees, for every clip:

- every object lies entirely inside frame 0 with at least ``spec.min_first_visible`` of its pixels
  unoccluded there, so a "prompt on the first frame" protocol works;
- ``spec.occlusion_prob == 0``: objects never share a pixel;
- an object drawn to leave (``SyntheticObject.leaves``) is entirely outside the view on some
  middle frames, and back in view (unless another object covers it) by the second-to-last frame;
  clips need ``num_frames >= 10`` for this;
- the same seed and spec give identical arrays (one ``numpy.random.SeedSequence`` per clip, never
  the global RNG).

When the objects cannot be laid out under these rules (too many or too large for the frame), the
generator draws again, and after a few failures tries one object fewer.

This module holds the public types and :func:`generate_video`; the machinery (outlines, textures,
backgrounds, motion, rendering) lives in :mod:`vidseg.datasets.synth`.

Example::

    video = generate_video(7, VideoSpec.at_difficulty(0.5))
    x, y = video.click(0, 1)  # a point deep inside object 1 on frame 0
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from vidseg.datasets.synth.backdrop import draw_backdrop
from vidseg.datasets.synth.bodies import draw_body
from vidseg.datasets.synth.motion import move_bodies
from vidseg.datasets.synth.render import depth_orders, lay_out, linear_map, paint, rasterise
from vidseg.datasets.synth.spec import (
    BACKGROUNDS,
    SHAPE_CLASSES,
    SHAPE_IDS,
    TEXTURES,
    F64Array,
    LabelArray,
    Rgb,
    VideoSpec,
)
from vidseg.errors import InputError
from vidseg.masks import interior_point
from vidseg.types import BoolArray, ImageArray, mask_box

__all__ = [
    "BACKGROUNDS",
    "SHAPE_CLASSES",
    "SHAPE_IDS",
    "TEXTURES",
    "F64Array",
    "LabelArray",
    "Rgb",
    "SyntheticObject",
    "SyntheticVideo",
    "VideoSpec",
    "generate_video",
    "render_background",
]

log = logging.getLogger(__name__)

_ATTEMPTS_PER_COUNT = 8  # failed layouts before trying one object fewer


@dataclass(frozen=True, eq=False)
class SyntheticObject:
    """One object of a generated clip, as it was planned.

    Attributes:
        obj_id: instance id (1..N), the value in ``SyntheticVideo.labels``.
        class_id: shape class (:data:`SHAPE_CLASSES`), the value in ``SyntheticVideo.class_labels``.
        shape, texture: the kinds drawn.
        colors: the texture's two RGB colours (equal for a solid texture).
        size: square root of the area at scale 1, in pixels.
        leaves: the object leaves the view entirely and comes back.
        crosses: id of the object it was sent across (None: none).
        outline: (N, 2) polygon of the shape at scale 1 and angle 0, in pixels around its centre.
        centers: (T, 2) centre (x, y) per frame, in pixels (may lie outside the frame).
        angles: (T,) rotation per frame, in radians.
        scales: (T,) scale per frame (1 on frame 0).
    """

    obj_id: int
    class_id: int
    shape: str
    texture: str
    colors: tuple[Rgb, Rgb]
    size: float
    leaves: bool
    crosses: int | None
    outline: F64Array
    centers: F64Array
    angles: F64Array
    scales: F64Array


@dataclass(frozen=True, eq=False)
class SyntheticVideo:
    """A generated clip with exact labels.

    Attributes:
        seed, spec: what generated it (``generate_video(seed, spec)`` gives it again).
        frames: (T, H, W, 3) uint8 RGB.
        labels: (T, H, W) uint8 instance ids, 0 = background; the top-most object owns a pixel.
        class_labels: (T, H, W) uint8 shape classes (:data:`SHAPE_CLASSES`), 0 = background.
        objects: one record per object, in id order.
    """

    seed: int
    spec: VideoSpec
    frames: ImageArray
    labels: LabelArray
    class_labels: LabelArray
    objects: tuple[SyntheticObject, ...]

    def __post_init__(self) -> None:
        frames, labels, classes = self.frames, self.labels, self.class_labels
        if frames.ndim != 4 or frames.shape[3] != 3 or frames.dtype != np.uint8:
            raise InputError(f"frames must be a (T, H, W, 3) uint8 array; found {frames.shape} {frames.dtype}")
        for name, array in (("labels", labels), ("class_labels", classes)):
            if array.shape != frames.shape[:3] or array.dtype != np.uint8:
                raise InputError(
                    f"{name} must be a {frames.shape[:3]} uint8 array like the frames; found {array.shape} {array.dtype}"
                )
        ids = [obj.obj_id for obj in self.objects]
        if ids != list(range(1, len(ids) + 1)):
            raise InputError(f"object ids must be 1..N in order; found {ids}")

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def object_ids(self) -> tuple[int, ...]:
        return tuple(obj.obj_id for obj in self.objects)

    @property
    def object_classes(self) -> dict[int, int]:
        """Instance id -> shape class id."""
        return {obj.obj_id: obj.class_id for obj in self.objects}

    def _check(self, t: int, obj_id: int) -> None:
        if obj_id not in self.object_ids:
            raise InputError(f"unknown object id {obj_id}; this clip has ids {list(self.object_ids)}")
        if not 0 <= t < self.num_frames:
            raise InputError(f"frame {t} is outside this clip; expected 0..{self.num_frames - 1}")

    def mask(self, t: int, obj_id: int) -> BoolArray:
        """HxW bool mask of the visible pixels of ``obj_id`` on frame ``t``."""
        self._check(t, obj_id)
        return np.asarray(self.labels[t] == obj_id)

    def visible(self, t: int, obj_id: int) -> bool:
        """Whether any pixel of ``obj_id`` is visible on frame ``t``."""
        self._check(t, obj_id)
        return bool(np.any(self.labels[t] == obj_id))

    def visibility(self, obj_id: int) -> BoolArray:
        """(T,) bool: the frames on which ``obj_id`` has a visible pixel."""
        self._check(0, obj_id)
        return np.asarray((self.labels == obj_id).any(axis=(1, 2)))

    def first_visible(self, obj_id: int) -> int | None:
        """The first frame on which ``obj_id`` is visible (0 by construction), None if never."""
        frames = np.flatnonzero(self.visibility(obj_id))
        return int(frames[0]) if frames.size else None

    def amodal_mask(self, t: int, obj_id: int) -> BoolArray:
        """HxW bool mask of the whole shape of ``obj_id`` on frame ``t``, including the parts that
        other objects hide (cropped to the frame): the pixels its label would take if it were on top."""
        self._check(t, obj_id)
        obj = self.objects[obj_id - 1]
        height, width = self.labels.shape[1:]
        full = np.zeros((height, width), bool)
        piece = rasterise(obj.outline, obj.centers[t], linear_map(obj.angles[t], obj.scales[t]), height, width)
        if piece is not None:
            full[piece.y : piece.y + piece.mask.shape[0], piece.x : piece.x + piece.mask.shape[1]] = piece.mask
        return full

    def box(self, t: int, obj_id: int) -> tuple[int, int, int, int] | None:
        """Tight (x1, y1, x2, y2) box of the visible part, x2/y2 exclusive; None when not visible."""
        return mask_box(self.mask(t, obj_id))

    def click(
        self, t: int, obj_id: int, rng: np.random.Generator | None = None, min_depth: float = 0.5
    ) -> tuple[int, int]:
        """A positive point click (x, y) deep inside the visible part of ``obj_id`` on frame ``t``.

        Args:
            rng: None gives the pixel farthest from the object's edge (and from the frame border);
                a generator gives a random pixel at least ``min_depth`` times that distance deep.
            min_depth: see ``rng``, in (0, 1].

        Raises:
            InputError: the object is not visible on frame ``t`` (see :meth:`first_visible`), or
                the id or frame is unknown.
        """
        box = self.box(t, obj_id)
        if box is None:
            raise InputError(
                f"object {obj_id} is not visible on frame {t}; click on a frame where it is, e.g. "
                f"first_visible({obj_id}) = {self.first_visible(obj_id)}"
            )
        if rng is None:
            cx, cy = interior_point(self.mask(t, obj_id))
            return int(cx), int(cy)
        x0, y0, x1, y1 = box
        # The 5x5 distance mask: OpenCV's exact transform runs in parallel and can break near-ties
        # differently from run to run, which would make clicks irreproducible.
        crop = np.pad(self.labels[t, y0:y1, x0:x1] == obj_id, 1).astype(np.uint8)
        depth = np.round(cv2.distanceTransform(crop, cv2.DIST_L2, 5)[1:-1, 1:-1], 4)
        ys, xs = np.nonzero(depth >= min(max(min_depth, 1e-6), 1.0) * depth.max())
        pick = int(rng.integers(ys.size))
        return int(xs[pick]) + x0, int(ys[pick]) + y0


def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Independent generators for the scene, the background and the camera noise of a clip."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be an integer >= 0; found {seed!r}")
    scene, backdrop, camera = np.random.SeedSequence(int(seed)).spawn(3)
    return np.random.default_rng(scene), np.random.default_rng(backdrop), np.random.default_rng(camera)


def render_background(seed: int, spec: VideoSpec | None = None) -> ImageArray:
    """The (T, H, W, 3) background that ``generate_video(seed, spec)`` draws its objects on, before
    blur, noise and compression: the same pixels wherever no object is."""
    spec = VideoSpec() if spec is None else spec
    _, backdrop_rng, _ = _streams(seed)
    backdrop = draw_backdrop(backdrop_rng, spec)
    return np.stack([backdrop.view(t, spec.height, spec.width) for t in range(spec.num_frames)])


def generate_video(seed: int, spec: VideoSpec | None = None) -> SyntheticVideo:
    """Generate one clip (see the module docstring for what it shows and guarantees).

    Args:
        seed: integer >= 0; the same seed and spec always give the same clip.
        spec: the knobs (default: ``VideoSpec()``, 24 frames of 128x128 with 1 to 3 objects).

    Returns:
        The frames, instance and class labels, and what was planned for each object.

    Raises:
        InputError: ``seed`` is not an integer >= 0.
    """
    spec = VideoSpec() if spec is None else spec
    scene_rng, backdrop_rng, camera_rng = _streams(seed)
    backdrop = draw_backdrop(backdrop_rng, spec)
    pixels = backdrop.canvas.reshape(-1, 3)
    samples = pixels[scene_rng.integers(len(pixels), size=min(len(pixels), 1024))].astype(np.float64)
    count = int(scene_rng.integers(spec.min_objects, spec.max_objects + 1))
    attempt = 0
    while True:  # ends: one object always fits (it starts inside the frame, and alone)
        bodies = [draw_body(scene_rng, spec, k + 1, samples) for k in range(count)]
        orders = depth_orders(scene_rng, spec, count)
        layout = lay_out(spec, bodies, orders) if move_bodies(scene_rng, spec, bodies) else None
        if layout is not None:
            break
        attempt += 1
        if attempt % _ATTEMPTS_PER_COUNT == 0 and count > 1:
            log.debug("seed %d: %d objects do not fit the layout rules; trying %d", seed, count, count - 1)
            count -= 1
    labels, pieces = layout
    frames = paint(spec, bodies, pieces, orders, backdrop, camera_rng)
    classes = np.zeros(256, np.uint8)
    for body in bodies:
        classes[body.obj_id] = SHAPE_IDS[body.shape]
    objects = tuple(
        SyntheticObject(
            obj_id=body.obj_id,
            class_id=SHAPE_IDS[body.shape],
            shape=body.shape,
            texture=body.texture,
            colors=body.colors,
            size=body.size,
            leaves=body.leaves,
            crosses=body.crosses,
            centers=body.centers if body.centers is not None else np.zeros((spec.num_frames, 2)),
            outline=body.outline,
            angles=body.angles,
            scales=body.scales,
        )
        for body in bodies
    )
    return SyntheticVideo(int(seed), spec, frames, labels, classes[labels], objects)
