"""How a run ended, and what it did: the records the pipeline fills in and the sinks, the
manifest and the CLI read (:class:`JobStatus`, :class:`RunStats`, :class:`JobReport`,
:class:`StageTiming`). They sit below the pipeline, so a sink never imports the pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path


class JobStatus(str, Enum):
    """The end state of a run."""

    RUNNING = "running"  # still going (a manifest written while the run goes on says so)
    COMPLETED = "completed"  # the source ended and every output was written
    INTERRUPTED = "interrupted"  # stopped (Ctrl-C, SIGTERM, the caller): the frames in flight finished
    ABORTED = "aborted"  # aborted (a second Ctrl-C): the frames in flight were dropped
    FAILED = "failed"  # a stage, a sink or the prompt reader failed (the error says which)

    def __str__(self) -> str:  # "completed", also in f-strings
        return self.value

    @property
    def exit_code(self) -> int:
        """The command line's exit status: 0, 130 for a stop or abort, 1 for a failure."""
        return {JobStatus.COMPLETED: 0, JobStatus.FAILED: 1}.get(self, 130)


@dataclass(frozen=True)
class RunStats:
    """Counts of a run so far (read by status heartbeats and progress)."""

    frames: int  # frames processed (results handed to the sinks)
    fps: float  # processing rate since the first frame
    dropped: int  # frames dropped by buffer policies and by the source
    source_state: str = "running"  # a live source's state: running, reconnecting, stopped, failed


@dataclass
class StageTiming:
    """Seconds a stage spent working (not waiting), and items it handled (the stage's thread
    updates it; the manifest reads it)."""

    busy: float = 0.0
    items: int = 0
    working: bool = False  # inside its function now (not waiting for an item)


@dataclass(frozen=True)
class JobReport:
    """How a run ended, and what it wrote.

    Attributes:
        status: how it ended.
        frames_read: frames the source decoded.
        frames_processed: frames the tracker processed and the sinks received.
        corrupt_packets: packets the decoder rejected (unreadable images, for an image folder).
        dropped: frames dropped by buffer policies (live sources) in all.
        seconds: the whole job, model loading included.
        run_seconds: from the first frame read to the last result written.
        out: the output folder (None for a run that writes no files).
        error: why it failed, when it did (or what an abort left behind).
        abandoned: frames read but never processed that no policy dropped: in flight when the
            run was aborted or reached its ``--max-frames``/``--duration`` limit.
    """

    status: JobStatus
    frames_read: int
    frames_processed: int
    corrupt_packets: int
    seconds: float
    run_seconds: float
    out: Path | None
    error: str | None = None
    dropped: int = 0
    abandoned: int = 0
