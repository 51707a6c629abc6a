"""Shared fixtures: generated clips and small random-weight trackers."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from vidseg.datasets.moving_shapes import SyntheticClip, moving_shapes_clip
from vidseg.devtools.redis_server import LocalRedisServer
from vidseg.devtools.rtsp_feed import SYSTEM_PYTHON, RtspTestFeed
from vidseg.models.tracking import Sam2Tracker, build_tracker

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


class RedisServer(LocalRedisServer):
    """A real redis-server on a free loopback port in the test's folder, started and stopped by PID."""

    def __init__(self, folder: Path, password: str | None = None, persist: bool = False) -> None:
        super().__init__(folder, password=password, persist=persist)


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: run scripts/setup.sh (it installs the Debian package)")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class RtspFeed(RtspTestFeed):
    """The RTSP test feed on a free loopback port, stopped by PID (see vidseg.devtools.rtsp_feed)."""


@pytest.fixture
def rtsp_feed() -> Iterator[RtspFeed]:
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0')"],
                           capture_output=True, timeout=30) if os.path.exists(SYSTEM_PYTHON) else None  # fmt: skip
    if probe is None or probe.returncode != 0:
        pytest.fail("GStreamer's RTSP server is not installed for /usr/bin/python3: run scripts/setup.sh "
                    "(it installs the Debian packages)")  # fmt: skip
    feed = RtspFeed().start()
    try:
        yield feed
    finally:
        feed.stop()
