"""Weights built once, any number of per-stream sessions on them."""

from __future__ import annotations

import numpy as np
import torch

from vidseg.datasets.moving_shapes import moving_shapes_clip
from vidseg.models.tracking import build_model
from vidseg.types import Prompt

OPTIONS = {"random_weights": True, "image_size": 128, "device": "cpu", "seed": 0}


def _amplify(net: torch.nn.Module) -> None:
    """Scale the mask decoder's output so logits reach realistic magnitudes (random weights give
    tiny ones, where differences in the memory path would hide)."""
    with torch.no_grad():
        for mlp in net.sam_mask_decoder.output_hypernetworks_mlps:  # type: ignore[union-attr]
            mlp.layers[-1].weight.mul_(40.0)
            mlp.layers[-1].bias.mul_(40.0)


def test_two_sessions_on_one_model_interleaved_equal_two_separate_trackers():
    """Two clips stepped frame by frame in turn through two sessions of one model give exactly the
    logits of two trackers with their own copies of the weights, and the weights exist once."""
    clips = [moving_shapes_clip(num_frames=12, height=96, width=128, num_objects=2, seed=s) for s in (1, 2)]
    prompts = [
        {0: [Prompt(1, points=(clips[0].center(0, 1),), labels=(1,))], 5: [Prompt(2, box=(10.0, 10.0, 60.0, 50.0))]},
        {0: [Prompt(1, box=(20.0, 15.0, 90.0, 70.0))], 3: [Prompt(4, points=(clips[1].center(3, 2),), labels=(1,))]},
    ]
    shared = build_model("sam2.1_hiera_tiny", **OPTIONS)
    _amplify(shared.net)
    sessions = [shared.session(), shared.session()]
    separate = []
    for _ in range(2):
        model = build_model("sam2.1_hiera_tiny", **OPTIONS)
        _amplify(model.net)
        separate.append(model.session())

    # The sessions hold no copy of the weights: every parameter is the same tensor.
    assert all(s.model is shared.net for s in sessions)
    for a, b in zip(sessions[0].model.parameters(), sessions[1].model.parameters(), strict=True):
        assert a.data_ptr() == b.data_ptr()
    assert separate[0].model.sam_mask_decoder is not separate[1].model.sam_mask_decoder

    worst = 0.0
    steps = 0
    for t in range(12):
        for k in (0, 1):  # interleaved: stream 0's frame t, then stream 1's frame t
            for prompt in prompts[k].get(t, []):
                sessions[k].add(prompt)
                separate[k].add(prompt)
            mine = sessions[k].step(clips[k].frames[t])
            theirs = separate[k].step(clips[k].frames[t])
            assert mine.object_ids.tolist() == theirs.object_ids.tolist()
            assert np.abs(theirs.logits).max() > 1.0  # realistic magnitudes, so a mix-up would show
            worst = max(worst, float(np.abs(mine.logits - theirs.logits).max()) if len(mine) else 0.0)
            steps += 1
    assert steps == 24
    assert worst == 0.0
    # Each session kept its own objects and memory.
    assert sessions[0].object_ids == (1, 2) and sessions[1].object_ids == (1, 4)
    assert sessions[0].memory_stats() == separate[0].memory_stats()
    assert sessions[1].memory_stats() == separate[1].memory_stats()


def test_a_new_session_starts_empty_whatever_the_others_hold(make_tracker):
    tracker = make_tracker()
    clip = moving_shapes_clip(num_frames=3, height=64, width=64, num_objects=1, seed=3)
    tracker.add(Prompt(1, points=(clip.center(0, 1),), labels=(1,)))
    tracker.step(clip.frames[0])
    other = tracker.weights.session()
    assert other.object_ids == () and other.frame_index == 0
    assert len(other.step(clip.frames[1])) == 0
    assert tracker.object_ids == (1,) and tracker.frame_index == 1
