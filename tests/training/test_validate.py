"""Validation tracks every object from the frame it first appears on, with the streaming tracker."""

from __future__ import annotations

import numpy as np
import torch

from vidseg.datasets.moving_shapes import moving_shapes_clip
from vidseg.models.tracking import build_tracker
from vidseg.training.clips import TrainVideo
from vidseg.training.validate import first_frame_clicks, score_tracks, track_video


def test_every_object_is_tracked_from_its_first_frame_and_scored() -> None:
    clip = moving_shapes_clip(num_frames=5, height=128, width=128, num_objects=2, seed=4)
    labels = clip.labels.astype(np.uint8)
    labels[:2][labels[:2] == 2] = 0  # object 2 appears on frame 2
    video = TrainVideo("v", np.stack(clip.frames), labels)
    clicks = first_frame_clicks(video.labels)
    assert sorted(clicks) == [1, 2] and clicks[1][0] == 0 and clicks[2][0] == 2
    for obj_id, (t, (x, y)) in clicks.items():
        assert video.labels[t, int(y), int(x)] == obj_id  # the click lies on the object

    tracker = build_tracker("vidseg_synthetic_tiny", random_weights=True, device="cpu")
    with torch.no_grad():  # random weights judge objects absent: make them present
        tracker.model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias += 10.0
    masks = track_video(tracker, video)
    assert masks.shape == (5, 2, 128, 128)
    assert tracker.frame_index == 5  # stepped every frame
    assert masks[0, 0].any() and not masks[:2, 1].any() and masks[2:, 1].any()
    scores = score_tracks(masks, video)
    assert len(scores) == 2 and all(0.0 <= j <= 1.0 and 0.0 <= f <= 1.0 for j, f in scores)
    perfect = np.stack([[video.labels[t] == k for k in (1, 2)] for t in range(5)])
    assert score_tracks(perfect, video) == [(1.0, 1.0), (1.0, 1.0)]
