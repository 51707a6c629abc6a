"""Every pixel format an image folder may hold decodes to the RGB frame it shows, by one rule:
deeper samples keep their high byte (as Pillow does for 48-bit RGB PNGs), grey fills the three
channels, palettes are looked up, alpha is dropped; ``info`` names the format the files hold."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from vidseg.errors import SourceFormatError
from vidseg.sources import ImageFolderSource, open_source

ROOT = Path(__file__).resolve().parents[2]
H, W = 6, 8
RNG = np.random.default_rng(7)
GREY8 = RNG.integers(0, 256, (H, W), dtype=np.uint8)
GREY16 = RNG.integers(0, 65536, (H, W), dtype=np.uint16)
RGB8 = RNG.integers(0, 256, (H, W, 3), dtype=np.uint8)
RGB16 = RNG.integers(0, 65536, (H, W, 3), dtype=np.uint16)
ALPHA8 = RNG.integers(0, 256, (H, W), dtype=np.uint8)
ALPHA16 = RNG.integers(0, 65536, (H, W), dtype=np.uint16)
INDEX = RNG.integers(0, 4, (H, W), dtype=np.uint8)
PALETTE = np.array([[10, 20, 30], [200, 0, 0], [0, 200, 0], [0, 0, 200]], np.uint8)
BITS = RNG.integers(0, 2, (H, W)).astype(bool)
# Solid 16x16 blocks (a JPEG macroblock each), so that lossy JPEG gives their colours back to
# within a few levels away from the edges, where subsampled chroma bleeds into the neighbour
BLOCKS = np.kron(np.array([[0, 1], [2, 3]]), np.ones((16, 16), int))
INTERIOR = np.kron(np.ones((2, 2), bool), np.pad(np.ones((12, 12), bool), 2))


def _grey(values: np.ndarray) -> np.ndarray:
    return np.repeat(values[:, :, None], 3, axis=2)


def _png(path: Path, samples: np.ndarray, color_type: int, depth: int) -> None:
    """A PNG written byte by byte: Pillow cannot write 16-bit RGB, RGBA or grey+alpha."""
    height, width = samples.shape[:2]
    dtype = ">u2" if depth == 16 else "u1"
    rows = b"".join(b"\x00" + samples[y].astype(dtype).tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
                     + chunk(b"IEND", b""))  # fmt: skip


def _palette(path: Path, transparency: int | bytes | None) -> None:
    img = Image.fromarray(INDEX, mode="P")
    img.putpalette(PALETTE.ravel().tolist())
    img.save(path, **({} if transparency is None else {"transparency": transparency}))


def _cmyk_jpeg(path: Path) -> None:
    inks = np.array([[0, 255, 255, 0], [255, 0, 255, 0], [255, 255, 0, 0], [0, 0, 0, 255]], np.uint8)
    Image.fromarray(inks[BLOCKS], mode="CMYK").save(path, quality=95)


GREY_BLOCKS = np.array([30, 100, 170, 240], np.uint8)[BLOCKS]
RGB_BLOCKS = np.array([[200, 30, 40], [30, 200, 40], [40, 30, 200], [230, 230, 230]], np.uint8)[BLOCKS]

# (name, writer, expected RGB frame, pixel format info reports, tolerance: 0 = exact)
CASES: list[tuple[str, Callable[[Path], None], np.ndarray, str, int]] = [
    ("grey8.png", lambda p: Image.fromarray(GREY8).save(p), _grey(GREY8), "gray", 0),
    ("grey16.png", lambda p: Image.fromarray(GREY16).save(p), _grey((GREY16 >> 8).astype(np.uint8)), "gray16be", 0),
    ("grey16.tif", lambda p: Image.fromarray(GREY16).save(p), _grey((GREY16 >> 8).astype(np.uint8)), "gray16le", 0),
    (
        "grey-alpha8.png",
        lambda p: Image.fromarray(np.dstack([GREY8, ALPHA8]), mode="LA").save(p),
        _grey(GREY8),
        "ya8",
        0,
    ),
    (
        "grey-alpha16.png",
        lambda p: _png(p, np.dstack([GREY16, ALPHA16]), 4, 16),
        _grey((GREY16 >> 8).astype(np.uint8)),
        "ya16be",
        0,
    ),
    ("palette.png", lambda p: _palette(p, None), PALETTE[INDEX], "pal8", 0),
    ("palette-key.png", lambda p: _palette(p, 0), PALETTE[INDEX], "pal8", 0),
    ("palette-alpha.png", lambda p: _palette(p, bytes([0, 128, 255, 255])), PALETTE[INDEX], "pal8", 0),
    ("rgb.png", lambda p: Image.fromarray(RGB8).save(p), RGB8, "rgb24", 0),
    ("rgba.png", lambda p: Image.fromarray(np.dstack([RGB8, ALPHA8]), mode="RGBA").save(p), RGB8, "rgba", 0),
    ("rgb48.png", lambda p: _png(p, RGB16, 2, 16), (RGB16 >> 8).astype(np.uint8), "rgb48be", 0),
    ("rgba64.png", lambda p: _png(p, np.dstack([RGB16, ALPHA16]), 6, 16), (RGB16 >> 8).astype(np.uint8), "rgba64be", 0),
    ("bits.png", lambda p: Image.fromarray(BITS).save(p), _grey(BITS.astype(np.uint8) * 255), "monob", 0),
    ("bits.bmp", lambda p: Image.fromarray(BITS).save(p), _grey(BITS.astype(np.uint8) * 255), "monob", 0),
    ("rgb.bmp", lambda p: Image.fromarray(RGB8).save(p), RGB8, "rgb24", 0),
    ("rgb.tif", lambda p: Image.fromarray(RGB8).save(p), RGB8, "rgb24", 0),
    ("rgb.webp", lambda p: Image.fromarray(RGB8).save(p, lossless=True), RGB8, "rgb24", 0),
    ("grey.jpg", lambda p: Image.fromarray(GREY_BLOCKS).save(p, quality=95), _grey(GREY_BLOCKS), "gray", 12),
    ("rgb.jpg", lambda p: Image.fromarray(RGB_BLOCKS).save(p, quality=95), RGB_BLOCKS, "yuvj420p", 12),
    (
        "rgb444.jpg",
        lambda p: Image.fromarray(RGB_BLOCKS).save(p, quality=95, subsampling=0),
        RGB_BLOCKS,
        "yuvj444p",
        12,
    ),
    (
        "cmyk.jpg",
        _cmyk_jpeg,
        np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [0, 0, 0]], np.uint8)[BLOCKS],
        "cmyk",
        12,
    ),
]


@pytest.mark.parametrize(("name", "write", "expected", "pix_fmt", "tolerance"), CASES, ids=[c[0] for c in CASES])
def test_every_pixel_format_decodes_to_the_rgb_it_shows(tmp_path, name, write, expected, pix_fmt, tolerance):
    for k in range(2):
        write(tmp_path / f"{k:05d}{Path(name).suffix}")
    with ImageFolderSource(tmp_path, fps=10) as source:
        frames = list(source)
    assert len(frames) == 2
    for frame in frames:
        assert frame.image.dtype == np.uint8 and frame.image.shape == expected.shape
        if tolerance:
            error = np.abs(frame.image.astype(int) - expected.astype(int))[INTERIOR]
            assert error.max() <= tolerance, name
        else:
            np.testing.assert_array_equal(frame.image, expected)
    assert source.info.pix_fmt == pix_fmt


def test_a_16_bit_grey_png_opened_as_mode_i(tmp_path, monkeypatch):
    """Older Pillow (pillow>=9.4 is allowed) opens a 16-bit grey PNG as 32-bit mode "I" read from
    "I;16B"; patching Pillow 13's table back gives that mode here."""
    Image.fromarray(GREY16).save(tmp_path / "0.png")
    monkeypatch.setitem(PngImagePlugin._MODES, (16, 0), ("I", "I;16B"))
    with Image.open(tmp_path / "0.png") as img:
        assert img.mode == "I"
    with ImageFolderSource(tmp_path) as source:
        (frame,) = list(source)
        assert source.info.pix_fmt == "gray16be"
    np.testing.assert_array_equal(frame.image, _grey((GREY16 >> 8).astype(np.uint8)))


@pytest.mark.parametrize(
    ("array", "found"),
    [(GREY16.astype(np.int32) * 40000, "32-bit integer"), (GREY16.astype(np.float32) / 65535, "floating-point")],
    ids=["int32", "float32"],
)
def test_samples_without_a_fixed_range_are_refused_in_one_line(tmp_path, array, found):
    Image.fromarray(array).save(tmp_path / "0.tif")
    with pytest.raises(SourceFormatError) as error:
        open_source(tmp_path)
    message = str(error.value)
    assert found in message and "0.tif" in message and "16-bit" in message and "\n" not in message


def test_vidseg_info_names_the_images_pixel_format(tmp_path):
    for k in range(3):
        Image.fromarray(GREY16).save(tmp_path / f"{k}.png")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "vidseg", "info", str(tmp_path)], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "png, gray16be, 8x6" in proc.stdout and "rgb24" not in proc.stdout
