"""One video stream being encoded to a file with PyAV: timestamps, muxing, flushing."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from vidseg.errors import SinkError


class VideoEncoder:
    """Encodes frames given as arrays, each at its own time, into ``path``.

    Timestamps come from the caller (the source's times, so variable frame rate survives) and are
    kept strictly increasing; ``close`` flushes the encoder so the file is complete and playable.

    Args:
        path: output file.
        codec: FFmpeg encoder name.
        width, height: frame size.
        pix_fmt: the encoder's pixel format.
        time_base: timestamp unit.
        fps: nominal rate (used when a frame comes without a time).
        options: encoder options.
        container_format: FFmpeg muxer name (default: from the file name).
        muxer_options: options of the muxer, added to those that keep the file readable after a
            kill (every packet is written through to the file as it is muxed; MP4 is fragmented).
    """

    def __init__(
        self,
        path: str | Path,
        codec: str,
        width: int,
        height: int,
        pix_fmt: str,
        time_base: Fraction,
        fps: float,
        options: dict[str, str],
        container_format: str | None = None,
        muxer_options: dict[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.frames = 0
        self._fps = fps
        self._time_base = time_base
        self._last_pts: int | None = None
        # Written through after each packet, and MP4 fragmented (a fragment per keyframe): what was
        # muxed before a kill stays on disk and readable, though `close` never wrote the index.
        through = {"flush_packets": "1"}
        if self.path.suffix.lower() in (".mp4", ".mov"):
            # frag_discont with timestamps left as they are: the fragments keep the source's times
            # (an MPEG-TS that starts at 10 s gives an overlay that starts at 10 s, as masks.mkv).
            through["movflags"] = "frag_keyframe+empty_moov+default_base_moof+frag_discont"
            through["avoid_negative_ts"] = "disabled"
        try:
            container: Any = av.open(str(self.path), mode="w", format=container_format,
                                     options={**through, **(muxer_options or {})})  # fmt: skip
        except (av.FFmpegError, OSError) as exc:
            raise SinkError(f"cannot create {self.path}: {exc}") from exc
        try:
            stream: Any = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
            # The encoder's time base too, or it rounds timestamps to the nominal frame rate (VFR lost).
            stream.time_base = stream.codec_context.time_base = time_base
            stream.options = options
        except (av.FFmpegError, ValueError, TypeError) as exc:
            container.close()  # never leave the file handle open behind a failed constructor
            raise SinkError(f"cannot set up a {codec} {width}x{height} {pix_fmt} stream in {self.path}: {exc}") from exc
        self._container: Any = container
        self._stream: Any = stream

    def encode(self, pixels: np.ndarray, pixel_format: str, time: float | None) -> None:
        """Append one frame shown at ``time`` seconds (default: frame count / fps)."""
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format=pixel_format)
        seconds = time if time is not None else self.frames / self._fps
        pts = round(seconds / self._time_base)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # keep order when two times round to the same tick
        frame.pts, frame.time_base = pts, self._time_base
        self._last_pts = pts
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        """Flush and close (safe to call twice)."""
        if self._container is None:
            return
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
        finally:
            self._container.close()
            self._container = None
