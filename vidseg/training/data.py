"""Loading annotated videos (DAVIS layout) into memory for training and validation."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vidseg.datasets.davis_layout import list_videos, load_video
from vidseg.errors import InputError
from vidseg.training.clips import TrainVideo

log = logging.getLogger(__name__)


def load_training_videos(
    roots: Sequence[str | Path], size: int, limit: int | None = None, max_frames: int | None = None
) -> list[TrainVideo]:
    """Every video under each DAVIS-layout root, resized to ``size`` x ``size``.

    Args:
        roots: dataset folders (each with ``JPEGImages/`` and ``Annotations/``).
        size: the model's input size.
        limit: load at most this many videos per root (in name order).
        max_frames: keep at most this many leading frames of each video.

    Raises:
        InputError: a root holds no videos, or a video's frames and annotations disagree.
    """
    videos: list[TrainVideo] = []
    for root in roots:
        names = list_videos(root)
        if not names:
            raise InputError(f"no annotated videos under {root}; expected JPEGImages/<video>/ and Annotations/<video>/")
        for name in names[:limit]:
            video = load_video(root, name)
            frames, labels = video.frames, video.labels
            if max_frames is not None:
                frames, labels = frames[:max_frames], labels[:max_frames]
            videos.append(TrainVideo.resized(name, np.asarray(frames), np.asarray(labels, dtype=np.uint8), size))
        log.info("loaded %d videos from %s", min(len(names), limit or len(names)), root)
    return videos
