"""Generated video clips with known ground truth: shapes moving over a textured background.

Used by the demo job, the tests and the benchmarks, so none of them needs a video file.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from vidseg.types import ImageArray


@dataclass(frozen=True)
class SyntheticClip:
    """A generated clip.

    Attributes:
        frames: T frames, HxWx3 uint8 RGB.
        labels: (T, H, W) uint16 instance ids per pixel (0 = background).
        fps: nominal frame rate.
    """

    frames: list[ImageArray]
    labels: npt.NDArray[np.uint16]
    fps: float

    def mask(self, frame: int, obj_id: int) -> np.ndarray:
        """HxW bool mask of ``obj_id`` on ``frame``."""
        return np.asarray(self.labels[frame] == obj_id)

    def center(self, frame: int, obj_id: int) -> tuple[float, float]:
        """(x, y) centre of mass of ``obj_id`` on ``frame``."""
        ys, xs = np.nonzero(self.mask(frame, obj_id))
        if xs.size == 0:
            raise ValueError(f"object {obj_id} is not visible on frame {frame}")
        return float(xs.mean()), float(ys.mean())

    def box(self, frame: int, obj_id: int) -> tuple[float, float, float, float]:
        """(x1, y1, x2, y2) tight box of ``obj_id`` on ``frame``."""
        ys, xs = np.nonzero(self.mask(frame, obj_id))
        if xs.size == 0:
            raise ValueError(f"object {obj_id} is not visible on frame {frame}")
        return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


def moving_shapes_clip(
    num_frames: int = 24,
    height: int = 240,
    width: int = 320,
    num_objects: int = 2,
    seed: int = 0,
    fps: float = 25.0,
) -> SyntheticClip:
    """Shapes (discs and rectangles) of distinct colours moving in straight lines and bouncing
    off the borders, over a smooth noisy background. Later objects are drawn on top."""
    if num_frames < 1 or height < 16 or width < 16 or num_objects < 0:
        raise ValueError(
            f"need num_frames >= 1, height and width >= 16, num_objects >= 0; found "
            f"{num_frames}, {height}x{width}, {num_objects}"
        )
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, 1.0, (height // 8 + 1, width // 8 + 1, 3)).astype(np.float32)
    background = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    background = np.clip(110 + 35 * background, 0, 255)
    size = min(height, width)
    shapes = []
    for k in range(num_objects):
        radius = float(rng.uniform(0.10, 0.18) * size)
        pos = np.array([rng.uniform(radius, width - radius), rng.uniform(radius, height - radius)])
        vel = rng.uniform(-0.03, 0.03, 2) * size
        color = rng.integers(0, 256, 3)
        color[k % 3] = 255
        shapes.append((k % 2, radius, pos, vel, color))

    frames: list[ImageArray] = []
    labels = np.zeros((num_frames, height, width), dtype=np.uint16)
    for t in range(num_frames):
        img = background.copy()
        for k, (kind, radius, pos, vel, color) in enumerate(shapes):
            layer = np.zeros((height, width), dtype=np.uint8)
            cx, cy = (round(float(v)) for v in pos)
            if kind == 0:
                cv2.circle(layer, (cx, cy), int(radius), 1, thickness=-1)
            else:
                r = int(radius)
                cv2.rectangle(layer, (cx - r, cy - r // 2), (cx + r, cy + r // 2), 1, thickness=-1)
            inside = layer.astype(bool)
            img[inside] = color
            labels[t][inside] = k + 1
            pos += vel
            for d, limit in ((0, width), (1, height)):
                if not radius <= pos[d] <= limit - radius:
                    vel[d] = -vel[d]
                    pos[d] = np.clip(pos[d], radius, limit - radius)
        frames.append(img.astype(np.uint8))
    return SyntheticClip(frames=frames, labels=labels, fps=fps)


def write_clip_video(
    clip: SyntheticClip,
    path: str | Path,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    fps: float | None = None,
    options: dict[str, str] | None = None,
) -> Path:
    """Encode a clip's frames to a video file with PyAV (for samples and tests)."""
    import av

    out_path = Path(path)
    rate = Fraction(fps if fps is not None else clip.fps).limit_denominator(1001)
    with av.open(str(out_path), mode="w") as container:
        stream: Any = container.add_stream(codec, rate=rate)
        height, width = clip.frames[0].shape[:2]
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if options:
            stream.options = options
        for image in clip.frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out_path
