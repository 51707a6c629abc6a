"""The streaming tracker against the official SAM2VideoPredictor on shared weights.

Logits are compared, not binarised masks: a random-weight SAM 2 predicts a mask over nearly the
whole frame, so masks would agree trivially. Random weights also give small logits
(|logit| < 0.5); the "amplified" variant scales the mask decoder's output layer so logits reach
realistic magnitudes (tens), where binarisation and sigmoid choices inside the memory path
would show.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vidseg.datasets.moving_shapes import SyntheticClip, moving_shapes_clip
from vidseg.models.tracking import Sam2Tracker
from vidseg.models.tracking.reference import ReferenceFrame, build_official_predictor, run_official, write_jpeg_clip
from vidseg.types import Prompt, TrackingResult

TOLERANCE = 1e-3


def amplify_mask_logits(tracker: Sam2Tracker, factor: float) -> None:
    """Scale the last layer of SAM 2's mask hypernetworks, so mask logits scale by ``factor``."""
    with torch.no_grad():
        for mlp in tracker.model.sam_mask_decoder.output_hypernetworks_mlps:  # type: ignore[union-attr]
            mlp.layers[-1].weight.mul_(factor)
            mlp.layers[-1].bias.mul_(factor)


def run_both(
    tracker: Sam2Tracker, clip: SyntheticClip, prompts: dict[int, list[Prompt]], tmp_path: Path
) -> tuple[list[TrackingResult], list[ReferenceFrame]]:
    frames = write_jpeg_clip(clip.frames, tmp_path / "jpeg")
    ours = []
    for t, frame in enumerate(frames):
        for prompt in prompts.get(t, []):
            tracker.add(prompt)
        ours.append(tracker.step(frame))
    predictor = build_official_predictor(tracker.info.name, tracker.model.state_dict(), tracker.info.image_size)
    return ours, run_official(predictor, tmp_path / "jpeg", prompts)


def max_logit_gap(ours: list[TrackingResult], reference: list[ReferenceFrame]) -> float:
    assert [r.frame_index for r in reference] == list(range(reference[0].frame_index, len(ours)))
    worst = 0.0
    for ref in reference:
        mine = ours[ref.frame_index]
        assert mine.object_ids.tolist() == ref.object_ids.tolist(), f"frame {ref.frame_index}"
        assert mine.logits.shape == ref.logits.shape
        worst = max(worst, float(np.abs(mine.logits - ref.logits).max()))
    return worst


@pytest.mark.parametrize("amplify", [1.0, 40.0], ids=["raw", "amplified"])
def test_interleaved_prompts_match_official(make_tracker, clip24, tmp_path, amplify):
    """Obj 1 clicked at frame 0, obj 2 boxed at frame 8, a correction click on obj 1 at 16."""
    tracker = make_tracker(image_size=256, fill_hole_area=0)
    amplify_mask_logits(tracker, amplify)
    prompts = {
        0: [Prompt(1, points=(clip24.center(0, 1),), labels=(1,))],
        8: [Prompt(2, box=clip24.box(8, 2))],
        16: [Prompt(1, points=(clip24.center(16, 1), (4.0, 4.0)), labels=(1, 0))],
    }
    ours, reference = run_both(tracker, clip24, prompts, tmp_path)
    assert len(reference) == 24
    peak = max(float(np.abs(r.logits).max()) for r in reference)
    assert peak > 0.1 * amplify  # the comparison is at the intended logit scale
    assert max_logit_gap(ours, reference) <= TOLERANCE
    assert ours[8].object_ids.tolist() == [1, 2]
    assert ours[7].object_ids.tolist() == [1]


def test_batched_objects_match_official(make_tracker, tmp_path):
    """Objects prompted on the same frame share a memory layout and run as one batch."""
    clip = moving_shapes_clip(num_frames=18, height=120, width=160, num_objects=3, seed=1)
    tracker = make_tracker(image_size=128, fill_hole_area=0, batch_objects=True)
    amplify_mask_logits(tracker, 40.0)
    prompts = {
        0: [
            Prompt(1, points=(clip.center(0, 1),), labels=(1,)),
            Prompt(2, mask=clip.mask(0, 2)),
            Prompt(3, box=clip.box(0, 3)),
        ],
        9: [Prompt(2, points=(clip.center(9, 2),), labels=(1,))],
    }
    frames = write_jpeg_clip(clip.frames, tmp_path / "jpeg")
    ours = []
    batches = []
    for t, frame in enumerate(frames):
        for prompt in prompts.get(t, []):
            tracker.add(prompt)
        ours.append(tracker.step(frame))
        batches.append(tracker.last_batch_sizes)
    assert batches[1] == (3,)  # all three tracked together
    assert batches[9] == (2,)  # obj 2 is re-anchored on frame 9: 1 and 3 propagate together
    assert batches[10] == (2, 1)  # obj 2 now has its own memory layout
    predictor = build_official_predictor(tracker.info.name, tracker.model.state_dict(), 128)
    reference = run_official(predictor, tmp_path / "jpeg", prompts)
    assert max_logit_gap(ours, reference) <= TOLERANCE


@pytest.mark.parametrize("amplify", [1.0, 40.0], ids=["raw", "amplified"])
def test_unbatched_is_exact(make_tracker, tmp_path, amplify):
    """With batching off, every object runs alone as in the official loop: bit-identical."""
    clip = moving_shapes_clip(num_frames=16, height=96, width=128, num_objects=2, seed=2)
    tracker = make_tracker(image_size=128, fill_hole_area=0, batch_objects=False)
    amplify_mask_logits(tracker, amplify)
    prompts = {0: [Prompt(1, points=(clip.center(0, 1),), labels=(1,)), Prompt(2, box=clip.box(0, 2))]}
    ours, reference = run_both(tracker, clip, prompts, tmp_path)
    assert max_logit_gap(ours, reference) == 0.0


@pytest.mark.parametrize("as_cond", [False, True], ids=["correction-non-cond", "correction-as-cond"])
def test_refining_the_latest_frame_matches_official(make_tracker, tmp_path, as_cond):
    """A correction click on the frame just tracked, then tracking on from the corrected mask."""
    clip = moving_shapes_clip(num_frames=18, height=120, width=160, num_objects=2, seed=6)
    overrides = {"model.add_all_frames_to_correct_as_cond": as_cond}
    tracker = make_tracker(image_size=128, fill_hole_area=0, model_overrides=overrides, batch_objects=True)
    amplify_mask_logits(tracker, 40.0)
    prompts = {0: [Prompt(1, points=(clip.center(0, 1),), labels=(1,)), Prompt(2, box=clip.box(0, 2))]}
    # Two clicks on the same frame: the second refines the first (and must not read it as memory).
    fixes = [
        Prompt(1, points=(clip.center(9, 1), (3.0, 3.0)), labels=(1, 0)),
        Prompt(1, points=((150.0, 110.0),), labels=(0,)),
    ]
    frames = write_jpeg_clip(clip.frames, tmp_path / "jpeg")
    ours = []
    for t, frame in enumerate(frames):
        for prompt in prompts.get(t, []):
            tracker.add(prompt)
        ours.append(tracker.step(frame))
        if t == 9:
            before = ours[9]
            for fix in fixes:
                ours[9] = tracker.refine(1, points=fix.points, labels=fix.labels)
    assert np.abs(ours[9].logits[0] - before.logits[0]).max() > 0.1  # the click changed object 1
    np.testing.assert_array_equal(ours[9].logits[1], before.logits[1])  # and nothing else
    predictor = build_official_predictor(
        tracker.info.name, tracker.model.state_dict(), 128, [f"++model.add_all_frames_to_correct_as_cond={as_cond}"]
    )
    reference = run_official(predictor, tmp_path / "jpeg", prompts, corrections={9: fixes})
    assert max_logit_gap(ours, reference) <= TOLERANCE


def test_refining_a_prompted_frame_is_kept(make_tracker, clip24):
    """Accepted difference: SAM2VideoPredictor drops a correction on an already-propagated prompt
    frame when it propagates on (its preflight pops the non-cond entry); vidseg keeps it."""
    plain, refined = make_tracker(image_size=64), make_tracker(image_size=64)
    amplify_mask_logits(plain, 40.0)
    amplify_mask_logits(refined, 40.0)
    for tracker in (plain, refined):
        tracker.add_prompt(1, points=[clip24.center(0, 1)])
        tracker.step(clip24.frames[0])
    refined.refine(1, points=[(5.0, 5.0)], labels=[0])
    assert refined.memory_stats().cond_frames == 1
    gap = np.abs(plain.step(clip24.frames[1]).logits - refined.step(clip24.frames[1]).logits).max()
    assert gap > 1e-3


def test_refine_prompts_a_new_object_on_the_latest_frame(make_tracker, clip24):
    tracker = make_tracker(image_size=64)
    empty = tracker.step(clip24.frames[0])
    assert len(empty) == 0
    result = tracker.refine(1, points=[clip24.center(0, 1)])
    assert result.frame_index == 0 and result.object_ids.tolist() == [1]
    assert tracker.step(clip24.frames[1]).object_ids.tolist() == [1]
