"""The background of a synthetic clip: a static textured canvas with optional distractor
shapes, and the camera pan, the per-frame view of that canvas.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import cv2
import numpy as np
import numpy.typing as npt

from vidseg.datasets.synth.appearance import draw_outline
from vidseg.datasets.synth.spec import VideoSpec
from vidseg.types import ImageArray


@dataclass(frozen=True)
class Backdrop:
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


def draw_backdrop(rng: np.random.Generator, spec: VideoSpec) -> Backdrop:
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
        outline = draw_outline(rng, spec.shapes[int(rng.integers(len(spec.shapes)))])
        center = rng.uniform((0, 0), (width, height))
        points = center + rng.uniform(0.04, 0.15) * side * outline
        color = tuple(float(c) for c in rng.uniform(0, 255, 3))
        cv2.fillPoly(canvas, [np.round(points * 16).astype(np.int32)], color, lineType=cv2.LINE_8, shift=4)
    canvas += rng.standard_normal(canvas.shape, dtype=np.float32) * np.float32(spec.background_noise * 255)
    return Backdrop(np.clip(canvas + 0.5, 0, 255).astype(np.uint8), offsets)
