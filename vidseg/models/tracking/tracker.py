"""A frame-by-frame SAM 2 tracker with a bounded memory bank.

The tracker drives the ``sam2`` package's own model modules (``forward_image``,
``track_step``, ``_encode_new_memory``) one frame at a time, in the order and with the inputs
the official ``SAM2VideoPredictor`` uses when a user adds prompts and propagates to the next
prompted frame. Frame for frame it computes what SAM 2 computes, but it needs no video up front
and keeps only the memory SAM 2 can read.

Prompts apply to the next frame passed to :meth:`Sam2Tracker.step`. As in SAM 2, a prompt on a
frame the object has not been tracked on yet is an *initial conditioning* frame: the mask comes
from the prompt alone, and that frame becomes a permanent memory of the object.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F

from vidseg.errors import PromptError
from vidseg.models.device import autocast_for
from vidseg.models.tracking.memory import MemoryEntry, MemoryWindow, ObjectMemory, sam2_output_dict
from vidseg.models.tracking.postprocess import fill_holes, support_boxes, to_frame_size
from vidseg.models.tracking.preprocess import image_to_tensor, mask_inputs, point_inputs
from vidseg.models.tracking.snapshot import SessionSnapshot, capture
from vidseg.types import BoolArray, Frame, ImageArray, ModelInfo, Prompt, TrackingResult, check_image

log = logging.getLogger(__name__)

# SAM 2 takes the video length to size its object-pointer window; a stream has no length, and
# any value >= 16 frames gives the same results as the official predictor on a video that long.
_ENDLESS = 1 << 30
# Clamp of previous logits fed back with correction clicks, as SAM2VideoPredictor does.
_PREV_LOGIT_CLAMP = 32.0


def make_prompt(
    obj_id: int,
    points: Sequence[Sequence[float]] | None = None,
    labels: Sequence[int] | None = None,
    box: Sequence[float] | None = None,
    mask: BoolArray | None = None,
) -> Prompt:
    """Build a :class:`Prompt` from loosely typed input (lists, tuples, numpy values).

    Labels default to 1 (positive) for every point.

    Raises:
        PromptError: the values do not have the shape of points, labels or a box.
    """
    try:
        pts = tuple((float(x), float(y)) for x, y in (points if points is not None else ()))
    except (TypeError, ValueError) as exc:
        raise PromptError(f"points must be a list of (x, y) pairs; found {points!r:.80}") from exc
    try:
        labs = tuple(int(v) for v in labels) if labels is not None else (1,) * len(pts)
    except (TypeError, ValueError) as exc:
        raise PromptError(f"labels must be a list of 0/1 integers; found {labels!r:.80}") from exc
    try:
        box_t = tuple(float(v) for v in box) if box is not None else None
    except (TypeError, ValueError) as exc:
        raise PromptError(f"box must be four numbers (x1, y1, x2, y2); found {box!r:.80}") from exc
    if box_t is not None and len(box_t) != 4:
        raise PromptError(f"box must be four numbers (x1, y1, x2, y2); found {box!r:.80}")
    return Prompt(obj_id=obj_id, points=pts, labels=labs, box=box_t, mask=mask)


@dataclass(frozen=True)
class MemoryStats:
    """What the tracker holds between frames."""

    objects: int
    cond_frames: int
    non_cond_frames: int
    tensors: int
    bytes: int


@dataclass(frozen=True, eq=False)
class Sam2Model:
    """SAM 2's weights and how to run them, built once (:func:`vidseg.models.tracking.build_model`);
    any number of per-stream :class:`Sam2Tracker` sessions (:meth:`session`) share them.

    The weights hold no per-stream state: a session keeps its own memory bank, objects and
    prompts. Only one thread may run the model at a time (the pipeline's model thread): sessions
    of one model are stepped one after the other, never concurrently.

    Attributes:
        net: the ``sam2`` module (a ``SAM2VideoPredictor``) in eval mode on ``device``.
        info: name, image size, checkpoint and whether the weights are random.
        device: where it runs.
        fill_hole_area: SAM 2's hole filling in low-resolution pixels (0: off).
        max_cond_frames: prompted frames kept per object.
        batch_objects: run objects whose memory layouts match as one batch.
    """

    net: torch.nn.Module
    info: ModelInfo
    device: torch.device
    fill_hole_area: int = 8
    max_cond_frames: int = 8
    batch_objects: bool = True

    def __post_init__(self) -> None:
        if self.max_cond_frames < 1:
            raise ValueError(f"max_cond_frames must be >= 1; found {self.max_cond_frames}")

    def session(self) -> Sam2Tracker:
        """A new tracking session (empty memory, frame counter at 0) on these weights."""
        return Sam2Tracker(self)

    def restore(self, snapshot: SessionSnapshot) -> Sam2Tracker:
        """A new session that continues from ``snapshot`` (:meth:`Sam2Tracker.snapshot`) exactly:
        on the same device and threads, its next frames give the logits the snapshotted session
        would have given, bit for bit (with ``dtype="float32"`` snapshots).

        Raises:
            SnapshotError: the snapshot belongs to another model (name, image size, settings or
                weights) or another snapshot format version.
        """
        snapshot.check_model(self)
        return Sam2Tracker._restored(self, snapshot)


class Sam2Tracker:
    """Tracks any number of prompted objects through one stream of frames: a session on a
    :class:`Sam2Model`, holding the stream's memory bank, objects and prompts.

    Build one with :func:`vidseg.models.tracking.build_tracker` (weights and one session), or
    :meth:`Sam2Model.session` for more streams on the same weights. Only one thread may use a
    tracker.

    Example:
        >>> tracker = build_tracker("sam2.1_hiera_tiny", random_weights=True, image_size=256)
        >>> tracker.add_prompt(obj_id=1, points=[(120, 80)], labels=[1])
        >>> result = tracker.step(frame)          # HxWx3 uint8 RGB
        >>> result.masks.shape                    # (1, H, W)
    """

    def __init__(self, model: Sam2Model) -> None:
        self._weights = model
        self._model: Any = model.net
        self._info = model.info
        self._device = model.device
        self._fill_hole_area = int(model.fill_hole_area)
        self._max_cond_frames = int(model.max_cond_frames)
        self._batch_objects = model.batch_objects
        self._window = MemoryWindow.of(model.net)
        self._image_size = int(cast(Any, model.net).image_size)
        self._memories: dict[int, ObjectMemory] = {}
        self._pending: dict[int, list[Prompt]] = {}
        self._maskmem_pos_enc: list[torch.Tensor] | None = None
        self._next_index = 0
        self._last_size: tuple[int, int] | None = None
        self._last_batches: tuple[int, ...] = ()
        self._last_backbone: dict[str, Any] | None = None
        self._last_image: ImageArray | None = None
        self._last_record: Frame | None = None

    # ------------------------------------------------------------------ properties
    @property
    def model(self) -> torch.nn.Module:
        """The underlying ``sam2`` module (a ``SAM2VideoPredictor``)."""
        return cast(torch.nn.Module, self._model)

    @property
    def weights(self) -> Sam2Model:
        """The shared weights this session runs on (:meth:`Sam2Model.session` makes another)."""
        return self._weights

    @property
    def pending_ids(self) -> tuple[int, ...]:
        """Ids of objects with prompts queued for the next frame."""
        return tuple(self._pending)

    @property
    def info(self) -> ModelInfo:
        """Model name, image size, checkpoint and whether the weights are random."""
        return self._info

    @property
    def object_ids(self) -> tuple[int, ...]:
        """Ids of the tracked objects, in the order they were added."""
        return tuple(self._memories)

    @property
    def last_batch_sizes(self) -> tuple[int, ...]:
        """Sizes of the object batches the last step propagated (prompted objects not included)."""
        return self._last_batches

    @property
    def frame_index(self) -> int:
        """Index the next stepped frame will get."""
        return self._next_index

    # ------------------------------------------------------------------ prompts
    def add_prompt(
        self,
        obj_id: int,
        points: Sequence[Sequence[float]] | None = None,
        labels: Sequence[int] | None = None,
        box: Sequence[float] | None = None,
        mask: BoolArray | None = None,
    ) -> Prompt:
        """Queue a prompt for ``obj_id``; it applies to the next frame passed to :meth:`step`.

        A new ``obj_id`` starts a new object; a known one is corrected (re-anchored) on that
        frame. Several prompts for one object before a step are applied in order, each refining
        the previous mask, as clicks do in SAM 2. Labels default to 1 (positive) for every point.

        Raises:
            PromptError: malformed prompt, or one outside the last frame's bounds.
        """
        prompt = make_prompt(obj_id, points, labels, box, mask)
        self.add(prompt)
        return prompt

    def add(self, prompt: Prompt) -> None:
        """Queue a :class:`Prompt` for the next frame (see :meth:`add_prompt`)."""
        if self._last_size is not None:
            prompt.check_inside(*self._last_size)
        self._pending.setdefault(prompt.obj_id, []).append(prompt)

    def remove_object(self, obj_id: int) -> None:
        """Stop tracking ``obj_id`` and free its memory.

        Raises:
            PromptError: the object is neither tracked nor pending.
        """
        if obj_id not in self._memories and obj_id not in self._pending:
            raise PromptError(f"cannot remove object {obj_id}: it is not tracked (tracked: {list(self._memories)})")
        self._memories.pop(obj_id, None)
        self._pending.pop(obj_id, None)

    def refine(
        self,
        obj_id: int,
        points: Sequence[Sequence[float]] | None = None,
        labels: Sequence[int] | None = None,
        box: Sequence[float] | None = None,
        mask: BoolArray | None = None,
    ) -> TrackingResult:
        """Apply a prompt to the frame :meth:`step` returned last and return that frame again.

        This is SAM 2's interactive correction: for a tracked object the clicks refine its mask
        on that frame, starting from the current logits and reading the object's memory; for a
        new ``obj_id`` the frame becomes its first prompted frame. The corrected mask replaces
        the frame's memory, so tracking continues from it with the next :meth:`step`.

        Raises:
            PromptError: malformed prompt, prompt outside the frame, or no frame stepped yet.
        """
        prompt = make_prompt(obj_id, points, labels, box, mask)
        if self._last_size is None or self._next_index == 0:
            raise PromptError("no frame to refine yet: step a frame first, or use add_prompt for the next frame")
        height, width = self._last_size
        prompt.check_inside(height, width)
        t = self._next_index - 1
        if self._last_backbone is None and self._last_image is None:
            raise PromptError(
                f"cannot refine frame {t}: this session was restored from a snapshot without that frame's pixels; "
                "take the snapshot with snapshot(last_frame=frame), or prompt the next frame with add_prompt"
            )
        with torch.inference_mode(), autocast_for(self._device):
            if self._last_backbone is None and self._last_image is not None:
                image = image_to_tensor(self._last_image, self._image_size, self._device)
                self._last_backbone, self._last_image = self._model.forward_image(image), None
            assert self._last_backbone is not None
            memory = self._memories.get(prompt.obj_id) or ObjectMemory(self._max_cond_frames)
            correction = memory.latest(t) is not None
            feats = self._features(self._last_backbone, 1)
            self._apply_prompts(memory, [prompt], t, height, width, feats, correction=correction, stage=True)
            self._memories.setdefault(prompt.obj_id, memory)
            return self._result(t, height, width, self._last_record)

    # ------------------------------------------------------------------ snapshots
    def snapshot(
        self,
        dtype: str = "float32",
        last_frame: Frame | ImageArray | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> SessionSnapshot:
        """Everything the next :meth:`step` reads, copied to the CPU; :meth:`Sam2Model.restore`
        continues from it, in this process or another (:meth:`SessionSnapshot.save`).

        Args:
            dtype: ``"float32"``: every tensor as the session holds it (the spatial memories are
                bf16 already), so a restored session is exact; ``"float16"``: the memory's float32
                tensors (object pointers, presence and mask logits) rounded to float16.
            last_frame: the frame last passed to :meth:`step`; stored (H x W x 3 bytes) so that the
                restored session can :meth:`refine` it. Without it, the restored session can
                prompt the next frame but not correct the last one.
            extra: plain JSON kept with the snapshot (e.g. each object's class or origin, which
                the session does not know).

        Raises:
            ConfigError: unknown dtype, ``extra`` not JSON, or ``last_frame`` of another size.

        Example:
            >>> snap = tracker.snapshot()
            >>> snap.save("stream.vsnap")
            >>> resumed = tracker.weights.restore(SessionSnapshot.load("stream.vsnap"))
        """
        with torch.inference_mode():
            return capture(
                self._weights,
                memories=self._memories,
                pending=self._pending,
                maskmem_pos_enc=self._maskmem_pos_enc,
                frame_index=self._next_index,
                last_size=self._last_size,
                last_record=self._last_record,
                last_batch_sizes=self._last_batches,
                dtype=dtype,
                last_frame=last_frame,
                extra=extra,
            )

    @classmethod
    def _restored(cls, model: Sam2Model, snapshot: SessionSnapshot) -> Sam2Tracker:
        """A session on ``model`` holding ``snapshot``'s state (checked by the caller)."""
        session = cls(model)

        def on_device(tensor: torch.Tensor) -> torch.Tensor:
            return tensor.to(model.device, copy=True)

        by_id = {obj.obj_id: obj for obj in snapshot.objects}
        for obj in snapshot.objects:
            if not obj.tracked:
                continue
            memory = ObjectMemory(session._max_cond_frames)
            memory.cond = {t: entry.map(on_device) for t, entry in obj.cond}
            memory.non_cond = {t: entry.map(on_device) for t, entry in obj.non_cond}
            if obj.staged is not None:
                memory.staged = (obj.staged[0], obj.staged[1].map(on_device), obj.staged[2])
            session._memories[obj.obj_id] = memory
        session._pending = {obj_id: list(by_id[obj_id].pending) for obj_id in snapshot.pending_order}
        if snapshot.maskmem_pos_enc is not None:
            session._maskmem_pos_enc = [on_device(p) for p in snapshot.maskmem_pos_enc]
        session._next_index = snapshot.frame_index
        session._last_size = snapshot.last_size
        session._last_batches = snapshot.last_batch_sizes
        frame = snapshot.last_frame
        if frame is not None:
            # The backbone of that frame is recomputed from its pixels if `refine` needs it.
            session._last_image = (frame.image if isinstance(frame, Frame) else frame).copy()
            session._last_record = frame if isinstance(frame, Frame) else None
        return session

    def reset(self) -> None:
        """Forget every object, prompt and memory; the frame counter restarts at 0."""
        self._memories.clear()
        self._pending.clear()
        self._next_index = 0
        self._last_size = None
        self._last_backbone = None
        self._last_image = None
        self._last_record = None

    # ------------------------------------------------------------------ tracking
    def step(self, frame: Frame | ImageArray) -> TrackingResult:
        """Track every object on the next frame.

        Args:
            frame: an HxWx3 uint8 RGB array, or a :class:`Frame`. Frame size may change between
                calls (masks are returned at each frame's size).

        Returns:
            The masks, logits and presence scores of every object, at frame size. With no
            objects and no prompts the result is empty (a live feed runs before anyone prompts).

        Raises:
            FrameError: the frame is not HxWx3 uint8.
            PromptError: a queued prompt lies outside this frame (it is dropped; state unchanged).
        """
        record = frame if isinstance(frame, Frame) else None
        image = record.image if record is not None else check_image(frame)
        height, width = int(image.shape[0]), int(image.shape[1])
        self._check_pending(height, width)
        t = self._next_index
        if self._memories or self._pending:
            with torch.inference_mode(), autocast_for(self._device):
                self._track(image, t)
                result = self._result(t, height, width, record)
            for memory in self._memories.values():
                memory.evict(t + 1, self._window)
        else:
            result = self._empty_result(t, height, width, record)
            self._last_batches = ()
            # No model run: keep a copy of the pixels in case `refine` prompts this frame.
            self._last_backbone = None
            self._last_image = image.copy()
        self._next_index = t + 1
        self._last_size = (height, width)
        self._last_record = record
        return result

    def _check_pending(self, height: int, width: int) -> None:
        for obj_id, prompts in list(self._pending.items()):
            for prompt in prompts:
                try:
                    prompt.check_inside(height, width)
                except PromptError:
                    prompts.remove(prompt)
                    if not prompts:
                        del self._pending[obj_id]
                    raise

    def _features(self, backbone_out: dict[str, Any], batch: int) -> tuple[Any, Any, Any]:
        """Vision features and positions for a batch of ``batch`` objects (shared backbone)."""
        expanded = {
            "backbone_fpn": [f.expand(batch, -1, -1, -1) for f in backbone_out["backbone_fpn"]],
            "vision_pos_enc": [p.expand(batch, -1, -1, -1) for p in backbone_out["vision_pos_enc"]],
        }
        _, feats, pos, sizes = self._model._prepare_backbone_features(expanded)
        return feats, pos, sizes

    def _track(self, image: ImageArray, t: int) -> None:
        model = self._model
        height, width = int(image.shape[0]), int(image.shape[1])
        backbone_out = model.forward_image(image_to_tensor(image, self._image_size, self._device))
        # Kept until the next frame so the latest frame can be corrected (see `refine`).
        self._last_backbone = backbone_out
        self._last_image = None
        feature_cache: dict[int, tuple[Any, Any, Any]] = {}

        def features(batch: int) -> tuple[Any, Any, Any]:
            if batch not in feature_cache:
                feature_cache[batch] = self._features(backbone_out, batch)
            return feature_cache[batch]

        for memory in self._memories.values():
            memory.commit()
        prompted = self._pending
        tracked = [obj_id for obj_id in self._memories if obj_id not in prompted]
        added: list[int] = []
        try:
            for obj_id, prompts in prompted.items():
                memory = self._memories.get(obj_id) or ObjectMemory(self._max_cond_frames)
                self._apply_prompts(memory, prompts, t, height, width, features(1))
                if obj_id not in self._memories:
                    self._memories[obj_id] = memory
                    added.append(obj_id)
            groups = self._groups(tracked)
            self._last_batches = tuple(len(group) for group in groups)
            for group in groups:
                self._propagate(group, t, features(len(group)))
        except BaseException:
            # Leave no half-built object behind; the prompts stay queued for a retry.
            for obj_id in added:
                del self._memories[obj_id]
            raise
        self._pending = {}

    def _apply_prompts(
        self,
        memory: ObjectMemory,
        prompts: list[Prompt],
        t: int,
        height: int,
        width: int,
        feats: tuple[Any, Any, Any],
        correction: bool = False,
        stage: bool = False,
    ) -> None:
        """Run SAM with the prompts on frame ``t`` and store the result as the object's memory.

        A first prompt on a frame (``correction=False``) reads no memory and makes ``t`` a
        conditioning frame. A correction of a tracked frame reads the object's memory, starts
        from the frame's current logits, and replaces its entry (conditioning when the model
        sets ``add_all_frames_to_correct_as_cond``, or when ``t`` already was one).
        """
        model = self._model
        vision_feats, vision_pos, sizes = feats
        prev_logits: torch.Tensor | None = None
        if correction:
            current = memory.latest(t)
            if current is not None and current.pred_masks is not None:
                prev_logits = torch.clamp(current.pred_masks, -_PREV_LOGIT_CLAMP, _PREV_LOGIT_CLAMP)
        out: dict[str, Any] = {}
        low_res: torch.Tensor | None = None
        for prompt in prompts:
            if prompt.mask is not None:
                pts, masks, prev = None, mask_inputs(prompt.mask, self._image_size, self._device), None
            else:
                pts = point_inputs(prompt, height, width, self._image_size, self._device)
                masks, prev = None, prev_logits
            out = model.track_step(
                frame_idx=t,
                is_init_cond_frame=not correction,
                current_vision_feats=vision_feats,
                current_vision_pos_embeds=vision_pos,
                feat_sizes=sizes,
                point_inputs=pts,
                mask_inputs=masks,
                output_dict=sam2_output_dict([memory], self._maskmem_pos_enc),
                num_frames=_ENDLESS,
                run_mem_encoder=False,
                prev_sam_mask_logits=prev,
            )
            low_res = fill_holes(out["pred_masks"], self._fill_hole_area)
            prev_logits = torch.clamp(low_res, -_PREV_LOGIT_CLAMP, _PREV_LOGIT_CLAMP)
        assert low_res is not None
        # As the official predictor does before propagating: encode what the user saw, binarised.
        high_res = F.interpolate(
            low_res, size=(self._image_size, self._image_size), mode="bilinear", align_corners=False
        )
        maskmem, maskmem_pos = model._encode_new_memory(
            current_vision_feats=vision_feats,
            feat_sizes=sizes,
            pred_masks_high_res=high_res,
            object_score_logits=out["object_score_logits"],
            is_mask_from_pts=True,
        )
        self._keep_pos_enc(maskmem_pos)
        entry = MemoryEntry(
            maskmem_features=maskmem.to(torch.bfloat16),
            obj_ptr=out["obj_ptr"],
            object_score_logits=out["object_score_logits"],
            pred_masks=low_res,
        )
        # A correction of a prompted frame stays a prompted frame. (The official predictor drops
        # such a correction when it next propagates; vidseg keeps it.)
        as_cond = not correction or t in memory.cond or bool(model.add_all_frames_to_correct_as_cond)
        if stage:
            memory.stage(t, entry, is_cond=as_cond)
        else:
            memory.add(t, entry, is_cond=as_cond)

    def _groups(self, obj_ids: list[int]) -> list[list[int]]:
        """Objects whose memories have the same layout run as one batch."""
        if not self._batch_objects:
            return [[obj_id] for obj_id in obj_ids]
        groups: dict[Any, list[int]] = {}
        for obj_id in obj_ids:
            groups.setdefault(self._memories[obj_id].layout(), []).append(obj_id)
        return list(groups.values())

    def _propagate(self, group: list[int], t: int, feats: tuple[Any, Any, Any]) -> None:
        """Track a batch of objects on frame ``t`` from their memories."""
        vision_feats, vision_pos, sizes = feats
        memories = [self._memories[obj_id] for obj_id in group]
        out = self._model.track_step(
            frame_idx=t,
            is_init_cond_frame=False,
            current_vision_feats=vision_feats,
            current_vision_pos_embeds=vision_pos,
            feat_sizes=sizes,
            point_inputs=None,
            mask_inputs=None,
            output_dict=sam2_output_dict(memories, self._maskmem_pos_enc),
            num_frames=_ENDLESS,
            run_mem_encoder=True,
        )
        self._keep_pos_enc(out["maskmem_pos_enc"])
        low_res = fill_holes(out["pred_masks"], self._fill_hole_area)
        maskmem = out["maskmem_features"].to(torch.bfloat16)
        single = len(group) == 1
        for k, memory in enumerate(memories):
            part = slice(k, k + 1)
            entry = MemoryEntry(
                maskmem_features=maskmem if single else maskmem[part].clone(),
                obj_ptr=out["obj_ptr"] if single else out["obj_ptr"][part].clone(),
                object_score_logits=out["object_score_logits"] if single else out["object_score_logits"][part].clone(),
                pred_masks=low_res if single else low_res[part].clone(),
            )
            memory.add(t, entry, is_cond=False)

    def _keep_pos_enc(self, maskmem_pos_enc: list[torch.Tensor] | None) -> None:
        # The memory position encoding is the same for every frame and object: keep one copy.
        if self._maskmem_pos_enc is None and maskmem_pos_enc is not None:
            self._maskmem_pos_enc = [p[0:1].clone() for p in maskmem_pos_enc]

    # ------------------------------------------------------------------ results
    def _result(self, t: int, height: int, width: int, record: Frame | None) -> TrackingResult:
        ids = list(self._memories)
        entries = [self._memories[obj_id].latest(t) for obj_id in ids]
        low_res = torch.cat([e.pred_masks for e in entries if e is not None and e.pred_masks is not None])
        score_logits = torch.cat([e.object_score_logits for e in entries if e is not None])
        logits = to_frame_size(low_res.float(), height, width)[:, 0].cpu().numpy()
        scores = torch.sigmoid(score_logits.float()).reshape(-1).cpu().numpy()
        return TrackingResult(
            frame_index=t,
            object_ids=np.asarray(ids, dtype=np.int64),
            masks=logits > 0,
            logits=logits.astype(np.float32, copy=False),
            scores=scores.astype(np.float32, copy=False),
            model=self._info,
            frame=record,
            regions=support_boxes(low_res, height, width),
        )

    def _empty_result(self, t: int, height: int, width: int, record: Frame | None) -> TrackingResult:
        return TrackingResult(
            frame_index=t,
            object_ids=np.zeros((0,), dtype=np.int64),
            masks=np.zeros((0, height, width), dtype=bool),
            logits=np.zeros((0, height, width), dtype=np.float32),
            scores=np.zeros((0,), dtype=np.float32),
            model=self._info,
            frame=record,
        )

    def memory_stats(self) -> MemoryStats:
        """Count what the tracker retains between frames (memory banks and shared constants)."""
        seen: dict[int, int] = {}
        tensors: list[torch.Tensor] = []
        for memory in self._memories.values():
            tensors.extend(memory.tensors())
        tensors.extend(self._maskmem_pos_enc or [])
        for tensor in tensors:
            seen[id(tensor)] = tensor.numel() * tensor.element_size()
        return MemoryStats(
            objects=len(self._memories),
            cond_frames=sum(len(m.cond) for m in self._memories.values()),
            non_cond_frames=sum(len(m.non_cond) for m in self._memories.values()),
            tensors=len(seen),
            bytes=sum(seen.values()),
        )
