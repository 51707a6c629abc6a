"""What an object of a synthetic clip looks like: its outline polygon, its texture patch and
colours chosen for a target contrast to the background.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from vidseg.datasets.synth.spec import SHAPE_IDS, TEXTURES, F64Array, Rgb, VideoSpec
from vidseg.errors import ConfigError
from vidseg.types import ImageArray


def draw_outline(rng: np.random.Generator, shape: str) -> F64Array:
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


def polygon_area(points: F64Array) -> float:
    x, y = points[:, 0], points[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def draw_texture(rng: np.random.Generator, kind: str, colors: tuple[Rgb, Rgb], half: int, noise: float) -> ImageArray:
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


def to_rgb(color: F64Array) -> Rgb:
    red, green, blue = (round(float(c)) for c in color)
    return red, green, blue


def background_contrast(color: F64Array, samples: F64Array) -> float:
    """Distance (fraction of 255) from ``color`` to the background: 5th percentile over samples."""
    distances = np.sqrt(((samples - color) ** 2).sum(axis=1))
    k = len(distances) // 20
    return float(np.partition(distances, k)[k] / 255)


def pick_color(rng: np.random.Generator, samples: F64Array, spec: VideoSpec, other: F64Array | None = None) -> F64Array:
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
        contrast = background_contrast(color, samples)
        if spec.min_contrast <= contrast <= spec.max_contrast:
            return color
        rank = (
            contrast >= spec.min_contrast,
            -abs(contrast - min(max(contrast, spec.min_contrast), spec.max_contrast)),
        )
        if best is None or rank > best_rank:
            best, best_rank = color, rank
    return best if best is not None else rng.uniform(0, 255, 3)
