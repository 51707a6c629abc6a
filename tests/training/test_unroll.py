"""What is trained is what is tracked: the training unroll (in eval mode) computes the tracker's masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidseg.synthetic import moving_shapes_clip
from vidseg.tracking import build_tracker
from vidseg.training.clips import ClipBatch, ClipSampler, TrainVideo, make_prompt, normalise
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
    batch = ClipBatch(
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
