"""Running SAM 2 over a training clip the way the streaming tracker runs it, with gradients.

The first frame is the prompted (conditioning) frame; every later frame reads the memory bank
built from the frames before it, exactly the ``SAM2Base`` calls the tracker makes
(``_track_step`` then ``_encode_memory_in_output``), so what is trained is what is tracked.
``_track_step`` (not ``track_step``) is used because it also returns every multimask candidate,
their predicted IoUs and the object-score logits, which the losses need; and the memory is
read with the tracker's endless stream length, so the object-pointer temporal encoding is
scaled in training as it is in tracking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from vidseg.training.clips import ClipBatch

# The tracker's stream length (vidseg.models.tracking.tracker): a stream has no end.
ENDLESS = 1 << 30


@dataclass(frozen=True)
class FrameOutputs:
    """What the model predicted on one frame of every clip in a batch.

    Attributes:
        masks: (B, M, S, S) mask logits of the M candidates (M = 3 when multimask output was used).
        ious: (B, M) predicted IoU of each candidate.
        object_scores: (B, 1) object-presence logits.
        prompted: the frame carried the prompt.
        mask_prompt: the prompt was a mask (SAM 2 then outputs that mask as is).
    """

    masks: torch.Tensor
    ious: torch.Tensor
    object_scores: torch.Tensor
    prompted: bool
    mask_prompt: bool


def _frame_features(feats: list[torch.Tensor], t: int, clips: int, track_clips: torch.Tensor) -> list[torch.Tensor]:
    # Backbone features are (HW, T*C, ch), frame-major: frame t of every clip is one slice, from
    # which each track takes its clip's column.
    return [x[:, t * clips : (t + 1) * clips].index_select(1, track_clips) for x in feats]


def unroll(model: Any, batch: ClipBatch) -> list[FrameOutputs]:
    """Run ``model`` (a ``SAM2Base``) over every frame of ``batch``; returns one entry per frame."""
    clips, frames = batch.num_clips, batch.num_frames
    device = next(model.parameters()).device
    track_clips = batch.track_clips.to(device)
    prompt = batch.prompt.to(device)
    backbone_out = model.forward_image(batch.images.to(device))
    _, vision_feats, vision_pos, feat_sizes = model._prepare_backbone_features(backbone_out)
    output_dict: dict[str, dict[int, dict[str, Any]]] = {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}}
    outputs = []
    for t in range(frames):
        feats = _frame_features(vision_feats, t, clips, track_clips)
        pos = _frame_features(vision_pos, t, clips, track_clips)
        prompted = t == 0
        point_inputs = prompt.point_inputs() if prompted else None
        mask_inputs = prompt.mask if prompted else None
        current_out, sam_outputs, _, _ = model._track_step(
            frame_idx=t,
            is_init_cond_frame=prompted,
            current_vision_feats=feats,
            current_vision_pos_embeds=pos,
            feat_sizes=feat_sizes,
            point_inputs=point_inputs,
            mask_inputs=mask_inputs,
            output_dict=output_dict,
            num_frames=ENDLESS,
            track_in_reverse=False,
            prev_sam_mask_logits=None,
        )
        _, high_res_multimasks, ious, low_res_masks, high_res_masks, obj_ptr, object_scores = sam_outputs
        current_out["pred_masks"] = low_res_masks
        current_out["pred_masks_high_res"] = high_res_masks
        current_out["obj_ptr"] = obj_ptr
        model._encode_memory_in_output(
            feats, feat_sizes, point_inputs, True, high_res_masks, object_scores, current_out
        )
        bank = "cond_frame_outputs" if prompted else "non_cond_frame_outputs"
        output_dict[bank][t] = current_out
        outputs.append(
            FrameOutputs(
                masks=high_res_multimasks,
                ious=ious,
                object_scores=object_scores,
                prompted=prompted,
                mask_prompt=prompted and mask_inputs is not None,
            )
        )
    return outputs
