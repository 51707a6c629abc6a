"""The clip sampler: tracks per clip, shared images, prompt kinds."""

from __future__ import annotations

import numpy as np
import pytest

from vidseg.datasets.moving_shapes import moving_shapes_clip
from vidseg.errors import InputError
from vidseg.training.clips import ClipSampler, TrainVideo, normalise


def _video(seed: int, objects: int, frames: int = 5) -> TrainVideo:
    clip = moving_shapes_clip(num_frames=frames, height=64, width=64, num_objects=objects, seed=seed)
    return TrainVideo(f"v{seed}", np.stack(clip.frames), clip.labels.astype(np.uint8))


@pytest.mark.parametrize("cap", [1, 2, 3])
def test_each_clip_gives_up_to_the_cap_of_distinct_visible_targets_sharing_its_images(cap: int) -> None:
    videos = [_video(1, objects=3), _video(2, objects=3)]
    sampler = ClipSampler(videos, clip_len=3, batch_size=3, objects_per_clip=cap, flip=False)
    batch = sampler.sample(np.random.default_rng(cap))
    tracks = batch.track_clips.tolist()
    assert batch.num_clips == 3 and tracks == sorted(tracks)
    frames = batch.images.reshape(3, 3, *batch.images.shape[1:])  # (T, C, 3, S, S)
    for c in range(3):
        mine = [n for n, k in enumerate(tracks) if k == c]
        video = next(v for v in videos if v.name == batch.names[mine[0]])
        # The clip's frames are one run of the video; each track's target is one of its objects.
        start = next(
            s for s in range(video.num_frames - 2) if (normalise(video.frames[s : s + 3]) == frames[:, c]).all()
        )
        visible = [i for i in video.object_ids(start) if np.count_nonzero(video.labels[start] == i) >= 12]
        assert len(mine) == min(cap, len(visible))
        for n in mine:
            target = batch.targets[:, n].numpy() > 0
            ids = {int(i) for i in np.unique(video.labels[start][target[0]])}
            assert len(ids) == 1 and 0 not in ids
            assert (target == (video.labels[start : start + 3] == ids.pop())).all()
        assert len({batch.targets[0, n].numpy().tobytes() for n in mine}) == len(mine)


def test_single_frame_clips_never_get_mask_prompts() -> None:
    sampler = ClipSampler([_video(3, objects=2)], clip_len=1, batch_size=2, prompt_probs=(0.05, 0.05, 0.9))
    rng = np.random.default_rng(0)
    kinds = {sampler.sample(rng).prompt.kind for _ in range(40)}
    assert kinds == {"click", "box"}
    with pytest.raises(InputError, match="need click or box prompts"):
        ClipSampler([_video(3, objects=2)], clip_len=1, batch_size=2, prompt_probs=(0.0, 0.0, 1.0))
