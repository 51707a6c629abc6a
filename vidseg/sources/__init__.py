"""Frame sources: video files (PyAV) and folders of images."""

from __future__ import annotations

from pathlib import Path

from vidseg.sources.base import Source, SourceInfo, SourceStats
from vidseg.sources.file import FileSource
from vidseg.sources.images import ImageFolderSource


def open_source(
    spec: str | Path,
    every: int = 1,
    start: float | None = None,
    end: float | None = None,
    fps: float = 24.0,
    source_id: str | None = None,
) -> Source:
    """Open a video file, or a folder/glob of images, as a :class:`Source`.

    Raises:
        SourceNotFoundError, SourceFormatError: see the concrete sources.
    """
    text = str(spec)
    path = Path(text)
    if path.is_dir() or (not path.is_file() and any(ch in text for ch in "*?[")):
        return ImageFolderSource(text, fps=fps, every=every, start=start, end=end, source_id=source_id)
    return FileSource(text, every=every, start=start, end=end, source_id=source_id)


__all__ = ["FileSource", "ImageFolderSource", "Source", "SourceInfo", "SourceStats", "open_source"]
