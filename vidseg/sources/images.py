"""A folder or glob of images as a video (the DAVIS / SA-V JPEG layout: 00000.jpg, 00001.jpg, ...).

Frames are ordered by the number in their names (then by name), and time-stamped at ``fps``.
Every pixel format Pillow opens becomes 8-bit RGB by one rule: samples deeper than 8 bits keep
their high byte (what Pillow itself does for 16-bit RGB PNGs), grey is repeated into the three
channels, palettes are looked up, and alpha is dropped, not composited.
"""

from __future__ import annotations

import glob
import logging
import re
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, JpegImagePlugin, UnidentifiedImageError

from vidseg.errors import SourceError, SourceFormatError, SourceNotFoundError
from vidseg.sources.base import FrameSelector, SourceInfo, SourceStats, check_start
from vidseg.types import Frame

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


# Pillow modes whose samples are 16-bit grey (older Pillow opens a 16-bit grey PNG as "I", stored "I;16B")
_GREY16_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
# FFmpeg's names for what Pillow opens, by Pillow mode, for ``vidseg info`` (as FFmpeg would say)
_PIX_FMTS = {"1": "monob", "L": "gray", "LA": "ya8", "La": "ya8", "P": "pal8", "PA": "pal8", "RGB": "rgb24",
             "RGBA": "rgba", "RGBa": "rgba", "CMYK": "cmyk", "YCbCr": "yuv444p", "F": "grayf32"}  # fmt: skip
_JPEG_SAMPLING = {0: "yuvj444p", 1: "yuvj422p", 2: "yuvj420p"}


def _raw_mode(img: Image.Image) -> str:
    """How the file stores its pixels (``"RGB;16B"`` for a 48-bit PNG that Pillow opens as RGB);
    only known before the image is loaded, and the mode itself when the plugin does not say."""
    tiles = getattr(img, "tile", None) or []
    args = tiles[0][3] if tiles else None
    if isinstance(args, tuple):
        args = args[0] if args else None
    return args if isinstance(args, str) else img.mode


def _is_16bit(raw: str) -> bool:
    return ";16" in raw


def pixel_format(img: Image.Image) -> str:
    """The pixel format an image file holds, named as FFmpeg names it (``"gray16be"`` for a 16-bit
    grey PNG, ``"rgb48be"`` for a 48-bit one, ``"yuvj420p"`` for a usual JPEG); call before loading."""
    mode, raw = img.mode, _raw_mode(img)
    endian = "le" if raw.endswith("L") or raw.endswith(";16") else "be"
    if mode in _GREY16_MODES or (mode == "I" and _is_16bit(raw)):
        return f"gray16{endian}"
    if mode == "I":
        return "gray32"
    if _is_16bit(raw):  # Pillow holds these as 8-bit RGB/RGBA; the file is deeper
        layout = raw.split(";")[0]
        return {"RGB": "rgb48", "RGBA": "rgba64", "LA": "ya16"}.get(layout, layout.lower() + "16") + endian
    if img.format == "JPEG" and mode == "RGB" and img.info.get("adobe_transform") != 0:
        return _JPEG_SAMPLING.get(JpegImagePlugin.get_sampling(img), "rgb24")  # YCbCr in the file
    return _PIX_FMTS.get(mode, mode.lower())


def _check_convertible(img: Image.Image, path: Path) -> None:
    """Refuse images whose sample range has no one reading (32-bit integers, floats)."""
    if img.mode == "F" or (img.mode == "I" and not _is_16bit(_raw_mode(img))):
        raise SourceFormatError(
            f"image {path} holds {'floating-point' if img.mode == 'F' else '32-bit integer'} samples "
            f"({pixel_format(img)}), which have no fixed range to scale to 8 bits; save the images as 8- or "
            "16-bit (PNG or TIFF) or JPEG"
        )


def to_rgb(img: Image.Image, path: Path) -> np.ndarray:
    """An opened image as an HxWx3 uint8 RGB array (see the module's rule).

    Raises:
        SourceFormatError: floating-point or 32-bit integer samples.
    """
    _check_convertible(img, path)
    if img.mode in _GREY16_MODES or img.mode == "I":
        # Pillow's own convert("L") clips 16-bit grey at 255 (all-white frames); keep the high byte
        grey = (np.clip(np.asarray(img).astype(np.int64), 0, 0xFFFF) >> 8).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if img.mode in ("P", "PA", "LA", "La", "RGBa"):
        # through RGBA: Pillow warns when a palette with per-entry transparency goes straight to RGB
        return np.ascontiguousarray(np.asarray(img.convert("RGBA"))[:, :, :3])
    return np.asarray(img.convert("RGB"))


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
                pix_fmt = pixel_format(first)
                _check_convertible(first, self._paths[0])
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
            pix_fmt=pix_fmt,
            time_base=1 / self._fps,
            frames_declared=True,
        )
        check_start(start, self._info)

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
                    image = to_rgb(img, path)
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
