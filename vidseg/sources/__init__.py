"""Frame sources: video files (PyAV), folders of images, and live feeds (RTSP and other URLs)."""

from __future__ import annotations

import threading
from pathlib import Path

from vidseg.errors import ConfigError, SourceError
from vidseg.sources.base import Source, SourceInfo, SourceStats, default_source_id
from vidseg.sources.credentials import PASSWORD_ENV, URL_FILE_PREFIX, is_url_file, read_url_file
from vidseg.sources.file import FileSource
from vidseg.sources.images import ImageFolderSource
from vidseg.sources.live import LiveFrame, LiveOptions, LiveSource, SenderClock, frame_age, is_live


def open_source(
    spec: str | Path,
    every: int = 1,
    start: float | None = None,
    end: float | None = None,
    fps: float = 24.0,
    source_id: str | None = None,
    live: LiveOptions | None = None,
    stop: threading.Event | None = None,
) -> Source:
    """Open a video file, a folder/glob of images, or a live feed (``rtsp://``, ``http(s)://``,
    ``udp://``, ``srt://``, ``/dev/video0`` ...) as a :class:`Source`.

    A live feed's credentials may stay off the command line: ``url-file:PATH`` names a file
    (yours alone, ``chmod 600``) holding the URL, and a URL naming a user and no password takes
    ``live.password`` (see :mod:`vidseg.sources.credentials`).

    Args:
        live: how a live feed connects and reconnects; ``stop`` ends its reconnect waits.

    Raises:
        SourceNotFoundError, SourceFormatError, SourceConnectionError: see the concrete sources.
        SourcePermissionError: a ``url-file:`` that other users may read.
    """
    text = str(spec)
    if is_url_file(text):
        source_id = source_id or default_source_id(text)  # the file's name, as the job names it
        text = read_url_file(text)
        if not is_live(text):
            raise ConfigError(f"{URL_FILE_PREFIX} names a file holding a live feed's URL (rtsp://, http(s)://, ...); "
                              "give a video file or image folder directly")  # fmt: skip
    if is_live(text):
        if start is not None or end is not None:
            raise SourceError("--start and --end apply to files; a live feed has no beginning to count from "
                              "(use --duration or --max-frames)")  # fmt: skip
        if every != 1:
            raise SourceError("--every applies to files; a live feed keeps the newest frame whatever the model's speed")
        return LiveSource(text, live, source_id=source_id, stop=stop)
    path = Path(text)
    if path.is_dir() or (not path.is_file() and any(ch in text for ch in "*?[")):
        return ImageFolderSource(text, fps=fps, every=every, start=start, end=end, source_id=source_id)
    return FileSource(text, every=every, start=start, end=end, source_id=source_id)


__all__ = [
    "PASSWORD_ENV",
    "FileSource",
    "ImageFolderSource",
    "LiveFrame",
    "LiveOptions",
    "LiveSource",
    "SenderClock",
    "Source",
    "SourceInfo",
    "SourceStats",
    "frame_age",
    "is_live",
    "open_source",
]
