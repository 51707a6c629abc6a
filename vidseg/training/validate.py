"""Validation during training: track held-out videos with the streaming tracker, score J&F.

Protocol (semi-supervised, as DAVIS): every object is prompted once, with a click at the point
deepest inside its mask on the first frame it appears, and then tracked to the end of the
video by :class:`~vidseg.models.tracking.tracker.Sam2Tracker` itself (the code path that ships).
Scores exclude each video's first and last frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from vidseg.evaluation.jf import boundary_measure, region_similarity
from vidseg.masks import interior_point
from vidseg.models.tracking.tracker import Sam2Model, Sam2Tracker
from vidseg.training.clips import TrainVideo
from vidseg.types import ModelInfo, Prompt


@dataclass(frozen=True)
class ValidationScores:
    """Mean region (J) and boundary (F) scores over every object of every video."""

    j: float
    f: float
    objects: int

    @property
    def jf(self) -> float:
        return (self.j + self.f) / 2.0


def first_frame_clicks(labels: npt.NDArray[np.uint8]) -> dict[int, tuple[int, tuple[float, float]]]:
    """For each object id in ``labels`` (T, H, W): its first frame and the click there."""
    clicks: dict[int, tuple[int, tuple[float, float]]] = {}
    for t in range(labels.shape[0]):
        for obj in np.unique(labels[t]):
            obj_id = int(obj)
            if 0 < obj_id < 255 and obj_id not in clicks:
                clicks[obj_id] = (t, interior_point(labels[t] == obj_id))
    return clicks


def track_video(tracker: Sam2Tracker, video: TrainVideo) -> npt.NDArray[np.bool_]:
    """Track every object of ``video`` from a first-frame click; returns (T, N, H, W) masks,
    objects in id order (as :func:`first_frame_clicks` sorted)."""
    clicks = first_frame_clicks(video.labels)
    ids = sorted(clicks)
    tracker.reset()
    out = np.zeros((video.num_frames, len(ids), *video.labels.shape[1:]), dtype=bool)
    first = min((start for start, _ in clicks.values()), default=video.num_frames)
    for t in range(first, video.num_frames):  # nothing to track before the first object appears
        for obj_id in ids:
            start, point = clicks[obj_id]
            if start == t:
                tracker.add(Prompt(obj_id, points=(point,), labels=(1,)))
        result = tracker.step(video.frames[t])
        for k, obj_id in enumerate(result.object_ids.tolist()):
            out[t, ids.index(int(obj_id))] = result.masks[k]
    return out


def score_tracks(masks: npt.NDArray[np.bool_], video: TrainVideo) -> list[tuple[float, float]]:
    """Per object (in :func:`first_frame_clicks` order): mean J and mean F over the frames
    between the first and the last (DAVIS's semi-supervised convention)."""
    ids = sorted(first_frame_clicks(video.labels))
    frames = range(1, video.num_frames - 1) if video.num_frames > 2 else range(video.num_frames)
    scores = []
    for k, obj_id in enumerate(ids):
        js = [region_similarity(masks[t, k], video.labels[t] == obj_id) for t in frames]
        fs = [boundary_measure(masks[t, k], video.labels[t] == obj_id) for t in frames]
        scores.append((float(np.mean(js)), float(np.mean(fs))))
    return scores


def validate(
    model: Any, videos: Sequence[TrainVideo], device: torch.device, name: str = "training"
) -> ValidationScores:
    """J&F of ``model`` (a ``SAM2Base``, left in eval mode) tracking ``videos``."""
    model.eval()
    info = ModelInfo(
        name=name,
        image_size=int(model.image_size),
        checkpoint=None,
        checkpoint_sha256=None,
        random_weights=False,
        device=str(device),
        dtype="float32",
    )
    tracker = Sam2Model(model, info, device, batch_objects=False).session()
    per_object: list[tuple[float, float]] = []
    for video in videos:
        per_object += score_tracks(track_video(tracker, video), video)
    if not per_object:
        return ValidationScores(math.nan, math.nan, 0)
    j, f = np.mean(per_object, axis=0)
    return ValidationScores(float(j), float(f), len(per_object))
