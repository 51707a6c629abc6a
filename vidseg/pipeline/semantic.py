"""The semantic stage: a per-frame label map beside the tracker, in its own thread.

It runs the semantic model on every ``every``-th frame and hands on the last map, marked
``reused``, in between, so it puts one item per frame it takes and the results stage can join
it with the tracker's result by frame key.

On a live feed nothing waits for it: it takes the newest frame (its inbox drops the oldest),
keeps its newest map in a :class:`LatestMap`, and each tracked frame takes that map, marked
``reused`` when it was computed on another frame.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Protocol

from vidseg.models.semantic.info import SemanticModelInfo
from vidseg.pipeline.config import SemanticConfig as SemanticConfig  # its home before; still imported from here
from vidseg.results import FrameKey, SemanticMap
from vidseg.types import Frame, ImageArray


class Labeller(Protocol):
    """What the stage runs: a semantic model (:class:`~vidseg.models.semantic.SemanticModel`, a
    ``hf:`` one, or one whose calls an owner thread runs for several sources,
    :class:`~vidseg.engine.owned.OwnedSemanticModel`)."""

    @property
    def name(self) -> str: ...

    @property
    def classes(self) -> tuple[str, ...]: ...

    @property
    def info(self) -> SemanticModelInfo: ...

    def label(self, image: ImageArray) -> SemanticMap: ...


@dataclass(frozen=True)
class Labelled:
    """What crosses semantic -> results: the frame's key and its map (``made_on``: the frame the
    map was computed on, when it is another's: a reused map)."""

    key: FrameKey
    semantic: SemanticMap = field(repr=False)
    made_on: FrameKey | None = None

    @property
    def origin(self) -> FrameKey:
        """The frame the map was computed on."""
        return self.made_on if self.made_on is not None else self.key


class SemanticStage:
    """Labels frames (see the module docstring); only its own thread uses the model."""

    def __init__(self, model: Labeller, every: int = 1) -> None:
        self.model = model
        self.every = every
        self._last: SemanticMap | None = None
        self._last_key: FrameKey | None = None
        self._seen = 0
        self.computed = 0

    def __call__(self, frame: Frame) -> Labelled:
        fresh = self._seen % self.every == 0 or self._last is None or self._last.labels.shape != frame.image.shape[:2]
        self._seen += 1
        if fresh:
            self._last = self.model.label(frame.image)
            self._last_key = FrameKey.of(frame)
            self.computed += 1
            return Labelled(self._last_key, self._last)
        assert self._last is not None
        return Labelled(FrameKey.of(frame), replace(self._last, reused=True), self._last_key)


class LatestMap:
    """The newest map the semantic stage made, for frames that do not wait for their own (live feeds)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._labelled: Labelled | None = None

    def put(self, labelled: Labelled) -> None:
        """Keep ``labelled`` as the newest (the semantic stage's output; returns nothing to pass on)."""
        with self._lock:
            self._labelled = labelled

    def for_frame(self, frame: Frame) -> Labelled | None:
        """The newest map for ``frame``: marked ``reused`` unless it was computed on that frame;
        None before the first map."""
        with self._lock:
            current = self._labelled
        if current is None:
            return None
        key = FrameKey.of(frame)
        if current.key == key:
            return current
        if current.semantic.labels.shape != frame.image.shape[:2]:  # the feed changed size: wait for a new map
            return None
        return Labelled(key, replace(current.semantic, reused=True), current.origin)
