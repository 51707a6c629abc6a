"""What every sink is: it opens once, receives every :class:`~vidseg.results.FrameResult`, and
closes whatever happened. A run has any non-empty set of sinks; each gets the same results
(fan-out), and one's failure is recorded and ends the run by its :class:`SinkPolicy`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from vidseg.results import FrameResult
from vidseg.run_status import JobStatus, RunStats
from vidseg.sources.base import SourceInfo
from vidseg.types import ModelInfo


class SinkPolicy(str, Enum):
    """What a sink's failure does to the run."""

    FAIL_RUN = "fail"  # the run stops and fails with the sink's reason (the default)
    CONTINUE = "continue"  # the sink is switched off and reported; the other sinks go on


@dataclass(frozen=True)
class RunContext:
    """What a sink learns when the run starts.

    Attributes:
        source: what the source holds.
        source_id: the stream's name.
        model: the tracker's identity.
        id_limit: the largest object id the outputs must hold.
        stats: the run's counts so far (frames, fps, drops), for status entries.
        abort: set when the run is aborted: a sink's waits must return at once.
    """

    source: SourceInfo
    source_id: str
    model: ModelInfo
    id_limit: int
    stats: Callable[[], RunStats] = field(repr=False)
    abort: threading.Event = field(repr=False, default_factory=threading.Event)

    @property
    def fps(self) -> float:
        """The source's frame rate, or 25 when it does not say (nominal rate of the videos)."""
        return self.source.fps or 25.0


@dataclass(frozen=True)
class SinkReport:
    """What a sink did, for the manifest."""

    name: str
    frames: int
    error: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


class Sink(Protocol):
    """A destination of frame results."""

    name: str

    def open(self, context: RunContext) -> None:
        """Prepare (connect, create folders); raise a :class:`~vidseg.errors.VidsegError` when it cannot."""

    def write(self, result: FrameResult) -> None:
        """Take one frame's result (in order); waits must observe ``context.abort``."""

    def close(self, status: JobStatus, error: str | None = None) -> None:
        """Finish (flush, close files, send what is left); called once, whatever happened."""

    def report(self) -> SinkReport:
        """What it did (after :meth:`close`)."""
