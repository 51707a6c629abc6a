"""Losses for training SAM 2 on clips: masks (BCE or focal, plus Dice), IoU prediction, presence.

Per frame and clip, as SAM 2 is trained: with several mask candidates only the one with the
lowest mask loss is trained (the others are free to cover other readings of an ambiguous
click); every candidate's predicted IoU is trained towards its real IoU; mask and IoU losses
count only where the target is present, and the object-score logit is trained on presence on
every frame. The object-score loss matters: a frame judged "no object" gets a constant mask
(-1024) that passes no gradient, so without it the mask head cannot recover.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vidseg.training.unroll import FrameOutputs


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms.

    Attributes:
        mask: BCE (or focal) term.
        dice: Dice term.
        iou: IoU-prediction term (L1).
        presence: object-score term (BCE on "the target is visible").
        focal: use the sigmoid focal loss (SAM 2's choice, usually with ``mask=20``) instead of BCE.
    """

    mask: float = 1.0
    dice: float = 1.0
    iou: float = 1.0
    presence: float = 1.0
    focal: bool = False


@dataclass(frozen=True)
class LossParts:
    """A batch's loss and its terms (floats, for logs), plus the IoU of the chosen masks."""

    total: torch.Tensor
    mask: float
    dice: float
    iou: float
    presence: float
    mean_iou: float


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - soft Dice per mask over the last two dimensions."""
    prob = logits.sigmoid().flatten(-2)
    tgt = target.flatten(-2)
    inter = (prob * tgt).sum(-1)
    return 1.0 - (2.0 * inter + eps) / (prob.sum(-1) + tgt.sum(-1) + eps)


def bce_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy per mask."""
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(-2).mean(-1)


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0) -> torch.Tensor:
    """Mean sigmoid focal loss per mask (SAM 2's mask loss)."""
    prob = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = prob * target + (1 - prob) * (1 - target)
    loss = ce * (1 - p_t) ** gamma
    loss = (alpha * target + (1 - alpha) * (1 - target)) * loss
    return loss.flatten(-2).mean(-1)


def hard_iou(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """IoU of the binarised masks (logit > 0) with the target, per mask; 1 when both are empty."""
    pred = logits > 0
    tgt = target > 0.5
    inter = (pred & tgt).flatten(-2).sum(-1).float()
    union = (pred | tgt).flatten(-2).sum(-1).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))


def clip_loss(outputs: list[FrameOutputs], targets: torch.Tensor, weights: LossWeights) -> LossParts:
    """The loss of a batch of clips: ``targets`` is (T, B, S, S), one entry of ``outputs`` per frame."""
    mask_terms, dice_terms, iou_terms, presence_terms, ious = [], [], [], [], []
    for t, out in enumerate(outputs):
        target = targets[t]  # (B, S, S)
        present = (target.flatten(1).sum(-1) > 0).float()  # (B,)
        presence_terms.append(F.binary_cross_entropy_with_logits(out.object_scores[:, 0], present))
        if out.mask_prompt:
            continue  # SAM 2 outputs a mask prompt as is: nothing to learn on that frame
        expanded = target[:, None].expand_as(out.masks)
        per_mask = (focal_loss if weights.focal else bce_loss)(out.masks, expanded)  # (B, M)
        per_dice = dice_loss(out.masks, expanded)
        combined = weights.mask * per_mask + weights.dice * per_dice
        best = combined.argmin(dim=1)
        rows = torch.arange(len(best))
        real_iou = hard_iou(out.masks.detach(), expanded)
        denom = present.sum().clamp(min=1.0)
        mask_terms.append((per_mask[rows, best] * present).sum() / denom)
        dice_terms.append((per_dice[rows, best] * present).sum() / denom)
        iou_terms.append(((out.ious - real_iou).abs().mean(1) * present).sum() / denom)
        if present.any():
            ious.append(real_iou[rows, best][present > 0].mean())
    mask = torch.stack(mask_terms).mean() if mask_terms else torch.zeros(())
    dice = torch.stack(dice_terms).mean() if dice_terms else torch.zeros(())
    iou = torch.stack(iou_terms).mean() if iou_terms else torch.zeros(())
    presence = torch.stack(presence_terms).mean()
    total = weights.mask * mask + weights.dice * dice + weights.iou * iou + weights.presence * presence
    return LossParts(
        total=total,
        mask=float(mask.detach()),
        dice=float(dice.detach()),
        iou=float(iou.detach()),
        presence=float(presence.detach()),
        mean_iou=float(torch.stack(ious).mean()) if ious else float("nan"),
    )
