"""A run's link to Redis: frames, status and events out; prompts in.

Ties together the publisher (:mod:`vidseg.sinks.redis_stream`), the prompt reader
(:mod:`vidseg.sources.redis_prompts`) and object events (:mod:`vidseg.events`) for a job:
:meth:`RedisBus.feed` runs on the model thread before each frame (it applies the prompts that
arrived), :meth:`RedisBus.publish` on the write thread after each frame.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from vidseg.errors import PromptError
from vidseg.events import Event, EventKind, ObjectEvents
from vidseg.records import FrameRecord
from vidseg.sinks.redis_stream import FrameContext, RedisConfig, RedisPublisher, RunState
from vidseg.sources.redis_prompts import RedisPromptInbox, RejectedPrompt, RemotePrompt, check_fits
from vidseg.tracking import Sam2Tracker
from vidseg.types import Frame, ModelInfo

log = logging.getLogger(__name__)


class RedisBus:
    """Publishing and prompt intake of one run.

    Args:
        config: the Redis settings.
        drops: the number of frames the source dropped or skipped so far (for the status).
        id_limit: the largest object id the run's outputs can hold.
    """

    def __init__(self, config: RedisConfig, drops: Callable[[], int], id_limit: int) -> None:
        self._drops = drops
        self._fps: Callable[[], float] = lambda: 0.0
        self.publisher = RedisPublisher(config, stats=self._stats)
        self._inbox: RedisPromptInbox | None = None
        try:
            if config.accept_prompts:
                self._inbox = RedisPromptInbox(self.publisher.client, config.key("prompts"))
        except BaseException:
            self.publisher.close(RunState.FAILED, "could not read the prompts stream")
            raise
        self._id_limit = id_limit
        self._objects = ObjectEvents()
        self._pending: list[RemotePrompt] = []
        self.applied = 0
        self.rejected = 0
        self._drops_published = 0

    @classmethod
    def open(cls, config: RedisConfig | None, drops: Callable[[], int], id_limit: int) -> RedisBus | None:
        return cls(config, drops, id_limit) if config is not None else None

    def _stats(self) -> dict[str, float]:
        return {"fps": self._fps(), "drops": float(self._drops())}

    def started(self, fps: Callable[[], float]) -> None:
        """The run has started: status ``running``, with ``fps`` giving the processing rate."""
        self._fps = fps
        self.publisher.set_state(RunState.RUNNING)

    def feed(self, tracker: Sam2Tracker, frame: Frame) -> None:
        """On the model thread, before ``frame`` is tracked: apply the prompts that are due, in
        the order they were sent (rejecting those that cannot be applied)."""
        due = [p for p in self._pending if p.due(frame.pts)]  # sent earlier, waiting for their pts
        for remote in due:
            self._pending.remove(remote)
            self._apply(tracker, frame, remote)
        for item in self._inbox.drain() if self._inbox is not None else []:
            if isinstance(item, RejectedPrompt):
                self._reject(frame, None, item.reason, item.request_id)
            elif item.due(frame.pts):
                self._apply(tracker, frame, item)
            else:
                self._pending.append(item)

    def _apply(self, tracker: Sam2Tracker, frame: Frame, remote: RemotePrompt) -> None:
        prompt = remote.prompt
        if prompt is None:  # a removal
            try:
                tracker.remove_object(remote.obj_id)
            except PromptError as exc:
                self._reject(frame, remote.obj_id, str(exc), remote.request_id)
                return
            self.applied += 1
            log.info("frame %d: object %d removed (request from Redis)", frame.index, remote.obj_id)
            self.publisher.event(
                Event(EventKind.PROMPT_APPLIED, frame.index, frame.time, remote.obj_id, "remove", remote.request_id)
            )
            return
        if not 1 <= prompt.obj_id <= self._id_limit:
            reason = f"object id {prompt.obj_id} is out of range: this run's outputs hold ids 1..{self._id_limit}"
            self._reject(frame, prompt.obj_id, reason, remote.request_id)
            return
        misfit = check_fits(prompt, frame.width, frame.height)
        if misfit is not None:
            self._reject(frame, prompt.obj_id, misfit, remote.request_id)
            return
        try:
            tracker.add(prompt)
        except PromptError as exc:
            self._reject(frame, prompt.obj_id, str(exc), remote.request_id)
            return
        self.applied += 1
        log.info("frame %d: prompt from Redis for object %d (%s)", frame.index, prompt.obj_id, prompt.kind)
        self.publisher.event(
            Event(EventKind.PROMPT_APPLIED, frame.index, frame.time, prompt.obj_id, prompt.kind, remote.request_id)
        )

    def _reject(self, frame: Frame, obj_id: int | None, reason: str, request_id: str | None) -> None:
        self.rejected += 1
        log.warning("frame %d: prompt from Redis rejected: %s", frame.index, reason)
        self.publisher.event(Event(EventKind.PROMPT_REJECTED, frame.index, frame.time, obj_id, reason, request_id))

    def publish(self, record: FrameRecord, frame: Frame, model: ModelInfo) -> None:
        """On the write thread, after a frame: its entry, then its object events."""
        drops = self._drops()
        context = FrameContext(
            source_id=self.publisher.config.source_id,
            epoch=frame.epoch,
            wallclock=frame.wallclock,
            dropped=drops - self._drops_published,
            model=self._model_identity(model),
        )
        self._drops_published = drops
        self.publisher.publish(record, context)
        for event in self._objects.update(record):
            self.publisher.event(event)

    @staticmethod
    def _model_identity(model: ModelInfo) -> dict[str, Any]:
        return {
            "name": model.name,
            "image_size": model.image_size,
            "checkpoint_sha256": model.checkpoint_sha256,
            "random_weights": model.random_weights,
        }

    def summary(self) -> dict[str, Any]:
        return {
            **self.publisher.summary(),
            "prompts_applied": self.applied,
            "prompts_rejected": self.rejected,
            "prompts_pending": len(self._pending),
        }

    def close(self, error: BaseException | None) -> None:
        """Stop reading prompts, send the final status (``stopped`` or ``failed``) and what is left."""
        if self._inbox is not None:
            self._inbox.close()
        state = RunState.FAILED if error is not None else RunState.STOPPED
        self.publisher.close(state, str(error) if error is not None else None)
