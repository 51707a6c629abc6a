"""The knobs of the synthetic video generator: :class:`VideoSpec`, the shape, texture and
background kinds it draws from, and the array aliases the generator's modules share.

Every length and speed of a spec is a fraction of ``min(height, width)``; :meth:`VideoSpec.at_difficulty`
interpolates all knobs between an easy and a hard clip.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from vidseg.errors import ConfigError

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
