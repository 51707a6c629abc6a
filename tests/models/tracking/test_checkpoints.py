"""Checkpoint lookup: explicit path, cache, download with checksum, and the offline error."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from vidseg.errors import CheckpointError
from vidseg.models.tracking import build_tracker, get_model_spec
from vidseg.models.tracking.checkpoints import resolve_checkpoint, sha256_of


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on a free loopback port serving a temporary folder."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_explicit_path_must_exist(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist") as info:
        build_tracker("sam2.1_hiera_tiny", tmp_path / "missing.pt", device="cpu")
    assert isinstance(info.value, FileNotFoundError)


def test_offline_error_says_where_to_put_the_file(tmp_path):
    spec = dataclasses.replace(
        get_model_spec("sam2.1_hiera_tiny"), url=f"http://127.0.0.1:{closed_port()}/sam2.1_hiera_tiny.pt"
    )
    with pytest.raises(CheckpointError) as info:
        resolve_checkpoint(spec, cache_dir=tmp_path / "cache")
    message = str(info.value)
    assert str(tmp_path / "cache" / "sam2.1_hiera_tiny.pt") in message
    assert "--checkpoint" in message and "--random-weights" in message
    assert not (tmp_path / "cache" / "sam2.1_hiera_tiny.pt").exists()


def test_no_download_error(tmp_path):
    with pytest.raises(CheckpointError, match="downloads are off"):
        build_tracker("sam2.1_hiera_tiny", image_size=64, device="cpu", cache_dir=tmp_path, download=False)


def test_download_into_cache_with_checksum(file_server, tmp_path):
    url, served = file_server
    payload = b"not really weights" * 1000
    (served / "sam2.1_hiera_tiny.pt").write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()
    spec = dataclasses.replace(get_model_spec("sam2.1_hiera_tiny"), url=f"{url}/sam2.1_hiera_tiny.pt", sha256=digest)
    cache = tmp_path / "cache"
    resolved = resolve_checkpoint(spec, cache_dir=cache)
    assert resolved.path == cache / "sam2.1_hiera_tiny.pt"
    assert resolved.path.read_bytes() == payload and resolved.sha256 == digest
    # A second lookup finds it in the cache (the server is not needed any more).
    (served / "sam2.1_hiera_tiny.pt").unlink()
    assert resolve_checkpoint(spec, cache_dir=cache).path == resolved.path


def test_checksum_mismatch_is_refused(file_server, tmp_path):
    url, served = file_server
    (served / "sam2.1_hiera_tiny.pt").write_bytes(b"tampered")
    spec = dataclasses.replace(get_model_spec("sam2.1_hiera_tiny"), url=f"{url}/sam2.1_hiera_tiny.pt", sha256="0" * 64)
    with pytest.raises(CheckpointError, match="expected 0000"):
        resolve_checkpoint(spec, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache" / "sam2.1_hiera_tiny.pt").exists()


def test_checkpoint_weights_are_loaded(make_tracker, clip24, tmp_path):
    source = make_tracker(image_size=64, seed=1)
    path = tmp_path / "weights.pt"
    torch.save({"model": source.model.state_dict()}, path)
    loaded = build_tracker("sam2.1_hiera_tiny", path, image_size=64, device="cpu", seed=0)
    assert not loaded.info.random_weights
    assert loaded.info.checkpoint == str(path) and loaded.info.checkpoint_sha256 == sha256_of(path)
    for tracker in (source, loaded):
        tracker.add_prompt(1, points=[clip24.center(0, 1)])
    a, b = source.step(clip24.frames[0]), loaded.step(clip24.frames[0])
    np.testing.assert_array_equal(a.logits, b.logits)
    other = make_tracker(image_size=64, seed=0)
    other.add_prompt(1, points=[clip24.center(0, 1)])
    assert not np.array_equal(other.step(clip24.frames[0]).logits, b.logits)


@pytest.mark.parametrize(
    ("content", "match"),
    [({"model": {"foo": torch.zeros(1)}}, "does not fit"), ({"state": 1}, "not a SAM 2 checkpoint")],
    ids=["wrong-keys", "no-model-key"],
)
def test_checkpoint_that_does_not_fit(tmp_path, content, match):
    path = tmp_path / "bad.pt"
    torch.save(content, path)
    with pytest.raises(CheckpointError, match=match):
        build_tracker("sam2.1_hiera_tiny", path, image_size=64, device="cpu")


def test_checkpoint_that_is_not_a_torch_file(tmp_path):
    path = tmp_path / "junk.pt"
    path.write_text("hello")
    with pytest.raises(CheckpointError, match="cannot read"):
        build_tracker("sam2.1_hiera_tiny", path, image_size=64, device="cpu")
