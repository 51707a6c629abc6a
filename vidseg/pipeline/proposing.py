"""The proposal stage: an instance proposer (Mask R-CNN) in its own thread, beside the tracker.

A proposer that needs no semantic map (``--proposer maskrcnn``) costs seconds per frame on a CPU;
run in line it would hold every tracking step back by that much. Here it runs on its own thread:

- on a file, it proposes on every frame ahead of the tracker, and the tracker joins each frame
  with its own proposals by frame key (the same objects as in line; the two models overlap);
- on a live feed, nothing waits for it: it takes the newest frame (its inbox drops the oldest),
  keeps its newest proposals in a :class:`LatestProposals`, and each tracked frame takes them
  when they are new. Proposals made on an older frame are checked against where the tracked
  objects are now and were on that frame (see :class:`~vidseg.prompts.class_tracker.ClassTracker`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from vidseg.prompts.proposers import Proposal, Proposer
from vidseg.results import FrameKey
from vidseg.types import Frame


@dataclass(frozen=True)
class Proposed:
    """What crosses propose -> track: the frame's key and the candidates found on it."""

    key: FrameKey
    proposals: tuple[Proposal, ...] = field(repr=False)


class ProposeStage:
    """Proposes the wanted classes' instances on each frame it takes (its own thread only).

    Args:
        proposer: where candidates come from (used by this stage's thread alone).
        classes: the classes wanted now (they may grow while running: a ``track_class`` prompt).
    """

    def __init__(self, proposer: Proposer, classes: Callable[[], Sequence[str]]) -> None:
        self.proposer = proposer
        self._classes = classes
        self.computed = 0

    def __call__(self, frame: Frame) -> Proposed:
        wanted = tuple(self._classes())
        found = self.proposer.propose(frame.image, None, wanted) if wanted else []
        self.computed += 1
        return Proposed(FrameKey.of(frame), tuple(found))


class LatestProposals:
    """The newest proposals the stage made, for frames that do not wait for their own (live feeds)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proposed: Proposed | None = None

    def put(self, proposed: Proposed) -> None:
        """Keep ``proposed`` as the newest (the stage's output; returns nothing to pass on)."""
        with self._lock:
            self._proposed = proposed

    def newest(self) -> Proposed | None:
        """The newest proposals (the same object until newer ones come); None before the first."""
        with self._lock:
            return self._proposed
