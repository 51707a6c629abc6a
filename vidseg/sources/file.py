"""Video files through PyAV: every frame, in order, with the decoder's timestamps.

Files never drop frames. Corrupt packets are skipped and counted (decoding goes on); a file cut
short ends the stream early with a warning. Rotation metadata is applied, so frames come out
upright as players show them. The frame rate is the container's average unless the first frames'
own timestamps contradict it (see :func:`choose_rate`).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from vidseg.errors import SourceError, SourceFormatError, SourceNotFoundError
from vidseg.sources.base import FrameSelector, SourceInfo, SourceStats, check_start
from vidseg.types import Frame

log = logging.getLogger(__name__)


def _rotate(image: np.ndarray, degrees: int) -> np.ndarray:
    """Rotate counterclockwise by ``degrees`` (a multiple of 90), as the display matrix asks."""
    k = (degrees // 90) % 4
    return np.ascontiguousarray(np.rot90(image, k=k)) if k else image


def _rotation_of(frame: Any) -> int:
    """Counterclockwise display rotation of a decoded frame, in degrees (0 when none)."""
    return round(float(getattr(frame, "rotation", 0) or 0))


# How many packets of the stream's start are read to measure how far apart its frames are
_RATE_PACKETS = 64
# A declared rate within this factor of the measured one is believed (frame rates vary a little
# in variable-frame-rate files; a rate read from the wrong field is off by far more)
_RATE_SLACK = 1.5


def measured_rate(pts: list[int], time_base: Fraction) -> Fraction | None:
    """Frames per second from the timestamps of a stream's first packets (in any order: B-frames
    come out of order), or None with fewer than three distinct timestamps.

    The typical spacing is the median gap between sorted timestamps; gaps of more than 1.5 of
    it (frames not yet read, or dropped) are left out, and the rest averaged, so a 29.97 fps
    stream on a 1 ms time base (gaps of 33 and 34) measures 29.97, not 30.3.
    """
    times = sorted(set(pts))
    if len(times) < 3 or not time_base:
        return None
    gaps = sorted(b - a for a, b in itertools.pairwise(times))
    typical = gaps[len(gaps) // 2]
    kept = [gap for gap in gaps if gap <= 1.5 * typical]
    return (Fraction(len(kept), sum(kept)) / time_base).limit_denominator(1001)


def choose_rate(average: Fraction | None, guessed: Fraction | None, measured: Fraction | None,
                time_base: Fraction | None) -> Fraction | None:  # fmt: skip
    """The frame rate to report: the container's average when the frames' own spacing agrees
    (within a factor of 1.5), else FFmpeg's guessed rate when that agrees, else the measured one.

    Without a measurement, an average of one frame per tick of the time base (1000 fps in
    Matroska, whose time base is 1 ms) is a muxer writing its time base for the rate, not a rate:
    the guessed rate is taken instead.
    """

    def agrees(rate: Fraction | None) -> bool:
        if not rate or rate <= 0:
            return False
        if measured is None:
            return time_base is None or rate * time_base < 1
        return 1 / _RATE_SLACK <= rate / measured <= _RATE_SLACK

    for rate in (average, guessed):
        if agrees(rate):
            return rate
    return measured or average or guessed


def _open(path: Path) -> Any:
    if not path.exists():
        raise SourceNotFoundError(f"video file {path} does not exist; check the path")
    if path.is_dir():
        raise SourceFormatError(f"{path} is a folder; for a folder of images use it as an image source")
    try:
        return av.open(str(path), mode="r")
    except av.error.InvalidDataError as exc:
        raise SourceFormatError(
            f"{path} is not a video FFmpeg can read ({exc}); expected MP4, MKV, MOV, AVI, WebM ..."
        ) from exc
    except av.FFmpegError as exc:
        raise SourceError(f"cannot open {path}: {exc}") from exc


def _fps(rate: Fraction | None) -> str:
    return f"{float(rate):.3f}".rstrip("0").rstrip(".") if rate else "unknown"


class FileSource:
    """Frames of a video file.

    Args:
        path: the video file.
        every: keep every ``every``-th frame (1 = all).
        start: first time (seconds) to emit; seeks to the keyframe before it.
        end: last time (seconds) to emit.
        source_id: name carried by every frame (default: the file's stem).

    Raises:
        SourceNotFoundError: no such file.
        SourceFormatError: not a video, or no video stream.
    """

    def __init__(
        self,
        path: str | Path,
        every: int = 1,
        start: float | None = None,
        end: float | None = None,
        source_id: str | None = None,
    ) -> None:
        self._select = FrameSelector(every, start, end)
        self._path = Path(path)
        self._container = _open(self._path)
        if not self._container.streams.video:
            holds = self._describe_streams()  # before closing: a closed container lists nothing
            self._container.close()
            raise SourceFormatError(
                f"{self._path} has no video stream (it holds: {holds}); give a file with video, e.g. MP4 or MKV"
            )
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self._start = start
        self._source_id = source_id or self._path.stem
        self._stats = SourceStats()
        try:
            self._info = self._probe()
            check_start(start, self._info)
        except BaseException:
            self._container.close()
            raise

    def _describe_streams(self) -> str:
        kinds = []
        for stream in self._container.streams:
            codec = getattr(getattr(stream, "codec_context", None), "name", None)
            kinds.append(f"{stream.type} ({codec})" if codec else str(stream.type))
        return ", ".join(kinds) if kinds else "no streams"

    def _probe(self) -> SourceInfo:
        stream = self._stream
        ctx = stream.codec_context
        time_base = Fraction(stream.time_base) if stream.time_base is not None else None
        rotation, pts = self._first_look()
        measured = measured_rate(pts, time_base) if time_base else None
        average, guessed = stream.average_rate, stream.guessed_rate
        rate = choose_rate(average, guessed, measured, time_base)
        if average and rate != average:
            why = f"its first frames are {_fps(measured)} fps apart" if measured else "that is a frame per tick"
            log.warning("%s: the stream's average frame rate reads %s fps, but %s; using %s fps",
                        self._path.name, _fps(average), why, _fps(rate))  # fmt: skip
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif self._container.duration is not None:
            duration = self._container.duration / 1_000_000
        frames = int(stream.frames) if stream.frames else None
        if frames is None and duration is not None and rate:
            frames = round(duration * float(rate))
        width, height = (ctx.height, ctx.width) if rotation % 180 else (ctx.width, ctx.height)
        return SourceInfo(
            uri=str(self._path),
            kind="file",
            width=int(width),
            height=int(height),
            fps=float(rate) if rate else None,
            frames=frames,
            duration=duration,
            codec=ctx.name,
            container=self._container.format.name,
            pix_fmt=str(ctx.pix_fmt),
            time_base=time_base,
            rotation=rotation,
            start_time=float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0,
            frames_declared=bool(stream.frames),
        )

    def _first_look(self) -> tuple[int, list[int]]:
        """The first decodable frame's rotation, and the pts of the stream's first packets
        (a separate short read, so the source's own container stays at its start)."""
        rotation: int | None = None
        pts: list[int] = []
        try:
            with av.open(str(self._path)) as probe:
                for count, packet in enumerate(probe.demux(video=0)):
                    if count >= _RATE_PACKETS and rotation is not None:
                        break
                    if packet.pts is not None and count < _RATE_PACKETS:
                        pts.append(packet.pts)
                    if rotation is None:
                        try:
                            rotation = next((_rotation_of(frame) for frame in packet.decode()), None)
                        except (av.error.InvalidDataError, ValueError):
                            continue  # a corrupt packet: the next frame says
        except av.FFmpegError:
            pass  # a damaged file: what was read so far (decoding proper reports the damage)
        return rotation or 0, pts

    @property
    def info(self) -> SourceInfo:
        return self._info

    @property
    def stats(self) -> SourceStats:
        return self._stats

    def _decode(self) -> Iterator[Any]:
        """Decoded frames from the container's position; corrupt packets skipped and counted,
        truncation ends the stream."""
        try:
            for packet in self._container.demux(self._stream):
                try:
                    decoded = packet.decode()
                except (av.error.InvalidDataError, ValueError) as exc:
                    self._stats.corrupt_packets += 1
                    log.warning("%s: skipped a corrupt packet at pts %s: %s", self._path.name, packet.pts, exc)
                    continue
                yield from decoded
        except av.FFmpegError as exc:
            self._stats.errors.append(str(exc))
            log.warning("%s: stopped reading after %d frames: %s", self._path.name, self._stats.decoded, exc)

    def _frames(self) -> Iterator[Any]:
        """Decoded frames, from the first one at or before ``--start`` when one is given.

        A seek lands on a keyframe before the target in indexed containers (MP4, MKV), but
        MPEG-TS has no index: FFmpeg may land after the target, or on no frame at all. So the
        first frame after a seek is checked, and the seek retried further back, down to reading
        from the beginning: every frame of the window comes out, whatever the container.
        """
        if not self._start:
            yield from self._decode()
            return
        target = self._start + self._info.start_time
        stream = self._stream
        for margin in (0.0, 2.0, 10.0, 60.0, None):
            if margin is None:  # from the very beginning: reopen, which no container gets wrong
                self._container.close()
                self._container = _open(self._path)
                self._stream = stream = self._container.streams.video[0]
                stream.thread_type = "AUTO"
            else:
                position = max(0.0, target - margin)
                self._container.seek(int(position / stream.time_base), stream=stream, backward=True)
            frames = self._decode()
            first = next(frames, None)
            if first is None:
                continue  # landed past the end (or on nothing decodable): further back
            if margin is not None and first.time is not None and first.time > target + 1e-6 and position > 0:
                continue  # landed after the target: frames of the window would be lost
            yield first
            yield from frames
            return

    def __iter__(self) -> Iterator[Frame]:
        for frame in self._frames():
            self._stats.decoded += 1
            time = float(frame.time) if frame.time is not None else None
            since_start = time - self._info.start_time if time is not None else None
            if self._select.past_end(since_start):
                break
            if not self._select.keep(since_start):
                continue
            image = _rotate(frame.to_ndarray(format="rgb24"), _rotation_of(frame))
            yield Frame(
                image=image,
                index=self._stats.emitted,
                pts=frame.pts,
                time_base=Fraction(frame.time_base) if frame.time_base is not None else None,
                time=time,
                source_id=self._source_id,
            )
            self._stats.emitted += 1

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
