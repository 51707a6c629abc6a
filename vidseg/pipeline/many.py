"""Many sources, one process: every source's own pipeline, one copy of each model.

:func:`run_sources` builds each model once (the tracker; the semantic model and Mask R-CNN when
a source uses them), gives each its owner thread (:class:`~vidseg.engine.owner.ModelOwner`),
and runs one :func:`~vidseg.pipeline.job.run_job` per source in its own thread, on the shared
models as the source sees them (:mod:`vidseg.engine.owned`). Each source keeps its own decode,
prompt inputs (its Redis keys, its prompts), sinks, manifest and status.

Threads: ``vidseg-source-<id>`` per source (its run's stages below it), ``vidseg-owner-<model>``
per model, and the caller's, which only waits, relays stop and abort to every source, and logs
progress. One source failing (a damaged file, a feed that is gone for good) ends that source
with its status and reason; the others go on. ``stop`` (Ctrl-C) stops every source; ``abort``
(a second Ctrl-C) aborts every source, and each source's thread gets its run's deadline.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from vidseg.engine import ModelOwner
from vidseg.engine.owned import OwnedModel, OwnedProposer, OwnedSemanticModel
from vidseg.errors import ConfigError
from vidseg.pipeline.config import JobConfig
from vidseg.pipeline.job import run_job
from vidseg.pipeline.status import JobReport, JobStatus
from vidseg.prompts.proposers import Proposer
from vidseg.redact import redact_text
from vidseg.sources import is_live
from vidseg.sources.credentials import is_url_file

log = logging.getLogger(__name__)
_POLL = 0.1


@dataclass(frozen=True)
class SourceOutcome:
    """How one source's run ended.

    Attributes:
        source_id: the source's id.
        status: completed, interrupted, aborted or failed.
        report: its run's report (None when the run raised: it failed, see ``error``).
        error: why it failed (or what an abort left behind).
        live: whether it was a live feed.
    """

    source_id: str
    status: JobStatus
    report: JobReport | None
    error: str | None = None
    live: bool = False

    def line(self) -> str:
        """One summary line: ``cam: completed, 250 frames in 10.2 s (24.5 fps), 3 dropped``."""
        report = self.report
        text = f"{self.source_id}: {self.status.value}"
        if report is not None:
            fps = report.frames_processed / report.run_seconds if report.run_seconds > 0 else 0.0
            text += f", {report.frames_processed} frames in {report.run_seconds:.1f} s ({fps:.1f} fps)"
            text += f", {report.dropped} dropped" if report.dropped else ""
            text += f"; outputs in {report.out}" if report.out is not None else ""
        return text + (f"; {self.error}" if self.error else "")


@dataclass(frozen=True)
class ManyReport:
    """How a run of several sources ended: one :class:`SourceOutcome` per source, in order."""

    outcomes: tuple[SourceOutcome, ...]
    seconds: float

    @property
    def failed(self) -> tuple[SourceOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status is JobStatus.FAILED)

    @property
    def completed(self) -> bool:
        """Whether every source completed."""
        return all(o.status is JobStatus.COMPLETED for o in self.outcomes)


@dataclass(frozen=True)
class _Shared:
    """The models built once for every source, and their owners."""

    tracker: Any  # Sam2Model
    owners: dict[str, ModelOwner]
    semantic: Any = None  # SemanticModel | HfSemanticModel
    proposer: Proposer | None = None


def run_sources(
    sources: Mapping[str, JobConfig],
    stop: threading.Event | None = None,
    abort: threading.Event | None = None,
    running: threading.Event | None = None,
    progress_every: float = 10.0,
) -> ManyReport:
    """Run every source of ``sources`` (id -> its config, as
    :func:`~vidseg.pipeline.streams.stream_config` makes them) in one process on shared models.

    Args:
        sources: the sources by id; their tracker, semantic model and proposer settings must be
            the same (one copy of each model serves all of them).
        stop: set it to stop every source (frames in flight finish, outputs close).
        abort: set it to abort every source.
        running: set once the sources' threads run (from then on the run ends by ``stop`` and
            ``abort`` only).
        progress_every: seconds between progress lines (0: none).

    Returns:
        Each source's outcome; a source's failure is in its outcome, never raised.

    Raises:
        ConfigError: no source, or sources that ask for different models.
        VidsegError: a model cannot be built (nothing has started then).
    """
    if not sources:
        raise ConfigError("no source to run: give one or more SOURCE arguments, or --streams FILE")
    started = time.monotonic()
    stop, abort = stop or threading.Event(), abort or threading.Event()
    configs = list(sources.values())
    shared = _build(configs)
    runs = [_SourceRun(sid, config, shared) for sid, config in sources.items()]
    deadline = max(c.deadline for c in configs)
    try:
        for run in runs:
            run.start()
        if running is not None:
            running.set()
        _wait(runs, stop, abort, progress_every)
    except BaseException:  # this thread interrupted: abort every source, give each its deadline
        abort.set()
        for run in runs:
            run.stop.set()
            run.abort.set()
        until = time.monotonic() + deadline + 5.0
        for run in runs:
            if run.thread.is_alive():
                run.thread.join(max(0.0, until - time.monotonic()))
        raise
    finally:
        for name, owner in shared.owners.items():
            if not owner.close(deadline):
                log.error("the %s model's owner did not stop within %.0f s (a model step still running)", name, deadline)
    return ManyReport(tuple(run.outcome() for run in runs), time.monotonic() - started)


def _build(configs: list[JobConfig]) -> _Shared:
    """Each model once, and an owner thread for each."""
    from vidseg.models.tracking import build_model

    first = configs[0]
    for config in configs[1:]:
        if config.tracker != first.tracker:
            raise ConfigError("every source of a run shares one tracker: the sources ask for different tracker "
                              "settings (model, checkpoint, image size, device)")  # fmt: skip
    semantic_configs = {_semantic_key(c) for c in configs if c.semantic is not None}
    if len(semantic_configs) > 1:
        raise ConfigError("every source of a run shares one semantic model: the sources ask for different ones")
    tracker = build_model(**asdict(first.tracker), cache_dir=first.cache_dir, download=first.download)
    owners = {"tracker": ModelOwner("tracker").start()}
    semantic = None
    if semantic_configs:
        from vidseg.models.semantic import build_semantic_model

        sem = next(c.semantic for c in configs if c.semantic is not None)
        assert sem is not None
        semantic = build_semantic_model(sem.model, sem.checkpoint, random_weights=sem.random_weights,
                                        input_size=sem.input_size, cache_dir=first.cache_dir,
                                        download=first.download)  # fmt: skip
        owners["semantic"] = ModelOwner("semantic").start()
    proposer: Proposer | None = None
    users = [c for c in configs if c.proposer == "maskrcnn"]
    if users:
        from vidseg.prompts.maskrcnn import MaskRcnnProposer

        one = users[0]
        if any((c.proposer_checkpoint, c.proposer_random_weights, c.min_region_area) !=
               (one.proposer_checkpoint, one.proposer_random_weights, one.min_region_area) for c in users):  # fmt: skip
            raise ConfigError("every source of a run shares one Mask R-CNN: the sources ask for different settings")
        proposer = MaskRcnnProposer.build(one.proposer_checkpoint, random_weights=one.proposer_random_weights,
                                          min_area=one.min_region_area, cache_dir=one.cache_dir,
                                          download=one.download)  # fmt: skip
        owners["proposer"] = ModelOwner("proposer").start()
    return _Shared(tracker, owners, semantic, proposer)


def _semantic_key(config: JobConfig) -> tuple[object, ...]:
    sem = config.semantic
    assert sem is not None
    return sem.model, sem.checkpoint, sem.random_weights, sem.input_size


class _SourceRun:
    """One source's :func:`run_job` in its own thread, with its own stop and abort events (a
    failing source's pipeline sets its own, never the others')."""

    def __init__(self, source_id: str, config: JobConfig, shared: _Shared) -> None:
        self.source_id = source_id
        self.config = config
        self.live = is_live(config.source) or is_url_file(config.source)
        self.stop = threading.Event()
        self.abort = threading.Event()
        self.report: JobReport | None = None
        self.error: BaseException | None = None
        self.ended = threading.Event()  # its run returned or raised
        self._shared = shared
        self._clients = {name: owner.client(source_id, self.live) for name, owner in shared.owners.items()}
        self.thread = threading.Thread(target=self._run, name=f"vidseg-source-{source_id}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        shared, clients = self._shared, self._clients
        options: dict[str, Any] = {"model": OwnedModel.of(shared.tracker, clients["tracker"])}
        if shared.semantic is not None and self.config.semantic is not None:
            options["semantic_model"] = OwnedSemanticModel(shared.semantic, clients["semantic"])
        if shared.proposer is not None and self.config.proposer == "maskrcnn":
            options["proposer"] = OwnedProposer(shared.proposer, clients["proposer"])
        log.info("%s: starting (%s)", self.source_id, "live feed" if self.live else "file")
        try:
            self.report = run_job(self.config, stop=self.stop, abort=self.abort, show_progress=False, **options)
        except BaseException as exc:  # this source's failure: recorded, reported, never the others'
            self.error = exc
            log.debug("source %s failed", self.source_id, exc_info=exc)
        finally:
            for client in clients.values():
                client.close()
            self.ended.set()
        log.info("%s", self.outcome().line())

    @property
    def frames(self) -> int:
        return self._clients["tracker"].stats().steps

    def outcome(self) -> SourceOutcome:
        if not self.ended.is_set():
            status = JobStatus.ABORTED if self.abort.is_set() else JobStatus.RUNNING
            return SourceOutcome(self.source_id, status, None, "its thread did not stop within the deadline; left "
                                 "behind", self.live)  # fmt: skip
        if self.error is not None:
            return SourceOutcome(self.source_id, JobStatus.FAILED, None, redact_text(str(self.error)) or
                                 type(self.error).__name__, self.live)  # fmt: skip
        assert self.report is not None
        report = self.report
        return SourceOutcome(self.source_id, report.status, report, report.error, self.live)


def _wait(runs: list[_SourceRun], stop: threading.Event, abort: threading.Event, progress_every: float) -> None:
    """Wait for every source, relaying ``stop`` and ``abort``; after an abort each source gets
    its run's deadline (and a little for closing its outputs), then is left behind."""
    last = time.monotonic()
    aborted_at: float | None = None
    while any(run.thread.is_alive() for run in runs):
        try:
            time.sleep(_POLL)
        except KeyboardInterrupt:  # a signal that raised here (no handler installed): abort every source
            abort.set()
        now = time.monotonic()
        if stop.is_set() or abort.is_set():
            for run in runs:
                run.stop.set()
        if abort.is_set():
            for run in runs:
                run.abort.set()
            aborted_at = now if aborted_at is None else aborted_at
            if now - aborted_at > max(run.config.deadline for run in runs) + 5.0:
                left = [run.source_id for run in runs if run.thread.is_alive()]
                log.error("sources %s did not stop within their deadline after the abort; left behind", left)
                return
        if progress_every and now - last >= progress_every:
            last = now
            log.info("progress: %s", ", ".join(f"{run.source_id} {run.frames} frames" +
                                               ("" if run.thread.is_alive() else " (ended)") for run in runs))  # fmt: skip


__all__ = ["ManyReport", "SourceOutcome", "run_sources"]
