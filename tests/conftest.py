"""Shared fixtures: generated clips and small random-weight trackers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from vidseg.synthetic import SyntheticClip, moving_shapes_clip
from vidseg.tracking import Sam2Tracker, build_tracker

# Results compared bit for bit must run with the same thread count on both sides.
torch.set_num_threads(2)


@pytest.fixture(scope="session")
def clip24() -> SyntheticClip:
    """24 frames, 240x320, two moving shapes."""
    return moving_shapes_clip(num_frames=24, height=240, width=320, num_objects=2, seed=0)


@pytest.fixture
def make_tracker() -> Callable[..., Sam2Tracker]:
    """Build a seeded random-weight hiera-tiny tracker on the CPU (image size 128 unless given)."""

    def make(**kwargs: Any) -> Sam2Tracker:
        options: dict[str, Any] = {"random_weights": True, "image_size": 128, "device": "cpu", "seed": 0}
        options.update(kwargs)
        return build_tracker("sam2.1_hiera_tiny", **options)

    return make
