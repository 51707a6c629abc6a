"""Label videos read back exactly what was written."""

from __future__ import annotations

import numpy as np
import pytest

from vidseg.errors import InputError, SinkError
from vidseg.formats.label_video import LabelVideoWriter, read_label_video


@pytest.mark.parametrize(
    ("bits", "height", "width", "max_id"),
    [(8, 48, 64, 3), (8, 37, 51, 255), (16, 33, 47, 65535), (16, 1, 3, 300)],
    ids=["8bit-few-ids", "8bit-odd-size-all-ids", "16bit-odd-size", "16bit-tiny"],
)
def test_round_trip(tmp_path, bits, height, width, max_id):
    rng = np.random.default_rng(bits + height)
    dtype = np.uint8 if bits == 8 else np.uint16
    maps = [rng.integers(0, max_id + 1, (height, width)).astype(dtype) for _ in range(6)]
    path = tmp_path / "masks.mkv"
    with LabelVideoWriter(path, width, height, bits=bits) as writer:
        for k, labels in enumerate(maps):
            writer.write(labels, time=k * 0.04)
    back = list(read_label_video(path))
    assert len(back) == len(maps)
    for written, read in zip(maps, back, strict=True):
        assert read.labels.dtype == dtype
        np.testing.assert_array_equal(read.labels, written)
    assert [round(f.time, 3) for f in back] == [round(k * 0.04, 3) for k in range(6)]


def test_ids_too_large_for_8_bits(tmp_path):
    with LabelVideoWriter(tmp_path / "m.mkv", 4, 4, bits=8) as writer, pytest.raises(InputError, match="bits=16"):
        writer.write(np.full((4, 4), 300, np.uint16))


def test_wrong_shape_and_bits(tmp_path):
    with LabelVideoWriter(tmp_path / "m.mkv", 4, 4) as writer, pytest.raises(InputError, match="shape"):
        writer.write(np.zeros((5, 4), np.uint8))
    with pytest.raises(SinkError, match="8 or 16"):
        LabelVideoWriter(tmp_path / "n.mkv", 4, 4, bits=12)


def test_colliding_millisecond_times_keep_every_frame(tmp_path):
    path = tmp_path / "m.mkv"
    with LabelVideoWriter(path, 8, 8) as writer:
        for k in range(4):
            writer.write(np.full((8, 8), k, np.uint8), time=0.0001 * k)
    assert [int(f.labels[0, 0]) for f in read_label_video(path)] == [0, 1, 2, 3]
