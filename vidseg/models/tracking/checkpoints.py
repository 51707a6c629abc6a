"""Finding, downloading and verifying SAM 2 checkpoints.

This is the one place vidseg downloads weights. Order of lookup:

1. an explicit path given by the caller;
2. the cache directory (``VIDSEG_CACHE`` read by the CLI, else ``~/.cache/vidseg/checkpoints``);
3. a download of the official checkpoint into the cache, when ``download=True`` and online.

A checkpoint whose published SHA-256 is known is verified; the computed hash is always reported
so outputs can record exactly which weights produced them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from vidseg.errors import CheckpointError
from vidseg.models.tracking.registry import ModelSpec

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


def default_cache_dir() -> Path:
    """``~/.cache/vidseg/checkpoints`` (respecting ``XDG_CACHE_HOME``)."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "vidseg" / "checkpoints"


@dataclass(frozen=True)
class ResolvedCheckpoint:
    """A checkpoint file on disk and its SHA-256."""

    path: Path
    sha256: str


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path: Path, expected: str | None, origin: str) -> str:
    actual = sha256_of(path)
    if expected is not None and actual != expected:
        raise CheckpointError(
            f"checkpoint {path} ({origin}) has SHA-256 {actual}, expected {expected}; "
            "the file is corrupt or not the official one: delete it and download it again"
        )
    return actual


def _offline_message(spec: ModelSpec, cache_dir: Path, reason: str) -> str:
    return (
        f"no checkpoint for model {spec.name!r}: {reason}. "
        f"Download {spec.url} and either put it at {cache_dir / spec.checkpoint_file} "
        f"or pass its path with --checkpoint PATH (build_tracker(..., checkpoint=PATH)). "
        "Offline, --model vidseg_synthetic_tiny runs the small model shipped with vidseg (trained on "
        "synthetic shapes only); --random-weights (random_weights=True) tries the pipeline without "
        "trained weights (its masks are meaningless)."
    )


def download(url: str, dest: Path, timeout: float = 60.0) -> None:
    """Download ``url`` to ``dest`` atomically (a partial file never appears under ``dest``).

    Raises:
        CheckpointError: when the download fails (offline, HTTP error, disk full).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            total = int(resp.headers.get("Content-Length") or 0)
            done = 0
            next_log = 0.0
            while chunk := resp.read(_CHUNK):
                out.write(chunk)
                done += len(chunk)
                if total and done / total >= next_log:
                    log.info("downloading %s: %.0f%% of %.1f MB", dest.name, 100 * done / total, total / 1e6)
                    next_log += 0.1
        os.replace(tmp_name, dest)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise CheckpointError(f"download of {url} failed: {exc}") from exc
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


def resolve_checkpoint(
    spec: ModelSpec,
    checkpoint: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    download_missing: bool = True,
) -> ResolvedCheckpoint:
    """Find the checkpoint of ``spec``: an explicit path, else the cache, else a download.

    Args:
        spec: the model whose checkpoint is wanted.
        checkpoint: explicit checkpoint path; used as is (a published hash is checked only for
            the official file name).
        cache_dir: where downloaded checkpoints live; default :func:`default_cache_dir`.
        download_missing: download the official checkpoint into the cache when it is missing.

    Raises:
        CheckpointError: the explicit path does not exist, the hash does not match, or the
            checkpoint is missing and cannot be downloaded (the message says what to do).
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if checkpoint is not None:
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise CheckpointError(
                f"checkpoint file {path} does not exist; expected the .pt file of model {spec.name!r} ({spec.source})"
            )
        expected = spec.sha256 if path.name == spec.checkpoint_file else None
        return ResolvedCheckpoint(path, _verify(path, expected, "given path"))

    if spec.bundled is not None and spec.bundled.is_file():
        return ResolvedCheckpoint(spec.bundled, sha256_of(spec.bundled))
    cached = cache / spec.checkpoint_file
    if cached.is_file():
        return ResolvedCheckpoint(cached, _verify(cached, spec.sha256, "cache"))
    if spec.url is None:
        raise CheckpointError(
            f"no checkpoint for model {spec.name!r}: it is not published for download and {cached} does not "
            f"exist. Train one with `vidseg train tracker` and pass it with --checkpoint, or use --random-weights"
        )
    if not download_missing:
        raise CheckpointError(_offline_message(spec, cache, f"{cached} does not exist and downloads are off"))
    log.info("checkpoint %s not in cache; downloading %s", spec.checkpoint_file, spec.url)
    try:
        download(spec.url, cached)
    except CheckpointError as exc:
        raise CheckpointError(_offline_message(spec, cache, str(exc))) from exc
    try:
        return ResolvedCheckpoint(cached, _verify(cached, spec.sha256, "download"))
    except CheckpointError:
        shutil.move(str(cached), str(cached) + ".bad")
        raise
