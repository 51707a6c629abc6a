"""What is trained is what is tracked: the training unroll (in eval mode) computes the tracker's masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidseg.datasets.moving_shapes import moving_shapes_clip
from vidseg.errors import InputError
from vidseg.models.tracking import build_tracker
from vidseg.training.clips import ClipBatch, ClipSampler, FirstFramePrompt, TrainVideo, make_prompt, normalise
from vidseg.training.losses import LossWeights, clip_loss
from vidseg.training.unroll import unroll
from vidseg.types import Prompt


def _video(seed: int, frames: int = 6) -> TrainVideo:
    clip = moving_shapes_clip(num_frames=frames, height=128, width=128, num_objects=2, seed=seed)
    return TrainVideo(f"v{seed}", np.stack(clip.frames), clip.labels.astype(np.uint8))


@pytest.mark.parametrize("kind", ["click", "box"])
def test_unroll_in_eval_mode_matches_the_streaming_tracker(kind: str) -> None:
    video = _video(0)
    tracker = build_tracker("vidseg_synthetic_tiny", random_weights=True, device="cpu", fill_hole_area=0)
    model = tracker.model
    # Random weights judge every object absent (a constant -1024 mask, equal anywhere): shift the
    # object-score head so the masks are real logits.
    with torch.no_grad():
        model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias += 10.0
    first = video.labels[0] == 1
    prompt = make_prompt(kind, first[None], np.random.default_rng(0))
    batch = ClipBatch.single(
        images=normalise(video.frames),
        targets=torch.from_numpy((video.labels == 1).astype(np.float32))[:, None],
        prompt=prompt,
        names=(video.name,),
    )
    with torch.inference_mode():
        outputs = unroll(model, batch)
    assert prompt.points is not None
    points = prompt.points[0].tolist()
    if kind == "click":
        tracker.add(Prompt(1, points=(tuple(points[0]),), labels=(1,)))
    else:
        tracker.add(Prompt(1, box=(points[0][0], points[0][1], points[1][0], points[1][1])))
    for t, out in enumerate(outputs):
        result = tracker.step(video.frames[t])
        best = out.masks[0, int(out.ious[0].argmax())]
        # The tracker runs the image encoder frame by frame, the unroll on all frames at once.
        assert float(out.object_scores[0, 0]) > 0 and best.min() > -1000  # a real mask
        # Measured: <= 5e-6 (float summation order) with logits of about +-0.1.
        assert np.abs(result.logits[0] - best.numpy()).max() < 1e-4, f"frame {t}"


def test_a_few_steps_lower_the_loss_on_a_fixed_batch() -> None:
    tracker = build_tracker("vidseg_synthetic_tiny", random_weights=True, device="cpu")
    model = tracker.model.train()
    sampler = ClipSampler([_video(1), _video(2)], clip_len=3, batch_size=2, prompt_probs=(1.0, 0.0, 0.0))
    batch = sampler.sample(np.random.default_rng(0))
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    torch.manual_seed(0)  # dropout
    losses = []
    for _ in range(12):
        parts = clip_loss(unroll(model, batch), batch.targets, LossWeights())
        optimizer.zero_grad()
        parts.total.backward()
        optimizer.step()
        losses.append(float(parts.total.detach()))
    assert losses[-1] < 0.5 * losses[2], losses
    assert all(p.grad is not None for n, p in model.named_parameters() if n.startswith("sam_mask_decoder.iou"))


def test_tracks_sharing_a_clip_run_as_if_each_had_the_clip_alone() -> None:
    tracker = build_tracker("vidseg_synthetic_tiny", random_weights=True, device="cpu", fill_hole_area=0)
    model = tracker.model.eval()
    with torch.no_grad():
        model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias += 10.0  # real logits (see above)
    videos = [_video(3, frames=4), _video(4, frames=4)]
    sampler = ClipSampler(videos, clip_len=4, batch_size=2, prompt_probs=(1.0, 0.0, 0.0), objects_per_clip=3)
    batch = sampler.sample(np.random.default_rng(5))
    tracks = batch.track_clips.tolist()
    assert batch.num_clips == 2 and batch.batch_size == 4 and sorted(tracks) == [0, 0, 1, 1]  # 2 objects per clip
    for n in range(batch.batch_size):
        if tracks[n] == tracks[n - 1]:  # a clip's tracks follow different objects
            assert not torch.equal(batch.targets[:, n], batch.targets[:, n - 1])
    with torch.inference_mode():
        together = unroll(model, batch)
        for n, c in enumerate(tracks):
            frames = batch.images.reshape(batch.num_frames, batch.num_clips, *batch.images.shape[1:])[:, c]
            assert batch.prompt.points is not None and batch.prompt.point_labels is not None
            alone = unroll(
                model,
                ClipBatch.single(
                    frames,
                    batch.targets[:, n : n + 1],
                    FirstFramePrompt(
                        "click", batch.prompt.points[n : n + 1], batch.prompt.point_labels[n : n + 1], None
                    ),
                    (batch.names[n],),
                ),
            )
            for t in range(batch.num_frames):
                assert torch.allclose(together[t].masks[n], alone[t].masks[0], atol=1e-4), (n, t)
                assert torch.allclose(together[t].object_scores[n], alone[t].object_scores[0], atol=1e-4)


def test_a_batch_whose_tracks_point_outside_its_clips_is_refused() -> None:
    video = _video(0, frames=2)
    prompt = make_prompt("click", (video.labels[0] == 1)[None], np.random.default_rng(0))
    targets = torch.from_numpy((video.labels == 1).astype(np.float32))[:, None]
    with pytest.raises(InputError, match="inconsistent clip batch"):
        ClipBatch(normalise(video.frames), targets, prompt, torch.tensor([1]), (video.name,))
