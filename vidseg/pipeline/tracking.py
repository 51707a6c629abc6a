"""The two stages between a source and the sinks: tracking (the model thread) and results.

- :class:`TrackStage` runs on the one thread that owns the model: it applies the prompts due on
  the frame (through the :class:`~vidseg.prompts.router.PromptRouter`) and steps the session.
- :class:`ResultStage` runs beside it at a lower priority: it resolves overlaps, builds the
  frame's record and object events, and counts drops, giving the
  :class:`~vidseg.results.FrameResult` every sink receives.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from vidseg.masks import exclusive_masks
from vidseg.models.tracking import Sam2Tracker
from vidseg.pipeline.object_events import ObjectEvents
from vidseg.pipeline.progress import Progress
from vidseg.pipeline.status import RunStats
from vidseg.prompts.router import PromptRouter
from vidseg.results import Event, FrameResult
from vidseg.types import Frame, TrackingResult


@dataclass(frozen=True)
class Tracked:
    """What crosses track -> results: the frame, the tracker's result, the prompt events."""

    frame: Frame
    tracking: TrackingResult = field(repr=False)
    events: tuple[Event, ...] = ()


class TrackStage:
    """Prompts, then a tracking step, for each frame (model thread only)."""

    def __init__(self, session: Sam2Tracker, router: PromptRouter) -> None:
        self.session = session
        self.router = router

    def __call__(self, frame: Frame) -> Tracked:
        events = self.router.apply_due(self.session, frame)
        return Tracked(frame, self.session.step(frame), tuple(events))


class ResultStage:
    """Builds each frame's :class:`FrameResult` and keeps the run's counts.

    Args:
        dropped: frames dropped so far in all (buffer policies and the source), read per frame.
        threshold: presence score above which an object counts as visible.
        progress: where progress is reported, if anywhere.
        on_frame: called after each frame (e.g. to keep the manifest current).
    """

    def __init__(
        self, dropped: Callable[[], int], threshold: float = 0.5, progress: Progress | None = None,
        on_frame: Callable[[], None] | None = None,
    ) -> None:  # fmt: skip
        self._dropped = dropped
        self._on_frame = on_frame
        self._threshold = threshold
        self._progress = progress
        self._objects = ObjectEvents()
        self._dropped_before = 0
        self._started: float | None = None
        self.frames = 0

    def __call__(self, item: Tracked) -> FrameResult:
        if self._started is None:
            self._started = time.perf_counter()
        tracking = item.tracking
        # Every output shows the same masks: overlaps go to the object with the higher logit.
        masks = exclusive_masks(tracking.masks, tracking.logits)
        dropped = self._dropped()
        result = FrameResult.build(item.frame, tracking, masks, item.events, dropped - self._dropped_before,
                                   self._threshold)  # fmt: skip
        self._dropped_before = dropped
        object_events = self._objects.update(result.record)
        if object_events:
            result = FrameResult(result.frame, tracking, masks, result.record, (*item.events, *object_events),
                                 result.dropped)  # fmt: skip
        self.frames += 1
        if self._progress is not None:
            self._progress.update()
        if self._on_frame is not None:
            self._on_frame()
        return result

    def stats(self) -> RunStats:
        elapsed = time.perf_counter() - self._started if self._started is not None else 0.0
        return RunStats(frames=self.frames, fps=self.frames / elapsed if elapsed > 0 else 0.0, dropped=self._dropped())
