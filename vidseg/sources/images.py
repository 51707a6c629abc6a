"""A folder or glob of images as a video (the DAVIS / SA-V JPEG layout: 00000.jpg, 00001.jpg, ...).

Frames are ordered by the number in their names (then by name), and time-stamped at ``fps``.
"""

from __future__ import annotations

import glob
import logging
import re
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from vidseg.errors import SourceError, SourceFormatError, SourceNotFoundError
from vidseg.sources.base import FrameSelector, SourceInfo, SourceStats
from vidseg.types import Frame

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def _natural_key(path: Path) -> tuple[int, str]:
    digits = re.findall(r"\d+", path.stem)
    return (int(digits[-1]) if digits else -1, path.name)


def find_images(spec: str | Path) -> list[Path]:
    """Image files of a folder, or matching a glob pattern, in natural order."""
    text = str(spec)
    if any(ch in text for ch in "*?["):
        paths = [Path(p) for p in glob.glob(text)]
    else:
        folder = Path(text)
        if not folder.exists():
            raise SourceNotFoundError(f"image folder {folder} does not exist")
        paths = list(folder.iterdir())
    images = sorted((p for p in paths if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()), key=_natural_key)
    if not images:
        raise SourceFormatError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found at {text}")
    return images


class ImageFolderSource:
    """Frames from a folder or glob of images.

    Args:
        spec: a folder, or a glob pattern such as ``"clip/*.jpg"``.
        fps: frame rate to time-stamp the frames with.
        every: keep every ``every``-th image.
        start, end: first and last time (seconds) to emit.
        source_id: name carried by every frame (default: the folder's name).
    """

    def __init__(
        self,
        spec: str | Path,
        fps: float = 24.0,
        every: int = 1,
        start: float | None = None,
        end: float | None = None,
        source_id: str | None = None,
    ) -> None:
        if fps <= 0:
            raise SourceError(f"--fps must be > 0; found {fps}")
        self._select = FrameSelector(every, start, end)
        self._paths = find_images(spec)
        self._fps = Fraction(fps).limit_denominator(1001)
        self._source_id = source_id or self._paths[0].parent.name
        self._stats = SourceStats()
        try:
            with Image.open(self._paths[0]) as first:
                width, height = first.size
                codec = (first.format or "image").lower()
        except (OSError, UnidentifiedImageError) as exc:
            raise SourceFormatError(f"cannot read image {self._paths[0]}: {exc}") from exc
        self._info = SourceInfo(
            uri=str(spec),
            kind="images",
            width=width,
            height=height,
            fps=float(self._fps),
            frames=len(self._paths),
            duration=len(self._paths) / float(self._fps),
            codec=codec,
            container="image sequence",
            pix_fmt="rgb24",
            time_base=1 / self._fps,
            frames_declared=True,
        )

    @property
    def info(self) -> SourceInfo:
        return self._info

    @property
    def stats(self) -> SourceStats:
        return self._stats

    def __iter__(self) -> Iterator[Frame]:
        time_base = 1 / self._fps
        for pts, path in enumerate(self._paths):
            time = float(pts * time_base)
            if self._select.past_end(time):
                break
            if not self._select.keep(time):
                continue
            try:
                with Image.open(path) as img:
                    image = np.asarray(img.convert("RGB"))
            except (OSError, UnidentifiedImageError) as exc:
                self._stats.corrupt_packets += 1
                log.warning("skipped unreadable image %s: %s", path, exc)
                continue
            if image.shape[:2] != (self._info.height, self._info.width):
                raise SourceFormatError(
                    f"image {path} is {image.shape[1]}x{image.shape[0]}, but the sequence started at "
                    f"{self._info.width}x{self._info.height} ({self._paths[0].name}): every image of a sequence "
                    "must have one size; resize or remove it"
                )
            self._stats.decoded += 1
            yield Frame(image=image, index=self._stats.emitted, pts=pts, time_base=time_base, time=time,
                        source_id=self._source_id, name=path.stem)  # fmt: skip
            self._stats.emitted += 1

    def close(self) -> None:
        """Nothing to release (files are opened one at a time)."""

    def __enter__(self) -> ImageFolderSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
