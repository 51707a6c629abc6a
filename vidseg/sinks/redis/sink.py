"""The Redis sink: every frame result to the ``frames`` stream, its events to ``events``, the run's
state to ``status``; and, when prompts are accepted, a reader of the ``prompts`` stream that
hands them to the run's :class:`~vidseg.prompts.router.PromptRouter`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from vidseg.prompts.commands import Origin
from vidseg.prompts.router import PromptRouter
from vidseg.results import FrameResult
from vidseg.run_status import JobStatus
from vidseg.sinks.base import RunContext, SinkReport
from vidseg.sinks.redis.inbox import RedisPromptInbox
from vidseg.sinks.redis.publisher import RedisPublisher, RunState
from vidseg.sinks.redis.schema import FrameContext, RedisConfig
from vidseg.types import ModelInfo

log = logging.getLogger(__name__)


def model_identity(model: ModelInfo) -> dict[str, Any]:
    """The model fields of a frame entry."""
    return {
        "name": model.name,
        "image_size": model.image_size,
        "checkpoint_sha256": model.checkpoint_sha256,
        "random_weights": model.random_weights,
    }


class RedisSink:
    """Publishes a run to Redis (see the module docstring).

    Args:
        config: where and how.
        router: the run's prompt router; prompts are read only with one and
            ``config.accept_prompts``.
        on_failure: called when the prompt reader cannot go on (the run stops with its reason).
    """

    name = "redis"

    def __init__(
        self,
        config: RedisConfig,
        router: PromptRouter | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.config = config
        self._router = router
        self._on_failure = on_failure or (lambda exc: None)
        self._publisher: RedisPublisher | None = None
        self._inbox: RedisPromptInbox | None = None
        self._model: dict[str, Any] = {}
        self._unsent: str | None = None  # why entries of a lossless run were not sent
        self._abort = threading.Event()
        self.frames = 0

    def open(self, context: RunContext) -> None:
        def stats() -> dict[str, float]:
            now = context.stats()
            return {"fps": now.fps, "dropped": float(now.dropped), "reconnecting": float(now.source_state == "reconnecting")}

        self._model = model_identity(context.model)
        self._abort = context.abort
        self._publisher = RedisPublisher(self.config, stats=stats, abort=context.abort)
        try:
            if self.config.accept_prompts and self._router is not None:
                self._inbox = RedisPromptInbox(
                    self._publisher.client, self.config.url, self.config.key("prompts"), self._router,
                    self._on_failure, frame_size=(context.source.height, context.source.width),
                )  # fmt: skip
        except BaseException as exc:
            self._publisher.close(RunState.FAILED, str(exc), timeout=2.0)
            raise
        self._publisher.set_state(RunState.RUNNING)

    def write(self, result: FrameResult) -> None:
        assert self._publisher is not None, "open() the sink first"
        frame = result.frame
        context = FrameContext(
            source_id=self.config.source_id,
            epoch=frame.epoch,
            wallclock=frame.wallclock,
            dropped=result.dropped,
            model=self._model,
        )
        self._publisher.publish(result.record, context)
        for event in result.events:
            self._publisher.event(event)
        self.frames += 1

    def close(self, status: JobStatus, error: str | None = None) -> None:
        if self._inbox is not None:
            self._inbox.close()
        if self._publisher is not None:
            state = RunState.FAILED if status is JobStatus.FAILED else RunState.STOPPED
            self._publisher.close(state, error)
            summary = self._publisher.summary()
            lost = summary.not_sent
            # A lossless run that could not send everything has failed, unless the user aborted it
            # (then dropping what was in flight is what was asked for).
            aborted = status is JobStatus.ABORTED or self._abort.is_set()
            if self.config.lossless and lost and summary.error is None and not aborted:
                self._unsent = (f"{lost} of {self.frames} frame entries were not sent to Redis at {summary.url}: "
                                f"it was unreachable for more than {self.config.outage_limit:.0f} s (--redis-wait)")  # fmt: skip

    def report(self) -> SinkReport:
        details: dict[str, Any] = {}
        error = None
        if self._publisher is not None:
            summary = self._publisher.summary()
            details.update(url=summary.url, stream=summary.stream, sent=summary.sent, not_sent=summary.not_sent,
                           backlog_dropped=summary.backlog_dropped, left_in_backlog=summary.left,
                           events=summary.events)  # fmt: skip
            error = summary.error or self._unsent
        if self._router is not None:
            applied, rejected = self._router.counts(Origin.REDIS)
            pending = sum(1 for c in self._router.waiting() if c.origin is Origin.REDIS)
            details.update(prompts_applied=applied, prompts_rejected=rejected, prompts_pending=pending)
        if self._inbox is not None:
            details["prompts_read"] = self._inbox.read
            error = error or (str(self._inbox.error) if self._inbox.error is not None else None)
        return SinkReport(self.name, self.frames, error, details)
