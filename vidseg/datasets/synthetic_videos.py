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

Example::

    video = generate_video(7, VideoSpec.at_difficulty(0.5))
    x, y = video.click(0, 1)  # a point deep inside object 1 on frame 0
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any, NamedTuple

import cv2
import numpy as np
import numpy.typing as npt

from vidseg.errors import ConfigError, InputError
from vidseg.types import BoolArray, ImageArray, mask_box

log = logging.getLogger(__name__)

F64Array = npt.NDArray[np.float64]
LabelArray = npt.NDArray[np.uint8]
Rgb = tuple[int, int, int]

SHAPE_CLASSES: Mapping[int, str] = MappingProxyType(
    {1: "disc", 2: "ellipse", 3: "rectangle", 4: "triangle", 5: "star", 6: "polygon", 7: "blob"}
)
"""Class id of each shape kind: the value written to ``class_labels`` (0 is background)."""

SHAPE_IDS: Mapping[str, int] = MappingProxyType({name: class_id for class_id, name in SHAPE_CLASSES.items()})
TEXTURES: tuple[str, ...] = ("solid", "stripes", "checkers", "dots")
BACKGROUNDS: tuple[str, ...] = ("noise", "gradient", "stripes")

_LEAVE_REACH = 1.4  # peak excursion of a leave manoeuvre / distance needed to be out of view
_MIN_LEAVE_FRAMES = 6  # shortest manoeuvre: with the reach above, >= 3 frames fully out
_CANDIDATES = 32  # positions tried per object when placing it
_ATTEMPTS_PER_COUNT = 8  # failed layouts before trying one object fewer


@dataclass(frozen=True)
class VideoSpec:
    """The knobs of :func:`generate_video`; lengths and speeds are fractions of ``min(height, width)``.

    Use :meth:`at_difficulty` for a curriculum from easy (one large, slow, high-contrast object)
    to hard (several small fast objects that occlude each other and leave the view, low contrast).

    Attributes:
        num_frames, height, width: clip geometry.
        min_objects, max_objects: the object count is drawn uniformly from this range (at most 255).
        min_size, max_size: object size, the square root of its area at scale 1.
        max_speed: largest speed in normal motion, per frame.
        acceleration: standard deviation of the random velocity change per frame, relative to
            ``max_speed`` (0: straight lines, bouncing off the borders).
        max_rotation: largest rotation speed, degrees per frame.
        scale_change: objects scale smoothly within ``1 ± scale_change`` (scale 1 on frame 0).
        edge_margin: in normal motion an object's centre keeps this fraction of its radius inside
            the frame (1: the object stays inside; 0: up to half of it may leave).
        leave_prob: probability that an object leaves the view entirely and comes back.
        occlusion_prob: 0: objects never overlap. Above 0 they move independently (and may
            overlap), and each object after the first is sent across an earlier one with this
            probability.
        z_swap_prob: probability per frame that two objects adjacent in depth swap (0: the
            z-order is fixed for the clip).
        shapes, textures, backgrounds: the kinds to draw from (:data:`SHAPE_CLASSES` names,
            :data:`TEXTURES`, :data:`BACKGROUNDS`).
        background_noise, texture_noise: standard deviation of the static fine-grain noise of the
            background and of object textures, as a fraction of 255.
        min_contrast, max_contrast: RGB distance, as a fraction of 255, between each object colour
            and the background's colours (its 5th percentile). The minimum is enforced whenever the
            background leaves room for it; colours are drawn at most ``max_contrast`` away from a
            background colour.
        distractors: up to this many unlabelled static shapes painted into the background.
        camera_speed: the view pans over a larger background at up to this speed.
        noise_std: camera noise per frame, in 0..255 units.
        blur_sigma: Gaussian blur of the image, in pixels (0: none).
        jpeg_quality: JPEG-compress each frame at this quality (None: no compression).
        min_first_visible: fraction of each object's pixels that must be unoccluded on frame 0.
    """

    num_frames: int = 24
    height: int = 128
    width: int = 128
    min_objects: int = 1
    max_objects: int = 3
    min_size: float = 0.12
    max_size: float = 0.35
    max_speed: float = 0.04
    acceleration: float = 0.15
    max_rotation: float = 4.0
    scale_change: float = 0.15
    edge_margin: float = 0.5
    leave_prob: float = 0.3
    occlusion_prob: float = 0.3
    z_swap_prob: float = 0.0
    shapes: tuple[str, ...] = tuple(SHAPE_CLASSES.values())
    textures: tuple[str, ...] = TEXTURES
    backgrounds: tuple[str, ...] = BACKGROUNDS
    background_noise: float = 0.03
    texture_noise: float = 0.03
    min_contrast: float = 0.3
    max_contrast: float = 1.0
    distractors: int = 0
    camera_speed: float = 0.0
    noise_std: float = 2.0
    blur_sigma: float = 0.0
    jpeg_quality: int | None = None
    min_first_visible: float = 0.5

    def __post_init__(self) -> None:
        problems: list[str] = []

        def need(ok: bool, rule: str, found: object) -> None:
            if not ok:
                problems.append(f"{rule} (found {found!r})")

        need(self.num_frames >= 1, "num_frames >= 1", self.num_frames)
        need(min(self.height, self.width) >= 16, "height and width >= 16", (self.height, self.width))
        need(1 <= self.min_objects <= self.max_objects <= 255, "1 <= min_objects <= max_objects <= 255",
             (self.min_objects, self.max_objects))  # fmt: skip
        need(0 < self.min_size <= self.max_size <= 1, "0 < min_size <= max_size <= 1", (self.min_size, self.max_size))
        need(0 <= self.scale_change < 1, "0 <= scale_change < 1", self.scale_change)
        need(0 <= self.min_contrast <= self.max_contrast, "0 <= min_contrast <= max_contrast",
             (self.min_contrast, self.max_contrast))  # fmt: skip
        for name in ("edge_margin", "leave_prob", "occlusion_prob", "z_swap_prob", "min_first_visible"):
            need(0 <= getattr(self, name) <= 1, f"0 <= {name} <= 1", getattr(self, name))
        for name in ("max_speed", "acceleration", "max_rotation", "background_noise", "texture_noise",
                     "camera_speed", "noise_std", "blur_sigma", "distractors"):  # fmt: skip
            need(getattr(self, name) >= 0, f"{name} >= 0", getattr(self, name))
        need(self.jpeg_quality is None or 1 <= self.jpeg_quality <= 100, "jpeg_quality None or 1..100",
             self.jpeg_quality)  # fmt: skip
        for name, known in (("shapes", SHAPE_IDS), ("textures", TEXTURES), ("backgrounds", BACKGROUNDS)):
            kinds = getattr(self, name)
            need(bool(kinds) and all(kind in known for kind in kinds), f"{name} a non-empty subset of {tuple(known)}",
                 kinds)  # fmt: skip
        if problems:
            raise ConfigError(
                "invalid VideoSpec: "
                + "; ".join(problems)
                + ". Fix these fields, or start from VideoSpec.at_difficulty()."
            )

    @classmethod
    def at_difficulty(cls, difficulty: float, **overrides: Any) -> VideoSpec:
        """A spec whose knobs interpolate between easy (0) and hard (1).

        Easy: one large, slow, high-contrast, solid-coloured object that stays inside the view.
        Hard: two to five small fast objects that rotate, scale, cross each other, swap depth and
        leave the view, with low contrast, textures, distractors, camera pan, blur and noise.

        Args:
            difficulty: from 0 (easy) to 1 (hard).
            overrides: fields to set explicitly (``num_frames``, ``height``, ``width``, ...).

        Raises:
            ConfigError: ``difficulty`` is outside [0, 1], or an override is invalid.

        Example::

            curriculum = [VideoSpec.at_difficulty(step / 9, num_frames=32) for step in range(10)]
        """
        d = float(difficulty)
        if not 0 <= d <= 1:
            raise ConfigError(f"difficulty must be in [0, 1]; found {difficulty!r}")

        def lerp(easy: float, hard: float) -> float:
            return easy + (hard - easy) * d

        knobs: dict[str, Any] = {
            "min_objects": math.floor(lerp(1, 2.5)),
            "max_objects": math.floor(lerp(1, 5.5)),
            "min_size": lerp(0.30, 0.09),
            "max_size": lerp(0.42, 0.28),
            "max_speed": lerp(0.012, 0.07),
            "acceleration": lerp(0.05, 0.3),
            "max_rotation": lerp(1.0, 8.0),
            "scale_change": lerp(0.0, 0.3),
            "edge_margin": lerp(1.0, 0.0),
            "leave_prob": lerp(0.0, 0.5),
            "occlusion_prob": lerp(0.0, 0.7),
            "z_swap_prob": lerp(0.0, 0.05),
            "textures": ("solid",) if d < 0.25 else TEXTURES,
            "backgrounds": ("gradient", "noise") if d < 0.5 else BACKGROUNDS,
            "background_noise": lerp(0.01, 0.08),
            "texture_noise": lerp(0.01, 0.06),
            "min_contrast": lerp(0.5, 0.12),
            "max_contrast": lerp(1.2, 0.45),
            "distractors": math.floor(lerp(0, 4.5)),
            "camera_speed": lerp(0.0, 0.012),
            "noise_std": lerp(1.0, 5.0),
            "blur_sigma": lerp(0.0, 0.7),
        }
        knobs.update(overrides)
        return cls(**knobs)

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready values (tuples become lists)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: list(value) if isinstance(value, tuple) else value for name, value in values.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VideoSpec:
        """The spec that :meth:`to_dict` described. Raises :class:`ConfigError` on unknown fields."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown VideoSpec fields {unknown}; expected some of {sorted(known)}")
        values: dict[str, Any] = {name: tuple(v) if isinstance(v, list) else v for name, v in data.items()}
        return cls(**values)


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
        piece = _rasterise(obj.outline, obj.centers[t], _linear(obj.angles[t], obj.scales[t]), height, width)
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
        x0, y0, x1, y1 = box
        crop = np.pad(self.labels[t, y0:y1, x0:x1] == obj_id, 1).astype(np.uint8)
        depth = cv2.distanceTransform(crop, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
        if rng is None:
            y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
        else:
            ys, xs = np.nonzero(depth >= min(max(min_depth, 1e-6), 1.0) * depth.max())
            pick = int(rng.integers(ys.size))
            y, x = ys[pick], xs[pick]
        return int(x) + x0, int(y) + y0


# --- shapes and textures --------------------------------------------------------------------------


def _outline(rng: np.random.Generator, shape: str) -> F64Array:
    """A closed polygon (N, 2) centred near the origin, its farthest vertex at distance 1."""
    turn = np.linspace(0.0, 2 * np.pi, 96, endpoint=False)
    if shape == "disc":
        points = np.stack([np.cos(turn), np.sin(turn)], axis=1)
    elif shape == "ellipse":
        points = np.stack([np.cos(turn), rng.uniform(0.4, 0.8) * np.sin(turn)], axis=1)
    elif shape == "rectangle":
        aspect = rng.uniform(0.4, 1.0)
        points = np.array([[-1.0, -aspect], [1.0, -aspect], [1.0, aspect], [-1.0, aspect]])
    elif shape in ("triangle", "star", "polygon"):
        angles: npt.NDArray[np.floating[Any]]
        radii: npt.NDArray[np.floating[Any]]
        if shape == "triangle":
            angles = np.arange(3) * (2 * np.pi / 3) + rng.uniform(-0.35, 0.35, 3)
            radii = rng.uniform(0.75, 1.0, 3)
        elif shape == "star":
            tips = int(rng.integers(5, 8))
            angles = np.arange(2 * tips) * (np.pi / tips)
            radii = np.where(np.arange(2 * tips) % 2 == 0, 1.0, rng.uniform(0.4, 0.6))
        else:
            sides = int(rng.integers(5, 10))
            angles = np.sort(np.arange(sides) + rng.uniform(-0.3, 0.3, sides)) * (2 * np.pi / sides)
            radii = rng.uniform(0.55, 1.0, sides)
        points = np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
    elif shape == "blob":
        wobble = np.ones_like(turn)
        for harmonic in (2, 3, 4):
            wobble += rng.uniform(0.0, 0.18) * np.cos(harmonic * turn + rng.uniform(0, 2 * np.pi))
        points = np.stack([wobble * np.cos(turn), wobble * np.sin(turn)], axis=1)
    else:
        raise ConfigError(f"unknown shape {shape!r}; expected one of {tuple(SHAPE_IDS)}")
    return np.asarray(points / np.hypot(points[:, 0], points[:, 1]).max(), dtype=np.float64)


def _polygon_area(points: F64Array) -> float:
    x, y = points[:, 0], points[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def _texture(rng: np.random.Generator, kind: str, colors: tuple[Rgb, Rgb], half: int, noise: float) -> ImageArray:
    """A square (2 half + 1) RGB patch in the object's own frame, centred on the object's centre."""
    axis = np.arange(-half, half + 1, dtype=np.float32)
    xs, ys = axis[None, :], axis[:, None]
    angle = rng.uniform(0, np.pi)
    u = xs * np.float32(np.cos(angle)) + ys * np.float32(np.sin(angle))
    v = ys * np.float32(np.cos(angle)) - xs * np.float32(np.sin(angle))
    if kind == "solid":
        weight = np.zeros_like(u + v)
    elif kind == "stripes":
        weight = (np.sin(u * np.float32(2 * np.pi / rng.uniform(4, max(5.0, 0.8 * half)))) > 0).astype(np.float32)
    elif kind == "checkers":
        cell = np.float32(rng.uniform(3, max(4.0, 0.5 * half)))
        weight = ((np.floor(u / cell) + np.floor(v / cell)) % 2).astype(np.float32)
    elif kind == "dots":
        spacing = np.float32(rng.uniform(5, max(6.0, 0.6 * half)))
        radius = spacing * np.float32(rng.uniform(0.2, 0.4))
        du, dv = u % spacing - spacing / 2, v % spacing - spacing / 2
        weight = (du * du + dv * dv < radius * radius).astype(np.float32)
    else:
        raise ConfigError(f"unknown texture {kind!r}; expected one of {TEXTURES}")
    first, second = (np.asarray(color, dtype=np.float32) for color in colors)
    patch = first + weight[..., None] * (second - first)
    patch += rng.standard_normal(patch.shape, dtype=np.float32) * np.float32(noise * 255)
    return np.clip(patch + 0.5, 0, 255).astype(np.uint8)


def _rgb(color: F64Array) -> Rgb:
    red, green, blue = (round(float(c)) for c in color)
    return red, green, blue


def _contrast(color: F64Array, samples: F64Array) -> float:
    """Distance (fraction of 255) from ``color`` to the background: 5th percentile over samples."""
    distances = np.sqrt(((samples - color) ** 2).sum(axis=1))
    k = len(distances) // 20
    return float(np.partition(distances, k)[k] / 255)


def _pick_color(
    rng: np.random.Generator, samples: F64Array, spec: VideoSpec, other: F64Array | None = None
) -> F64Array:
    """An RGB colour with contrast in [min_contrast, max_contrast] to the background when one is found
    in a few draws, else the draw closest to that range (favouring enough contrast). ``other``: a
    colour to stay 0.15 x 255 away from (the texture's first colour)."""
    best: F64Array | None = None
    best_rank = (False, -np.inf)
    for _ in range(48):
        direction = rng.standard_normal(3)
        direction /= max(float(np.linalg.norm(direction)), 1e-9)
        reach = rng.uniform(spec.min_contrast, max(spec.max_contrast, spec.min_contrast + 0.05)) * 255
        color = np.clip(samples[rng.integers(len(samples))] + reach * direction, 0, 255)
        if other is not None and np.linalg.norm(color - other) < 0.15 * 255:
            continue
        contrast = _contrast(color, samples)
        if spec.min_contrast <= contrast <= spec.max_contrast:
            return color
        rank = (
            contrast >= spec.min_contrast,
            -abs(contrast - min(max(contrast, spec.min_contrast), spec.max_contrast)),
        )
        if best is None or rank > best_rank:
            best, best_rank = color, rank
    return best if best is not None else rng.uniform(0, 255, 3)


# --- background -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Backdrop:
    """The static background canvas and, per frame, the top-left corner (x, y) of the view."""

    canvas: ImageArray
    offsets: npt.NDArray[np.int64]

    def view(self, t: int, height: int, width: int) -> ImageArray:
        x, y = (int(v) for v in self.offsets[t])
        return self.canvas[y : y + height, x : x + width]


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cells: float) -> npt.NDArray[np.float32]:
    """(H, W, 3) smooth noise, about ``cells`` blobs across, mostly shared by the channels."""
    grid_h, grid_w = (
        max(2, math.ceil(height * cells / min(height, width))),
        max(2, math.ceil(width * cells / min(height, width))),
    )
    grid = rng.standard_normal((grid_h, grid_w, 1), dtype=np.float32) + 0.5 * rng.standard_normal(
        (grid_h, grid_w, 3), dtype=np.float32
    )
    return np.asarray(cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC), dtype=np.float32)


def _ramp(rng: np.random.Generator, height: int, width: int) -> npt.NDArray[np.float32]:
    """(H, W) pixel coordinates projected on a random direction."""
    angle = rng.uniform(0, 2 * np.pi)
    xs, ys = np.arange(width, dtype=np.float32)[None, :], np.arange(height, dtype=np.float32)[:, None]
    return xs * np.float32(np.cos(angle)) + ys * np.float32(np.sin(angle))


def _noise_canvas(rng: np.random.Generator, height: int, width: int) -> npt.NDArray[np.float32]:
    canvas = np.empty((height, width, 3), np.float32)
    canvas[:] = rng.uniform(40, 215, 3)
    canvas += rng.uniform(20, 50) * _smooth_noise(rng, height, width, rng.uniform(2, 6))
    canvas += rng.uniform(6, 20) * _smooth_noise(rng, height, width, rng.uniform(10, 24))
    return canvas


def _gradient_canvas(rng: np.random.Generator, height: int, width: int) -> npt.NDArray[np.float32]:
    start, end = rng.uniform(20, 235, (2, 3)).astype(np.float32)
    ramp = _ramp(rng, height, width)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1.0)
    canvas = start + ramp[..., None] * (end - start)
    return np.asarray(canvas + rng.uniform(4, 12) * _smooth_noise(rng, height, width, rng.uniform(2, 5)), np.float32)


def _stripes_canvas(rng: np.random.Generator, height: int, width: int) -> npt.NDArray[np.float32]:
    first, second = rng.uniform(20, 235, (2, 3)).astype(np.float32)
    ramp = _ramp(rng, height, width)
    period = rng.uniform(min(height, width) / 20, min(height, width) / 5)
    sharpness = np.float32(rng.uniform(1, 4))
    weight = 0.5 + 0.5 * np.tanh(sharpness * np.sin(ramp * np.float32(2 * np.pi / period)))
    return np.asarray(first + weight[..., None] * (second - first), np.float32)


_CANVASES: Mapping[str, Callable[[np.random.Generator, int, int], npt.NDArray[np.float32]]] = MappingProxyType(
    {"noise": _noise_canvas, "gradient": _gradient_canvas, "stripes": _stripes_canvas}
)


def _draw_backdrop(rng: np.random.Generator, spec: VideoSpec) -> _Backdrop:
    """The background of a clip: a canvas larger than the view when the camera pans."""
    side, frames = min(spec.height, spec.width), np.arange(spec.num_frames)
    periods = rng.uniform(1.5, 3.0, 2) * max(spec.num_frames, 2)
    phases = rng.uniform(0, 2 * np.pi, 2)
    amplitudes = np.minimum(spec.camera_speed * side * periods / (2 * np.pi), side / 2)
    margin = math.ceil(float(amplitudes.max()))
    offsets = np.rint(margin + amplitudes * np.sin(2 * np.pi * frames[:, None] / periods + phases)).astype(np.int64)
    height, width = spec.height + 2 * margin, spec.width + 2 * margin
    canvas = _CANVASES[spec.backgrounds[int(rng.integers(len(spec.backgrounds)))]](rng, height, width)
    for _ in range(int(rng.integers(0, spec.distractors + 1))):
        outline = _outline(rng, spec.shapes[int(rng.integers(len(spec.shapes)))])
        center = rng.uniform((0, 0), (width, height))
        points = center + rng.uniform(0.04, 0.15) * side * outline
        color = tuple(float(c) for c in rng.uniform(0, 255, 3))
        cv2.fillPoly(canvas, [np.round(points * 16).astype(np.int32)], color, lineType=cv2.LINE_8, shift=4)
    canvas += rng.standard_normal(canvas.shape, dtype=np.float32) * np.float32(spec.background_noise * 255)
    return _Backdrop(np.clip(canvas + 0.5, 0, 255).astype(np.uint8), offsets)


# --- motion ---------------------------------------------------------------------------------------


@dataclass
class _Body:
    """One object while its clip is being generated (mutable; ends up as a SyntheticObject)."""

    obj_id: int
    shape: str
    texture: str
    colors: tuple[Rgb, Rgb]
    outline: F64Array  # px, at scale 1 and angle 0
    radius: float  # px: the farthest vertex at scale 1
    bound: float  # px: the farthest vertex at any scale
    size: float
    leaves: bool
    leave_start: int
    angles: F64Array
    scales: F64Array
    centers: F64Array | None = None
    crosses: int | None = None


class _Leave(NamedTuple):
    """A leave-and-return manoeuvre: from frame ``start`` for ``length`` frames the centre moves
    out along ``axis`` (0: x, 1: y) in direction ``sign`` by up to ``reach`` pixels, and back."""

    start: int
    length: int
    axis: int
    sign: float
    reach: float

    def active(self, t: int) -> bool:
        """Whether frame ``t`` is inside the manoeuvre (its offset may be non-zero)."""
        return self.start <= t <= self.start + self.length

    def offset(self, t: int) -> float:
        """Displacement along ``axis`` on frame ``t``."""
        if not self.active(t):
            return 0.0
        return self.sign * self.reach * math.sin(math.pi * (t - self.start) / self.length)


def _draw_body(rng: np.random.Generator, spec: VideoSpec, obj_id: int, samples: F64Array) -> _Body:
    side, frames = min(spec.height, spec.width), np.arange(spec.num_frames)
    shape = spec.shapes[int(rng.integers(len(spec.shapes)))]
    outline = _outline(rng, shape)
    size = rng.uniform(spec.min_size, spec.max_size) * side
    # The object must fit inside frame 0 at its largest scale.
    radius = min(size / math.sqrt(_polygon_area(outline)), ((side - 1) / 2 - 1.5) / (1 + spec.scale_change))
    texture = spec.textures[int(rng.integers(len(spec.textures)))]
    first = _pick_color(rng, samples, spec)
    second = first if texture == "solid" else _pick_color(rng, samples, spec, other=first)
    colors = (_rgb(first), _rgb(second))
    amplitude = rng.uniform(0, spec.scale_change / 2)
    pulse, phase = 2 * np.pi / rng.uniform(spec.num_frames / 2 + 1, 2 * spec.num_frames + 2), rng.uniform(0, 2 * np.pi)
    spin = np.radians(rng.uniform(-spec.max_rotation, spec.max_rotation))
    leaves = spec.num_frames >= 10 and rng.random() < spec.leave_prob
    return _Body(
        obj_id=obj_id, shape=shape, texture=texture, colors=colors, outline=outline * radius,
        radius=radius, bound=radius * (1 + spec.scale_change), size=radius * math.sqrt(_polygon_area(outline)),
        leaves=leaves, leave_start=int(rng.integers(1, max(1, (spec.num_frames - 8) // 3) + 1)),
        angles=rng.uniform(0, 2 * np.pi) + spin * frames,
        scales=1 + amplitude * (np.sin(pulse * frames + phase) - np.sin(phase)),
    )  # fmt: skip


def _plan_leave(body: _Body, position: F64Array, t: int, spec: VideoSpec) -> _Leave | None:
    """Out through the nearest border and back: a sine bump along the border's normal, reaching
    ``_LEAVE_REACH`` times the distance needed to be out of view, so the middle frames are all out."""
    frames_left = spec.num_frames - 2 - t  # back in view by frame T - 2
    if frames_left < _MIN_LEAVE_FRAMES:
        return None
    gaps = (position[0], spec.width - 1 - position[0], position[1], spec.height - 1 - position[1])
    side = int(np.argmin(gaps))
    reach = _LEAVE_REACH * (gaps[side] + body.bound + 2)
    speed = max(3 * spec.max_speed, 0.08) * min(spec.height, spec.width)
    length = min(max(math.ceil(math.pi * reach / speed), _MIN_LEAVE_FRAMES), frames_left)
    return _Leave(t, length, side // 2, -1.0 if side % 2 == 0 else 1.0, reach)


def _spread(candidates: F64Array, placed: F64Array, bounds: F64Array, bound: float) -> F64Array:
    """Per candidate centre, the smallest distance to a placed object over the sum of bounding radii."""
    if not len(placed):
        return np.full(len(candidates), np.inf)
    distances = np.hypot(*(candidates[:, None, :] - placed[None, :, :]).transpose(2, 0, 1))
    return np.asarray((distances / (bounds[None, :] + bound + 1)).min(axis=1), dtype=np.float64)


def _separate(points: F64Array, velocities: F64Array, bounds: F64Array, movable: BoolArray) -> None:
    """Push apart objects whose bounding circles overlap and bounce their velocities (in place)."""
    n = len(points)
    for _ in range(4):
        clean = True
        for i in range(n):
            for j in range(i + 1, n):
                delta = points[j] - points[i]
                distance, needed = float(np.hypot(*delta)), bounds[i] + bounds[j] + 1
                if distance >= needed or not (movable[i] or movable[j]):
                    continue
                clean = False
                normal = delta / distance if distance > 1e-9 else np.array([1.0, 0.0])
                share_i = 0.5 if movable[i] and movable[j] else float(movable[i])
                points[i] -= normal * (needed - distance) * share_i
                points[j] += normal * (needed - distance) * (1 - share_i)
                approach = float((velocities[j] - velocities[i]) @ normal)
                if approach < 0 and movable[i] and movable[j]:  # equal masses: swap normal components
                    velocities[i] += approach * normal
                    velocities[j] -= approach * normal
                elif approach < 0:  # bounce off an object that is leaving the view
                    k, sign = (j, 1.0) if movable[j] else (i, -1.0)
                    velocities[k] -= 2 * min(0.0, sign * float(velocities[k] @ normal)) * sign * normal
        if clean:
            return


class _Crossing(NamedTuple):
    """Where a new object may start so that it meets an earlier one (``partner``) on frame ``frame``."""

    partner: int
    frame: int
    meet: F64Array
    starts: F64Array
    velocities: F64Array


@dataclass
class _Motion:
    """The objects' positions and velocities while a clip's trajectories are simulated."""

    spec: VideoSpec
    bounds: F64Array  # bounding radius per object

    def __post_init__(self) -> None:
        count, spec = len(self.bounds), self.spec
        self.speed = spec.max_speed * min(spec.height, spec.width)
        mid = np.array([(spec.width - 1) / 2, (spec.height - 1) / 2])
        self.low = np.minimum(spec.edge_margin * self.bounds[:, None], mid)  # centre range in normal motion
        self.high = 2 * mid - self.low
        self.low0 = np.minimum(self.bounds[:, None] + 1, mid)  # centre range on frame 0: entirely inside
        self.high0 = 2 * mid - self.low0
        self.position, self.velocity = np.zeros((count, 2)), np.zeros((count, 2))
        self.locked = np.zeros(count, np.int64)  # straight, unperturbed motion until this frame

    def crossing(self, rng: np.random.Generator, i: int, j: int) -> _Crossing | None:
        """Plan object ``i`` to cross object ``j`` (already placed): both move straight to a meeting point."""
        last = self.spec.num_frames - 1
        if self.locked[j] >= 2:  # j is already on a straight course: meet it there
            frame = int(rng.integers(2, self.locked[j] + 1))
            meet = self.position[j] + self.velocity[j] * frame
        else:
            frame = int(rng.integers(max(2, last // 4), max(3, 3 * last // 4) + 1))
            step = rng.uniform(0, self.speed * frame) * _unit(rng.uniform(0, 2 * np.pi))
            low, high = np.maximum(self.low[i], self.low[j]), np.minimum(self.high[i], self.high[j])
            meet = np.clip(self.position[j] + step, low, high)
        velocities = (
            rng.uniform(0.4, 1.0, (_CANDIDATES, 1)) * self.speed * _unit(rng.uniform(0, 2 * np.pi, _CANDIDATES))
        )
        starts = meet - velocities * frame
        fits = np.all((starts >= self.low0[i]) & (starts <= self.high0[i]), axis=1)
        if not fits.any() or np.any((meet < self.low[i]) | (meet > self.high[i])):
            return None
        return _Crossing(j, frame, meet, starts[fits], velocities[fits])

    def place(self, rng: np.random.Generator, bodies: list[_Body]) -> bool:
        """Frame-0 positions and velocities, crossings included; False when the objects must stay
        apart and do not fit."""
        separate = self.spec.occlusion_prob == 0
        for i, body in enumerate(bodies):
            self.velocity[i] = rng.uniform(0.3, 1.0) * self.speed * _unit(rng.uniform(0, 2 * np.pi))
            candidates = rng.uniform(self.low0[i], self.high0[i], (_CANDIDATES, 2))
            plan = None
            partners = [j for j in range(i) if not bodies[j].leaves]
            wanted = bool(partners) and not body.leaves and not separate and self.spec.num_frames >= 4
            if wanted and rng.random() < self.spec.occlusion_prob:
                plan = self.crossing(rng, i, partners[int(rng.integers(len(partners)))])
            if plan is not None:
                candidates = plan.starts
                if self.locked[plan.partner] < 2:
                    self.velocity[plan.partner] = (plan.meet - self.position[plan.partner]) / plan.frame
                    self.locked[plan.partner] = plan.frame
                self.locked[i], body.crosses = plan.frame, bodies[plan.partner].obj_id
            spread = _spread(candidates, self.position[:i], self.bounds[:i], body.bound)
            pick = int(np.argmax(spread))
            if separate and spread[pick] < 1:
                return False
            self.position[i] = candidates[pick]
            if plan is not None:
                self.velocity[i] = plan.velocities[pick]
        return True

    def step(self, rng: np.random.Generator, t: int, leaves: Mapping[int, _Leave]) -> None:
        """Advance from frame ``t`` to ``t + 1``: random acceleration, bounces off the centre range,
        and, when objects must stay apart, off each other."""
        kicks = rng.normal(0.0, self.spec.acceleration * self.speed, self.velocity.shape)
        for i in range(len(self.bounds)):
            leaving = i in leaves and leaves[i].active(t + 1)
            if t >= self.locked[i] and not leaving:
                self.velocity[i] += kicks[i]
                norm = float(np.hypot(*self.velocity[i]))
                if norm > self.speed:
                    self.velocity[i] *= self.speed / norm
            step = self.velocity[i].copy()
            if leaving:  # the manoeuvre drives the normal axis; drift along the border
                step[leaves[i].axis] = 0.0
            self.position[i] += step
            low, high = self.low[i], self.high[i]
            outside = (self.position[i] < low) | (self.position[i] > high)
            self.velocity[i, outside] *= -1
            self.position[i] = np.clip(2 * np.clip(self.position[i], low, high) - self.position[i], low, high)
        if self.spec.occlusion_prob == 0 and len(self.bounds) > 1:
            shown = self.shown(t + 1, leaves)
            movable = np.array([i not in leaves or not leaves[i].active(t + 1) for i in range(len(self.bounds))])
            _separate(shown, self.velocity, self.bounds, movable)
            self.position[movable] = np.clip(shown[movable], self.low[movable], self.high[movable])

    def shown(self, t: int, leaves: Mapping[int, _Leave]) -> F64Array:
        """The centres on frame ``t``: positions plus the offsets of leave manoeuvres."""
        centers = self.position.copy()
        for i, plan in leaves.items():
            centers[i, plan.axis] += plan.offset(t)
        return centers


def _unit(angle: float | F64Array) -> F64Array:
    """Unit vector(s) (x, y) at ``angle`` radians: (2,) or (N, 2)."""
    return np.stack([np.cos(angle), np.sin(angle)], axis=-1)


def _move(rng: np.random.Generator, spec: VideoSpec, bodies: list[_Body]) -> bool:
    """Fill every object's ``centers``; False when the objects must stay apart and do not fit."""
    motion = _Motion(spec, np.array([body.bound for body in bodies]))
    if not motion.place(rng, bodies):
        return False
    centers = np.zeros((len(bodies), spec.num_frames, 2))
    leaves: dict[int, _Leave] = {}
    for t in range(spec.num_frames):
        for i, body in enumerate(bodies):
            if body.leaves and t == body.leave_start:
                plan = _plan_leave(body, motion.position[i], t, spec)
                body.leaves = plan is not None
                if plan is not None:
                    leaves[i] = plan
        centers[:, t] = motion.shown(t, leaves)
        if t < spec.num_frames - 1:
            motion.step(rng, t, leaves)
    for body, track in zip(bodies, centers, strict=True):
        body.centers = track
    return True


# --- rendering ------------------------------------------------------------------------------------


class _Piece(NamedTuple):
    """An object's rasterised shape on one frame: a bool mask whose top-left pixel is (x, y)."""

    x: int
    y: int
    mask: BoolArray


def _linear(angle: float, scale: float) -> F64Array:
    """The 2x2 map from an object's own frame to the image: rotation by ``angle`` (radians), then scale."""
    cos, sin = math.cos(angle), math.sin(angle)
    return float(scale) * np.array([[cos, -sin], [sin, cos]])


def _rasterise(outline: F64Array, center: F64Array, linear: F64Array, height: int, width: int) -> _Piece | None:
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
    return _Piece(x0, y0, mask) if mask.any() else None


def _depth_orders(rng: np.random.Generator, spec: VideoSpec, count: int) -> list[list[int]]:
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


def _lay_out(
    spec: VideoSpec, bodies: list[_Body], orders: list[list[int]]
) -> tuple[LabelArray, list[list[_Piece | None]]] | None:
    """Instance labels and per-frame pieces; None when the layout breaks a guarantee (overlap when
    objects must stay apart, too little of an object visible on frame 0)."""
    labels = np.zeros((spec.num_frames, spec.height, spec.width), np.uint8)
    pieces: list[list[_Piece | None]] = []
    for t, order in enumerate(orders):
        row: list[_Piece | None] = [None] * len(bodies)
        for i in order:
            body = bodies[i]
            assert body.centers is not None
            linear = _linear(body.angles[t], body.scales[t])
            piece = row[i] = _rasterise(body.outline, body.centers[t], linear, spec.height, spec.width)
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


def _paint(
    spec: VideoSpec, bodies: list[_Body], pieces: list[list[_Piece | None]], orders: list[list[int]],
    backdrop: _Backdrop, rng: np.random.Generator,
) -> ImageArray:  # fmt: skip
    """The frames: each object's texture, warped with its pose, painted through its mask in depth order."""
    frames = np.empty((spec.num_frames, spec.height, spec.width, 3), np.uint8)
    patches: list[ImageArray] = []
    for body in bodies:
        half = math.ceil(body.radius) + 2
        patches.append(_texture(rng, body.texture, body.colors, half, spec.texture_noise))
    for t, order in enumerate(orders):
        image = backdrop.view(t, spec.height, spec.width).copy()
        for i in order:
            piece, body = pieces[t][i], bodies[i]
            if piece is None:
                continue
            assert body.centers is not None
            h, w = piece.mask.shape
            half = (patches[i].shape[0] - 1) / 2
            linear = _linear(body.angles[t], body.scales[t])
            shift = body.centers[t] - (piece.x, piece.y) - linear @ (half, half)
            warped = cv2.warpAffine(patches[i], np.hstack([linear, shift[:, None]]), (w, h),
                                    flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)  # fmt: skip
            region = image[piece.y : piece.y + h, piece.x : piece.x + w]
            region[piece.mask] = warped[piece.mask]
        frames[t] = _camera(image, spec, rng)
    return frames


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
    backdrop = _draw_backdrop(backdrop_rng, spec)
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
    backdrop = _draw_backdrop(backdrop_rng, spec)
    pixels = backdrop.canvas.reshape(-1, 3)
    samples = pixels[scene_rng.integers(len(pixels), size=min(len(pixels), 1024))].astype(np.float64)
    count = int(scene_rng.integers(spec.min_objects, spec.max_objects + 1))
    attempt = 0
    while True:  # ends: one object always fits (it starts inside the frame, and alone)
        bodies = [_draw_body(scene_rng, spec, k + 1, samples) for k in range(count)]
        orders = _depth_orders(scene_rng, spec, count)
        layout = _lay_out(spec, bodies, orders) if _move(scene_rng, spec, bodies) else None
        if layout is not None:
            break
        attempt += 1
        if attempt % _ATTEMPTS_PER_COUNT == 0 and count > 1:
            log.debug("seed %d: %d objects do not fit the layout rules; trying %d", seed, count, count - 1)
            count -= 1
    labels, pieces = layout
    frames = _paint(spec, bodies, pieces, orders, backdrop, camera_rng)
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
