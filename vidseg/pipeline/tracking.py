"""The two stages between a source and the sinks: tracking (the model thread) and results.

- :class:`TrackStage` runs on the one thread that owns the model: it applies the prompts due on
  the frame (through the :class:`~vidseg.prompts.router.PromptRouter`) and steps the session.
- :class:`ResultStage` runs beside it at a lower priority: it resolves overlaps, builds the
  frame's record and object events, and counts drops, giving the
  :class:`~vidseg.results.FrameResult` every sink receives.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from vidseg.masks import exclusive_masks
from vidseg.models.tracking import Sam2Tracker
from vidseg.pipeline.object_events import ObjectEvents
from vidseg.pipeline.progress import Progress
from vidseg.pipeline.proposing import Proposed
from vidseg.pipeline.semantic import Labelled
from vidseg.pipeline.status import RunStats
from vidseg.prompts.class_tracker import ClassTracker
from vidseg.prompts.router import PromptRouter
from vidseg.results import Event, EventKind, FrameKey, FrameResult
from vidseg.types import Frame, TrackingResult


@dataclass(frozen=True)
class Tracked:
    """What crosses track -> results: the frame, the tracker's result, the prompt events, and
    (when tracking by class) the frame's semantic map and the ids tracking by class created."""

    frame: Frame
    tracking: TrackingResult = field(repr=False)
    events: tuple[Event, ...] = ()
    labelled: Labelled | None = field(default=None, repr=False)
    by_class: Mapping[int, str] = field(default_factory=dict)

    @property
    def key(self) -> FrameKey:
        return FrameKey.of(self.frame)


class TrackStage:
    """Prompts, then a tracking step, for each frame (model thread only).

    Args:
        session: the stream's tracking session.
        router: the run's prompt router.
        max_latency: a frame captured longer ago than this (seconds) is dropped instead of
            tracked, and counted in :attr:`stale` (live feeds). Its age is
            :func:`vidseg.sources.live.frame_age`: by the sender's clock where the stream gives it
            (corrected for the offset between the clocks), so a burst delivered late after a
            freeze counts as old although freshly decoded; else since it was decoded.
        max_frames: track this many frames, then set ``stop`` (later frames are not tracked).
        duration: run this many seconds, then set ``stop``.
        stop: the run's stop event.
        class_tracker: tracking by class: the stage then takes each frame with its semantic map
            (a join), and the regions no tracked object covers become objects on that very frame,
            before the tracker steps it (so their first masks are the frame's own).
        propose_in_line: the class tracker's proposer runs in this thread (False: a
            :class:`~vidseg.pipeline.proposing.ProposeStage` runs it in its own, and each frame
            comes with the newest :class:`~vidseg.pipeline.proposing.Proposed`).
    """

    def __init__(
        self, session: Sam2Tracker, router: PromptRouter, max_latency: float | None = None,
        max_frames: int | None = None, duration: float | None = None, stop: threading.Event | None = None,
        class_tracker: ClassTracker | None = None, propose_in_line: bool = True,
    ) -> None:  # fmt: skip
        self.session = session
        self.router = router
        self.class_tracker = class_tracker
        self.propose_in_line = propose_in_line
        self._by_class: dict[int, str] = {}
        self._proposed_on: object = None  # the labels array proposals were last made on
        self._proposals_taken: Proposed | None = None  # the proposal stage's output last decided
        self._max_latency = max_latency
        self._max_frames = max_frames
        self._duration = duration
        self._stop = stop or threading.Event()
        self._started: float | None = None
        self.tracked = 0
        self.stale = 0  # frames dropped for being older than max_latency
        self.limit_reached = False  # the run stopped at --max-frames or --duration

    def __call__(self, frame: Frame, labelled: Labelled | None = None, proposed: Proposed | None = None
                 ) -> Tracked | None:  # fmt: skip
        now = time.monotonic()
        self._started = now if self._started is None else self._started
        if (self._max_frames is not None and self.tracked >= self._max_frames) or (
            self._duration is not None and now - self._started >= self._duration
        ):
            self.limit_reached = True
            self._stop.set()  # the run's limit: the source stops, what is in flight is not tracked
            return None
        if self._max_latency is not None:
            from vidseg.sources.live import frame_age  # the source knows its clocks

            age = frame_age(frame, time.time())
            if age is not None and age > self._max_latency:
                self.stale += 1
                return None
        events = self.router.apply_due(self.session, frame)
        if self.class_tracker is not None:
            events += self._by_class_step(frame, labelled, proposed)
        result = self.session.step(frame)
        if self.class_tracker is not None:
            masks = {int(i): result.masks[k] for k, i in enumerate(result.object_ids.tolist())}
            shown = dict(zip(masks, result.visible().tolist(), strict=True))
            self.class_tracker.observe(frame.index, frame.time, masks, shown)
        tracked = Tracked(frame, result, tuple(events), labelled, self._by_class)
        self.tracked += 1
        return tracked


    def _by_class_step(self, frame: Frame, labelled: Labelled | None, proposed: Proposed | None) -> list[Event]:
        """Tracking by class before ``frame`` is stepped: duplicates, withdrawn and expired
        objects removed; with fresh candidates (a map not proposed on yet, or proposals the
        proposal stage made since) those no tracked object covers become objects, and those where
        a lost object was are given back to it."""
        tracker = self.class_tracker
        assert tracker is not None
        room = self.router.room(self.session)
        if not self.propose_in_line:  # the proposal stage's newest, each decided once, never across a reconnect
            fresh = proposed is not None and proposed is not self._proposals_taken
            if fresh and proposed is not None:
                self._proposals_taken = proposed
            usable = fresh and proposed is not None and proposed.key.epoch == frame.epoch
            step = tracker.step(None, None, frame.index, room, proposed.key.index if usable and proposed else None,
                                proposals=proposed.proposals if usable and proposed else None,
                                time=frame.time)  # fmt: skip
        else:
            # Propose on each map once: a map reused for later frames (--semantic-every, or a live
            # feed's newest map) shares its labels array.
            semantic = labelled.semantic if labelled is not None else None
            fresh = semantic is None or semantic.labels is not self._proposed_on
            if fresh:
                self._proposed_on = semantic.labels if semantic is not None else None
            # The frame the map was made on: a live feed's newest map may be some frames old.
            same_epoch = labelled is not None and labelled.origin.epoch == frame.epoch
            map_frame = labelled.origin.index if same_epoch and labelled is not None else None
            wanted = fresh and (semantic is not None or tracker.proposer.classes is not None)
            wanted = wanted and (labelled is None or same_epoch)  # never a map from before a reconnect
            step = tracker.step(frame.image, semantic if wanted else None, frame.index, room, map_frame,
                                time=frame.time) if wanted \
                else tracker.step(None, None, frame.index)  # fmt: skip
        events: list[Event] = []
        for obj_id, event in step.removals:
            if obj_id in self.session.object_ids:
                self.session.remove_object(obj_id)
                events.append(replace(event, time=frame.time))
        for command in step.commands:
            event = self.router.apply(self.session, frame, command)
            events.append(event)
            if event.kind is EventKind.PROMPT_APPLIED and command.obj_id in tracker.created:
                self._by_class = {**self._by_class, command.obj_id: tracker.created[command.obj_id]}
        return events


class ResultStage:
    """Builds each frame's :class:`FrameResult` and keeps the run's counts.

    Args:
        dropped: frames dropped so far in all (buffer policies and the source), read per frame.
        threshold: presence score above which an object counts as visible.
        min_area: pixels an object's mask must hold to count as visible.
        event_frames: frames in a row a change of visibility must hold to be an event.
        progress: where progress is reported, if anywhere.
        on_frame: called after each frame (e.g. to keep the manifest current).
    """

    def __init__(
        self, dropped: Callable[[], int], threshold: float = 0.5, progress: Progress | None = None,
        on_frame: Callable[[], None] | None = None, source_state: Callable[[], str] | None = None,
        min_area: int = 16, event_frames: int = 3,
    ) -> None:  # fmt: skip
        self._dropped = dropped
        self._on_frame = on_frame
        self._source_state = source_state or (lambda: "running")
        self._epoch: int | None = None
        self._threshold = threshold
        self._progress = progress
        self._min_area = min_area
        self._objects = ObjectEvents(event_frames)
        self._dropped_before = 0
        self._started: float | None = None
        self.frames = 0

    def __call__(self, item: Tracked, labelled: Labelled | None = None) -> FrameResult:
        if self._started is None:
            self._started = time.perf_counter()
        tracking = item.tracking
        # Every output shows the same masks: overlaps go to the object with the higher logit.
        masks = exclusive_masks(tracking.masks, tracking.logits)
        dropped = self._dropped()
        labelled = labelled if labelled is not None else item.labelled
        semantic = labelled.semantic if labelled is not None else None
        result = FrameResult.build(item.frame, tracking, masks, item.events, dropped - self._dropped_before,
                                   self._threshold, semantic, item.by_class, self._min_area)  # fmt: skip
        self._dropped_before = dropped
        returning = [e.obj_id for e in item.events if e.kind is EventKind.PROMPT_APPLIED and e.obj_id is not None
                     and (e.request_id or "").endswith(":returned")]  # fmt: skip
        object_events = self._objects.update(result.record, returning)
        if self._epoch is not None and item.frame.epoch != self._epoch:
            object_events.insert(0, Event(EventKind.SOURCE_RECONNECTED, item.frame.index, item.frame.time, None,
                                          f"the source reconnected: epoch {item.frame.epoch}"))  # fmt: skip
        self._epoch = item.frame.epoch
        if object_events:
            result = replace(result, events=(*result.events, *object_events))
        self.frames += 1
        if self._progress is not None:
            self._progress.update()
        if self._on_frame is not None:
            self._on_frame()
        return result

    def stats(self) -> RunStats:
        elapsed = time.perf_counter() - self._started if self._started is not None else 0.0
        return RunStats(frames=self.frames, fps=self.frames / elapsed if elapsed > 0 else 0.0, dropped=self._dropped(),
                        source_state=self._source_state())  # fmt: skip
