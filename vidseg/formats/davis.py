"""DAVIS-layout palette PNGs, pixel index = object id: one per frame, named like the source image
(``00042.png`` for ``00042.jpg``) when the source is an image folder, else ``{index:05d}.png``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from vidseg.errors import InputError, SinkError


def davis_palette() -> list[int]:
    """The DAVIS colour palette (the bit-interleaved VOC palette), 256 RGB entries flattened."""
    palette: list[int] = []
    for index in range(256):
        r = g = b = 0
        c = index
        for shift in range(7, -1, -1):
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette.extend((r, g, b))
    return palette


class DavisWriter:
    """Writes one indexed PNG per frame into a folder (ids must fit in 8 bits)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(f"cannot create {self.folder}: {exc}") from exc
        self._palette = davis_palette()
        self.frames = 0

    def write(self, labels: np.ndarray, index: int, name: str | None = None) -> None:
        if labels.size and int(labels.max()) > 255:
            raise InputError(f"DAVIS PNGs hold ids up to 255; found {int(labels.max())}")
        image = Image.fromarray(labels.astype(np.uint8), mode="P")
        image.putpalette(self._palette)
        image.save(self.folder / f"{name if name is not None else f'{index:05d}'}.png")
        self.frames += 1

    def close(self) -> None:
        """Nothing buffered."""
