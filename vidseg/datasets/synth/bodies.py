"""The objects of a synthetic clip while it is generated: :class:`Body`, the mutable record the
motion and rendering steps fill in, and :func:`draw_body`, which draws everything fixed about an
object (shape, size, texture, colours, rotation and scale over time, whether it leaves the view).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vidseg.datasets.synth.appearance import draw_outline, pick_color, polygon_area, to_rgb
from vidseg.datasets.synth.spec import F64Array, Rgb, VideoSpec


@dataclass
class Body:
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


def draw_body(rng: np.random.Generator, spec: VideoSpec, obj_id: int, samples: F64Array) -> Body:
    """Draw object ``obj_id``: its shape and size (fitting inside frame 0 at its largest scale),
    texture and colours (contrasted with the background ``samples``, (N, 3) RGB), rotation and scale
    per frame, and whether and when it leaves the view. Its trajectory is left to the motion step.

    The order of the draws from ``rng`` is part of every clip's pixels: reordering them changes
    the clips generated for every seed.
    """
    side, frames = min(spec.height, spec.width), np.arange(spec.num_frames)
    shape = spec.shapes[int(rng.integers(len(spec.shapes)))]
    outline = draw_outline(rng, shape)
    size = rng.uniform(spec.min_size, spec.max_size) * side
    # The object must fit inside frame 0 at its largest scale.
    radius = min(size / math.sqrt(polygon_area(outline)), ((side - 1) / 2 - 1.5) / (1 + spec.scale_change))
    texture = spec.textures[int(rng.integers(len(spec.textures)))]
    first = pick_color(rng, samples, spec)
    second = first if texture == "solid" else pick_color(rng, samples, spec, other=first)
    colors = (to_rgb(first), to_rgb(second))
    amplitude = rng.uniform(0, spec.scale_change / 2)
    pulse, phase = 2 * np.pi / rng.uniform(spec.num_frames / 2 + 1, 2 * spec.num_frames + 2), rng.uniform(0, 2 * np.pi)
    spin = np.radians(rng.uniform(-spec.max_rotation, spec.max_rotation))
    leaves = spec.num_frames >= 10 and rng.random() < spec.leave_prob
    return Body(
        obj_id=obj_id, shape=shape, texture=texture, colors=colors, outline=outline * radius,
        radius=radius, bound=radius * (1 + spec.scale_change), size=radius * math.sqrt(polygon_area(outline)),
        leaves=leaves, leave_start=int(rng.integers(1, max(1, (spec.num_frames - 8) // 3) + 1)),
        angles=rng.uniform(0, 2 * np.pi) + spin * frames,
        scales=1 + amplitude * (np.sin(pulse * frames + phase) - np.sin(phase)),
    )  # fmt: skip
