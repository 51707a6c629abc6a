"""Shared fixtures: generated clips and small random-weight trackers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A real redis-server on a free loopback port, started and stopped by PID."""

    def __init__(self, folder: Path, password: str | None = None, persist: bool = False) -> None:
        self.port = free_port()
        self.folder = folder
        self.password = password
        self.persist = persist  # append-only file, fsync'd on every write: a killed server keeps its data
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        aof = ["--appendonly", "yes", "--appendfsync", "always"] if self.persist else ["--appendonly", "no"]
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *aof,
                "--dir", str(self.folder)]  # fmt: skip
        if self.password:
            args += ["--requirepass", self.password]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server (``signal.SIGKILL``: kill it without a clean shutdown)."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, sig)
            self.process.wait(timeout=10)
        self.process = None


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
