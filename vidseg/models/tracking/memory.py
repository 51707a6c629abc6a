"""The bounded memory bank of one tracked object.

SAM 2's memory attention reads, for frame t (``SAM2Base._prepare_memory_conditioned_features``):

- every conditioning (prompted) frame it is given;
- the spatial memories (``maskmem_features``) of ``num_maskmem - 1`` earlier non-conditioning
  frames: t-1, then every ``stride``-th frame before it;
- the object pointers of the previous ``max_obj_ptrs_in_encoder - 1`` frames.

After each frame the bank keeps exactly what the next frame reads: full entries inside the
spatial window, pointer-only entries inside the pointer window, the conditioning frames (capped),
and nothing else; one more frame of each window is kept so the latest frame can still be
corrected. Frame images are never kept. So memory stays flat on an endless stream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch


@dataclass(frozen=True)
class MemoryWindow:
    """Which past frames SAM 2's memory attention reads, from the model's settings."""

    num_maskmem: int
    stride: int
    max_obj_ptrs: int
    use_obj_ptrs: bool

    @classmethod
    def of(cls, model: Any) -> MemoryWindow:
        return cls(
            num_maskmem=int(model.num_maskmem),
            stride=int(model.memory_temporal_stride_for_eval),
            max_obj_ptrs=int(model.max_obj_ptrs_in_encoder),
            use_obj_ptrs=bool(model.use_obj_ptrs_in_encoder),
        )

    def maskmem_frames(self, t: int) -> set[int]:
        """Frames whose spatial memory frame ``t`` reads (same formula as SAM 2, forward time)."""
        frames: set[int] = set()
        for t_pos in range(1, self.num_maskmem):
            t_rel = self.num_maskmem - t_pos
            if t_rel == 1:
                frames.add(t - 1)
            else:
                prev = ((t - 2) // self.stride) * self.stride
                frames.add(prev - (t_rel - 2) * self.stride)
        return frames

    def pointer_frames(self, t: int) -> set[int]:
        """Frames whose object pointer frame ``t`` reads."""
        if not self.use_obj_ptrs:
            return set()
        return {t - d for d in range(1, self.max_obj_ptrs)}


@dataclass(frozen=True)
class MemoryEntry:
    """What one frame contributes to an object's memory.

    Attributes:
        maskmem_features: (1, C, h, w) bf16 spatial memory; None once only the pointer is needed.
        obj_ptr: (1, D) object pointer.
        object_score_logits: (1, 1) presence logit.
        pred_masks: (1, 1, h, w) low-res mask logits (hole-filled); kept only for the latest
            frame, where a correction can use them.
    """

    maskmem_features: torch.Tensor | None
    obj_ptr: torch.Tensor
    object_score_logits: torch.Tensor
    pred_masks: torch.Tensor | None

    def tensors(self) -> list[torch.Tensor]:
        return [
            x for x in (self.maskmem_features, self.obj_ptr, self.object_score_logits, self.pred_masks) if x is not None
        ]

    def map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> MemoryEntry:
        """The entry with ``fn`` applied to each of its tensors (copies to a device, roundings)."""
        return MemoryEntry(
            maskmem_features=None if self.maskmem_features is None else fn(self.maskmem_features),
            obj_ptr=fn(self.obj_ptr),
            object_score_logits=fn(self.object_score_logits),
            pred_masks=None if self.pred_masks is None else fn(self.pred_masks),
        )


class ObjectMemory:
    """The memory bank of one object: conditioning and non-conditioning entries by frame index."""

    def __init__(self, max_cond_frames: int) -> None:
        if max_cond_frames < 1:
            raise ValueError(f"max_cond_frames must be >= 1; found {max_cond_frames}")
        self.max_cond_frames = max_cond_frames
        self.cond: dict[int, MemoryEntry] = {}
        self.non_cond: dict[int, MemoryEntry] = {}
        # A correction of the latest frame waits here until the next frame is tracked, so that
        # further clicks on the same frame do not read it as memory (as in SAM2VideoPredictor).
        self.staged: tuple[int, MemoryEntry, bool] | None = None

    def add(self, t: int, entry: MemoryEntry, is_cond: bool) -> None:
        if is_cond:
            self.non_cond.pop(t, None)
            self.cond[t] = entry
            self._cap_cond()
        else:
            self.non_cond[t] = entry

    def stage(self, t: int, entry: MemoryEntry, is_cond: bool) -> None:
        """Hold ``entry`` for frame ``t`` outside the memory SAM 2 reads until :meth:`commit`."""
        self.staged = (t, entry, is_cond)

    def commit(self) -> None:
        """Move a staged correction into the memory."""
        if self.staged is not None:
            self.add(*self.staged)
            self.staged = None

    def latest(self, t: int) -> MemoryEntry | None:
        """The newest entry for frame ``t`` (a staged correction first)."""
        if self.staged is not None and self.staged[0] == t:
            return self.staged[1]
        entry = self.cond.get(t)
        return entry if entry is not None else self.non_cond.get(t)

    def _cap_cond(self) -> None:
        # Keep the first prompt (the user's definition of the object) and the most recent ones.
        while len(self.cond) > self.max_cond_frames:
            keys = sorted(self.cond)
            del self.cond[keys[1] if self.max_cond_frames >= 2 else keys[0]]

    def evict(self, next_t: int, window: MemoryWindow) -> None:
        """Drop everything that neither frame ``next_t`` nor a correction of frame ``next_t - 1``
        (which re-reads that frame's memory window) will read."""
        spatial = window.maskmem_frames(next_t) | window.maskmem_frames(next_t - 1)
        pointers = window.pointer_frames(next_t) | window.pointer_frames(next_t - 1)
        for t in list(self.non_cond):
            entry = self.non_cond[t]
            if t in spatial:
                keep = entry
            elif t in pointers:
                keep = replace(entry, maskmem_features=None)
            else:
                del self.non_cond[t]
                continue
            if t != next_t - 1 and keep.pred_masks is not None:
                keep = replace(keep, pred_masks=None)
            if keep is not entry:
                self.non_cond[t] = keep
        for t, entry in list(self.cond.items()):
            if t != next_t - 1 and entry.pred_masks is not None:
                self.cond[t] = replace(entry, pred_masks=None)

    def layout(self) -> tuple[tuple[int, ...], tuple[tuple[int, bool], ...]]:
        """A key that is equal for objects whose memories SAM 2 reads the same way (batchable)."""
        return (
            tuple(sorted(self.cond)),
            tuple(sorted((t, e.maskmem_features is not None) for t, e in self.non_cond.items())),
        )

    def tensors(self) -> list[torch.Tensor]:
        out: list[torch.Tensor] = []
        staged = [self.staged[1]] if self.staged is not None else []
        for entry in (*self.cond.values(), *self.non_cond.values(), *staged):
            out.extend(entry.tensors())
        return out


def sam2_output_dict(
    memories: list[ObjectMemory], maskmem_pos_enc: list[torch.Tensor] | None
) -> dict[str, dict[int, dict[str, Any]]]:
    """The ``output_dict`` that ``SAM2Base.track_step`` reads, for one object or a batch of
    objects with the same :meth:`ObjectMemory.layout` (tensors concatenated along the batch)."""
    batch = len(memories)
    pos = None if maskmem_pos_enc is None else [p.expand(batch, -1, -1, -1) for p in maskmem_pos_enc]

    def merge(entries: list[MemoryEntry]) -> dict[str, Any]:
        first = entries[0]
        if batch == 1:
            feats, ptr = first.maskmem_features, first.obj_ptr
        else:
            feats = None if first.maskmem_features is None else torch.cat([e.maskmem_features for e in entries])  # type: ignore[misc]
            ptr = torch.cat([e.obj_ptr for e in entries])
        return {"maskmem_features": feats, "maskmem_pos_enc": pos, "obj_ptr": ptr}

    return {
        key: {t: merge([getattr(m, attr)[t] for m in memories]) for t in getattr(memories[0], attr)}
        for key, attr in (("cond_frame_outputs", "cond"), ("non_cond_frame_outputs", "non_cond"))
    }
