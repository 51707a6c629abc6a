"""The tracking job: a source, a tracking session, and any set of sinks, joined by stages.

decode (PyAV) -> track (the one thread that owns the model; prompts applied here) -> results
(overlaps, records, events) -> every sink at once (files: label video, overlay, JSON lines,
DAVIS PNGs; Redis: frames, events, status, prompts read back). See :func:`run_job`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace

from vidseg.errors import ConfigError, PipelineError, PromptError, SinkError, SourceError, VidsegError
from vidseg.models.allocator import keep_freed_memory
from vidseg.models.semantic import SEMANTIC_MODELS, build_semantic_model
from vidseg.models.semantic.build import synthetic_classes
from vidseg.models.tracking import Sam2Model, build_model
from vidseg.pipeline.config import LIVE_SEGMENT_SECONDS, JobConfig
from vidseg.pipeline.progress import Progress
from vidseg.pipeline.proposing import LatestProposals, Proposed, ProposeStage
from vidseg.pipeline.semantic import Labelled, Labeller, LatestMap, SemanticStage
from vidseg.pipeline.stages import BufferPolicy, Channel, Pipeline
from vidseg.pipeline.status import JobReport, JobStatus
from vidseg.pipeline.tracking import ResultStage, Tracked, TrackStage
from vidseg.prompts.class_tracker import ClassTracker
from vidseg.prompts.commands import Origin, PromptCommand
from vidseg.prompts.proposers import Proposer, RegionProposer
from vidseg.prompts.router import PromptRouter
from vidseg.redact import redact_url
from vidseg.results import FrameKey, FrameResult
from vidseg.sinks.base import RunContext, Sink, SinkPolicy, SinkReport
from vidseg.sinks.files.manifest import Manifest, mark_ended
from vidseg.sinks.files.sink import FileSink
from vidseg.sinks.redis.sink import RedisSink
from vidseg.sources import Source, SourceInfo, open_source
from vidseg.sources.base import default_source_id
from vidseg.types import Frame

log = logging.getLogger(__name__)

def run_job(
    config: JobConfig,
    stop: threading.Event | None = None,
    show_progress: bool = True,
    abort: threading.Event | None = None,
    model: Sam2Model | None = None,
    sinks: Sequence[Sink] | None = None,
    running: threading.Event | None = None,
    proposer: Proposer | None = None,
    semantic_model: Labeller | None = None,
) -> JobReport:
    """Track the prompted objects of ``config.source`` and hand every frame's result to the sinks.

    Args:
        config: what to read, how to track, where to write.
        stop: set it (e.g. on Ctrl-C) to stop reading; frames in flight finish, outputs close.
        show_progress: report frames, fps and ETA while running.
        abort: set it to stop at once (frames in flight are dropped); outputs still close, and
            the run ends within ``config.deadline`` seconds.
        model: weights already built (a session is made on them); default: built from
            ``config.tracker``.
        sinks: where results go; default: files in ``config.out`` and Redis per ``config.redis``.
        running: set when the stages start (and the outputs are open): from then on the run ends
            by ``stop`` and ``abort`` only, and a caller's signal handler must not raise.
        proposer: where objects tracked by class come from; default: built per
            ``config.proposer``. One that needs no semantic map runs in its own thread.
        semantic_model: the semantic model already built (e.g. shared by several sources,
            :mod:`vidseg.pipeline.many`), used when ``config.semantic`` is set; default: built
            from ``config.semantic``.

    Raises:
        VidsegError: bad source, prompts, checkpoint or outputs (before anything is written), or
            a failure while running (:class:`~vidseg.errors.PipelineError`, after the outputs
            are closed and the manifest is written).
    """
    started = time.time()
    stop, abort = stop or threading.Event(), abort or threading.Event()
    keep_freed_memory()  # the model runs in a worker thread: keep its memory for the next frame
    pipeline = Pipeline(stop, abort)
    with contextlib.ExitStack() as cleanup:
        source = open_source(config.source, every=config.every, start=config.start, end=config.end,
                             fps=config.image_fps, live=config.live, stop=stop)  # fmt: skip
        cleanup.callback(_close_source, source, pipeline)
        router = _router(config, source.info)
        _check_classes(config)  # before any model is loaded: a class the model lacks is answered at once
        weights = model or build_model(**asdict(config.tracker), cache_dir=config.cache_dir, download=config.download)
        outputs = _SinkSet(list(sinks) if sinks is not None else _sinks(config, router, pipeline, source.info.kind == "live"),
                           config.sink_policy)
        record = _RunRecord(config, started, source, weights, router, pipeline, outputs.sinks)
        progress = Progress(_expected_frames(source.info, config)) if show_progress else None
        labeller = _semantic_stage(config, semantic_model)
        record.semantic = labeller.model.info.to_json() if labeller is not None else None  # class id -> name
        by_class = _class_tracker(config, labeller, router, proposer)
        # A proposer that needs no map (Mask R-CNN) runs in its own thread (see _wire).
        in_line = by_class is None or by_class.proposer.classes is None
        track = record.track = TrackStage(weights.session(), router, config.max_latency, config.max_frames, config.duration, stop,
                           by_class, propose_in_line=in_line)  # fmt: skip
        results = record.results = ResultStage(lambda: pipeline.dropped + track.stale, config.visible_threshold,
                                               progress, on_frame=record.tick,
                                               source_state=lambda: getattr(source, "state", "running"),
                                               min_area=config.visible_min_area,
                                               event_frames=config.event_frames)  # fmt: skip
        _wire(pipeline, source, track, results, outputs, config, labeller)
        outputs.open(RunContext(source.info, _source_id(config), weights.info, router.id_limit, results.stats, abort),
                     cleanup)  # fmt: skip
        record.tick(force=True)  # a manifest from the start: a killed run still says how far it got
        run_started = time.perf_counter()
        if running is not None:
            running.set()
        until = time.monotonic() + config.duration if config.duration is not None else None
        error = _run(pipeline, config.deadline, config.stop_grace, until)
        run_seconds = time.perf_counter() - run_started
        # A limit reached is no interruption (unless its frames in flight had to be aborted).
        stopped = threading.Event() if track.limit_reached or pipeline.timed_out else stop
        status = _status(error, stopped, abort)
        if progress is not None:
            progress.finish("done" if status is JobStatus.COMPLETED else status.value)
        reports, close_error = outputs.close(status, error, pipeline.stuck)
        error = error or close_error
        if error is None and results.frames == 0 and not stop.is_set():
            error = SourceError(f"no frame was decoded from {source.info.uri} between --start {config.start} and "
                                f"--end {config.end} (the source lasts {source.info.duration} s); check the times, "
                                "or whether the file is damaged")  # fmt: skip
        note = None
        if pipeline.stuck and error is None:
            note = (f"aborted; {', '.join(pipeline.stuck)} did not stop within {config.deadline:.0f} s (a model "
                    "step still running) and was left behind")  # fmt: skip
        report = record.report(_status(error, stopped, abort), error, run_seconds, note)
        limited = track.limit_reached or pipeline.timed_out  # stopped early on purpose: no frame is missing
        try:
            record.write(report, reports, None if limited else _missing(report, source.info, config))
        except SinkError as exc:  # a full disk: the last good copy says how the run ended, where it can
            error = error or exc
            if config.out is not None and not mark_ended(config.out, JobStatus.FAILED.value, str(error)):
                log.error("%s/manifest.json could not be updated either: it still says the run is running", config.out)
        _log_end(report, router.waiting(), weights.info.random_weights)
    if error is not None:
        raise error
    return report


class _RunRecord:
    """What the run has done, as a :class:`JobReport` and as ``manifest.json`` (kept current
    while the run goes on, at most every ``MANIFEST_EVERY`` seconds, and written at the end)."""

    MANIFEST_EVERY = 2.0

    def __init__(self, config: JobConfig, started: float, source: Source, weights: Sam2Model, router: PromptRouter,
                 pipeline: Pipeline, sinks: list[Sink]) -> None:  # fmt: skip
        self.config, self.started, self.source, self.weights = config, started, source, weights
        self.router, self.pipeline, self.sinks = router, pipeline, sinks
        self.results: ResultStage | None = None
        self.track: TrackStage | None = None
        self.semantic: dict[str, object] | None = None  # the semantic model's info, when one runs
        self._last_tick = 0.0

    def report(self, status: JobStatus, error: BaseException | None, run_seconds: float,
               note: str | None = None) -> JobReport:  # fmt: skip
        processed = self.results.frames if self.results is not None else 0
        emitted = self.pipeline.timings["decode"].items if "decode" in self.pipeline.timings else processed
        stale = self.track.stale if self.track is not None else 0
        # Frames read but never processed that no policy dropped: in flight when the run was
        # aborted, or after its --max-frames/--duration limit.
        abandoned = max(0, emitted - processed - self.pipeline.dropped - stale) if status is not JobStatus.RUNNING else 0
        return JobReport(status, self.source.stats.decoded, processed, self.source.stats.corrupt_packets,
                         time.time() - self.started, run_seconds, self.config.out,
                         str(error) if error else note, self.pipeline.dropped, abandoned)  # fmt: skip

    def write(self, report: JobReport, reports: Sequence[SinkReport], missing: int | None = None) -> None:
        if self.config.out is None or not self.config.out.is_dir():
            return
        applied, left_out = self.router.applied_while_running()
        Manifest(report, self.started, self.source.info, self.source.stats, self.weights.info,
                 _commands(self.config), self.router.waiting(),
                 replace(self.config, prompts=(), source=redact_url(self.config.source)), reports,
                 self.pipeline.timings, self.pipeline.drops, missing, applied, left_out,
                 self.semantic).write(self.config.out)  # fmt: skip

    def tick(self, force: bool = False) -> None:
        """Write a ``running`` manifest when the last one is older than ``MANIFEST_EVERY`` s."""
        now = time.monotonic()
        if self.config.out is None or (not force and now - self._last_tick < self.MANIFEST_EVERY):
            return
        self._last_tick = now
        try:
            self.write(self.report(JobStatus.RUNNING, None, 0.0), [sink.report() for sink in self.sinks])
        except OSError as exc:  # the final manifest is what counts; a missed update is not a failure
            log.warning("could not update %s/manifest.json: %s", self.config.out, exc)


def _source_id(config: JobConfig) -> str:
    if config.redis is not None:
        return config.redis.source_id
    return default_source_id(config.source)


def _commands(config: JobConfig) -> list[PromptCommand]:
    return [PromptCommand.scheduled(p, Origin.FILE if p.from_file else Origin.COMMAND_LINE) for p in config.prompts]


def _router(config: JobConfig, info: SourceInfo) -> PromptRouter:
    """The run's prompt router, its command-line prompts checked against the source's frames."""
    if config.out is None and config.redis is None:
        raise ConfigError("nothing to write: give --out DIR, --redis URL, or both")
    remote = config.redis is not None and config.redis.accept_prompts
    if not config.prompts and not remote and not config.track_classes:
        raise PromptError("no prompts given: add at least one --point, --box, --mask, --prompts FILE or --track-class")
    top = 255 if config.davis is not None else 65535
    max_id = max((p.prompt.obj_id for p in config.prompts), default=1)
    if max_id > top:
        why = " (DAVIS PNGs hold 8-bit ids; drop --davis for more)" if config.davis is not None else ""
        raise PromptError(f"object id {max_id} is out of range: ids are 1..{top}{why}; 0 is the background")
    # The label video is 8-bit unless a command-line id needs 16 bits; later prompts must fit it.
    router = PromptRouter(top if max_id > 255 else min(top, 255), _commands(config), info.start_time, config.limits)
    router.check_before_run(info.height, info.width)
    return router


def _sinks(config: JobConfig, router: PromptRouter, pipeline: Pipeline, live: bool) -> list[Sink]:
    """Redis first: an unreachable server stops the run before any output file exists. A live
    run's Redis backlog drops its oldest entries (counted) instead of holding the run back."""
    sinks: list[Sink] = []
    if config.redis is not None:
        redis_config = replace(config.redis, lossless=False) if live else config.redis
        sinks.append(RedisSink(redis_config, router, on_failure=lambda exc: pipeline.fail("prompts", exc)))
    if config.out is not None:
        segment = config.segment_seconds if config.segment_seconds is not None else (LIVE_SEGMENT_SECONDS if live else None)
        sinks.append(FileSink(config.out, davis=config.davis, overlay=config.overlay, overwrite=config.overwrite,
                              overlay_classes=config.overlay_classes and config.semantic is not None,
                              segment_seconds=segment, keep_segments=config.keep_segments))  # fmt: skip
    return sinks


def _close_source(source: Source, pipeline: Pipeline) -> None:
    if "decode" in pipeline.stuck:  # never close a container under a live decoder
        log.error("the decoder did not stop within the deadline: the source is left open")
        return
    source.close()


class _SinkSet:
    """The run's sinks: opened in order (Redis first, so an unreachable server stops the run
    before any file exists), each written through a guard that applies the failure policy, and
    closed in reverse order, each even if another fails."""

    def __init__(self, sinks: list[Sink], policy: SinkPolicy) -> None:
        if not sinks:
            raise ConfigError("a run needs at least one sink (files, Redis)")
        self.sinks = sinks
        self.policy = policy
        self.failures: dict[str, BaseException] = {}  # sinks switched off (policy CONTINUE)
        self._opened: list[Sink] = []

    def open(self, context: RunContext, cleanup: contextlib.ExitStack) -> None:
        cleanup.callback(self._close_if_open)  # an exception before the run ends still closes them
        for sink in self.sinks:
            sink.open(context)
            self._opened.append(sink)

    def _close_if_open(self) -> None:
        if self._opened:
            self.close(JobStatus.FAILED, None, [])

    def writer(self, sink: Sink) -> Callable[[FrameResult], None]:
        """``sink.write``, where a failure fails the run or switches the sink off (reported)."""

        def write(result: FrameResult) -> None:
            if sink.name in self.failures:
                return
            try:
                sink.write(result)
            except Exception as exc:
                if self.policy is SinkPolicy.FAIL_RUN:
                    raise
                self.failures[sink.name] = exc
                log.error("sink %s failed and is switched off (the run goes on): %s", sink.name, exc)

        return write

    def close(self, status: JobStatus, error: BaseException | None, stuck: list[str]
              ) -> tuple[list[SinkReport], BaseException | None]:  # fmt: skip
        """Close every opened sink but one a stuck stage still uses; their reports, and the first
        error a sink reported (which fails the run, unless the policy switched that sink off)."""
        opened, self._opened = self._opened, []
        reports: dict[str, SinkReport] = {}
        first: BaseException | None = None
        interrupted: BaseException | None = None
        for sink in reversed(opened):  # files first: a wait on Redis never delays them
            if f"sink-{sink.name}" in stuck:
                log.error("sink %s is still busy after the deadline: left open", sink.name)
            else:
                try:
                    sink.close(status, str(error) if error is not None else None)
                except VidsegError as exc:
                    first = first or exc
                except BaseException as exc:  # e.g. Ctrl-C while closing: close the others first
                    interrupted = interrupted or exc
            report = sink.report()
            failure = self.failures.get(sink.name)
            if failure is not None:
                report = SinkReport(report.name, report.frames, f"switched off: {failure}", report.details)
            elif report.error is not None and error is None and first is None:
                first = PipelineError(f"sink-{sink.name}", VidsegError(report.error))
            reports[sink.name] = report
        if interrupted is not None:
            raise interrupted
        return [reports[s.name] for s in opened if s.name in reports], first


def _semantic_stage(config: JobConfig, model: Labeller | None = None) -> SemanticStage | None:
    """The semantic model's stage, when ``--semantic`` is given (on ``model``, else one built now)."""
    if config.semantic is None:
        return None
    sem = config.semantic
    if model is not None:
        return SemanticStage(model, sem.every)
    model = build_semantic_model(sem.model, sem.checkpoint, random_weights=sem.random_weights, input_size=sem.input_size,
                                 cache_dir=config.cache_dir, download=config.download)  # fmt: skip
    return SemanticStage(model, sem.every)


def _check_classes(config: JobConfig) -> None:
    """Raise :class:`ConfigError` for a ``--track-class`` that a known semantic model lacks."""
    if not config.track_classes or config.semantic is None or config.proposer != "regions":
        return
    spec = SEMANTIC_MODELS.get(config.semantic.model)
    if spec is None or config.semantic.checkpoint is not None:  # hf: models, or a checkpoint's own classes
        return
    trackable = [c for c in spec.classes or synthetic_classes() if c != "background"]  # as the model is built
    unknown = [c for c in config.track_classes if c not in trackable]
    if unknown:
        raise ConfigError(f"--track-class: {unknown[0]!r} is not a class of {spec.name}; its classes: {trackable}")


def _class_tracker(config: JobConfig, labeller: SemanticStage | None, router: PromptRouter,
                   proposer: Proposer | None = None) -> ClassTracker | None:  # fmt: skip
    """Tracking by class: instances of ``--track-class`` classes (and of those a ``{"track_class":
    NAME}`` prompt adds while running) become tracked objects, with ids after the prompted ones.
    Made when classes are given, or when a semantic model runs and Redis prompts are read."""
    remote = config.redis is not None and config.redis.accept_prompts
    needs_map = proposer.classes is None if proposer is not None else config.proposer == "regions"
    if config.track_classes and labeller is None and needs_map:
        raise ConfigError("--track-class needs a semantic model (its regions become objects): give --semantic NAME, "
                          "or --proposer maskrcnn")  # fmt: skip
    if not config.track_classes and not (remote and (labeller is not None or not needs_map)):
        return None
    proposer = proposer or _proposer(config)
    known = proposer.classes or (labeller.model.classes if labeller is not None else None)
    first = max((p.prompt.obj_id for p in config.prompts), default=0) + 1
    try:
        tracker = ClassTracker(config.track_classes, proposer, max_objects=config.max_objects, first_id=first,
                               id_limit=router.id_limit, known=known)  # fmt: skip
    except ConfigError as exc:
        source = "Mask R-CNN (COCO)" if proposer.classes else labeller.model.name if labeller else "the model"
        raise ConfigError(f"{exc} ({source})") from None
    router.track_class = tracker.add_class
    return tracker


def _wire(pipeline: Pipeline, source: Source, track: TrackStage, results: ResultStage, sinks: _SinkSet,
          config: JobConfig, labeller: SemanticStage | None = None) -> None:  # fmt: skip
    live = source.info.kind == "live"  # newest wins: the model always gets the freshest frame
    frames = pipeline.channel("frames", 1 if live else config.queue_size, BufferPolicy.DROP_OLDEST if live else BufferPolicy.WAIT)
    tracked = pipeline.channel("tracked", config.queue_size, BufferPolicy.WAIT)
    outs = [pipeline.channel(f"to-{sink.name}", config.queue_size, BufferPolicy.WAIT) for sink in sinks.sinks]
    if track.class_tracker is not None and not track.propose_in_line:
        _wire_proposer(pipeline, source, track, frames, tracked, config, labeller, live)
        pipeline.stage("results", results, tracked, outs, background=True)
    elif labeller is None:
        pipeline.source("decode", source, [frames], background=True)
        pipeline.stage("track", track, frames, [tracked])
        pipeline.stage("results", results, tracked, outs, background=True)
    elif live:  # nothing waits for the semantic model: each frame takes its newest map
        to_semantic = pipeline.channel("to-semantic", 1, BufferPolicy.DROP_OLDEST, counted=False)
        latest = LatestMap()
        pipeline.source("decode", source, [frames, to_semantic], background=True)
        pipeline.stage("semantic", lambda frame: latest.put(labeller(frame)), to_semantic)
        pipeline.stage("track", lambda frame: track(frame, latest.for_frame(frame)), frames, [tracked])
        pipeline.stage("results", results, tracked, outs, background=True)
    elif config.semantic is not None and not config.semantic.concurrent:  # one thread: label, then track
        pipeline.source("decode", source, [frames], background=True)
        pipeline.stage("track", lambda frame: track(frame, labeller(frame)), frames, [tracked])
        pipeline.stage("results", results, tracked, outs, background=True)
    else:  # the semantic model in its own thread, joined with the tracker by frame key
        to_semantic = pipeline.channel("to-semantic", config.queue_size, BufferPolicy.WAIT)
        labelled = pipeline.channel("labelled", config.queue_size, BufferPolicy.WAIT)
        pipeline.source("decode", source, [frames, to_semantic], background=True)
        pipeline.stage("semantic", labeller, to_semantic, [labelled])
        if track.class_tracker is None:  # at the results: the tracker never waits for a map
            pipeline.stage("track", track, frames, [tracked])
            pipeline.join("results", results, [tracked, labelled], key=_frame_key, outs=outs, background=True)
        else:  # tracking by class needs each frame's map before the frame is tracked (the model labels ahead)
            pipeline.join("track", track, [frames, labelled], key=_frame_key, outs=[tracked])
            pipeline.stage("results", results, tracked, outs, background=True)
    for sink, inbox in zip(sinks.sinks, outs, strict=True):
        pipeline.stage(f"sink-{sink.name}", sinks.writer(sink), inbox, background=True)


def _wire_proposer(pipeline: Pipeline, source: Source, track: TrackStage, frames: Channel, tracked: Channel,
                   config: JobConfig, labeller: SemanticStage | None, live: bool) -> None:  # fmt: skip
    """Tracking by class with a proposer in its own thread (:mod:`vidseg.pipeline.proposing`), the
    semantic model (if any) in another: on a file each frame waits for its own proposals (and
    map); on a live feed each frame takes the newest of both."""
    assert track.class_tracker is not None
    tracker = track.class_tracker
    proposing = ProposeStage(tracker.proposer, lambda: tracker.classes)
    if live:
        to_propose = pipeline.channel("to-propose", 1, BufferPolicy.DROP_OLDEST, counted=False)
        newest = LatestProposals()
        branches = [frames, to_propose]
        latest = LatestMap()
        if labeller is not None:
            to_semantic = pipeline.channel("to-semantic", 1, BufferPolicy.DROP_OLDEST, counted=False)
            branches.append(to_semantic)
            pipeline.stage("semantic", lambda frame: latest.put(labeller(frame)), to_semantic)
        pipeline.source("decode", source, branches, background=True)
        pipeline.stage("propose", lambda frame: newest.put(proposing(frame)), to_propose)
        pipeline.stage("track", lambda frame: track(frame, latest.for_frame(frame), newest.newest()), frames, [tracked])
        return
    to_propose = pipeline.channel("to-propose", config.queue_size, BufferPolicy.WAIT)
    proposed = pipeline.channel("proposed", config.queue_size, BufferPolicy.WAIT)
    if labeller is None:
        pipeline.source("decode", source, [frames, to_propose], background=True)
        pipeline.stage("propose", proposing, to_propose, [proposed])
        pipeline.join("track", lambda frame, found: track(frame, None, found), [frames, proposed], key=_frame_key,
                      outs=[tracked])  # fmt: skip
        return
    to_semantic = pipeline.channel("to-semantic", config.queue_size, BufferPolicy.WAIT)
    labelled = pipeline.channel("labelled", config.queue_size, BufferPolicy.WAIT)
    pipeline.source("decode", source, [frames, to_propose, to_semantic], background=True)
    pipeline.stage("propose", proposing, to_propose, [proposed])
    pipeline.stage("semantic", labeller, to_semantic, [labelled])
    pipeline.join("track", track, [frames, labelled, proposed], key=_frame_key, outs=[tracked])


def _frame_key(item: Frame | Labelled | Proposed | Tracked) -> FrameKey:
    return FrameKey.of(item) if isinstance(item, Frame) else item.key


def _proposer(config: JobConfig) -> Proposer:
    """Where objects tracked by class come from (``--proposer``)."""
    if config.proposer == "maskrcnn":
        from vidseg.prompts.maskrcnn import MaskRcnnProposer

        return MaskRcnnProposer.build(config.proposer_checkpoint, random_weights=config.proposer_random_weights,
                                      min_area=config.min_region_area,
                                      cache_dir=config.cache_dir, download=config.download)  # fmt: skip
    return RegionProposer(config.min_region_area)


def _run(pipeline: Pipeline, deadline: float, grace: float, until: float | None) -> BaseException | None:
    try:
        pipeline.run(deadline, grace, until)
    except KeyboardInterrupt as exc:  # in this thread: what is in flight is dropped, as on abort
        pipeline.abort_event.set()
        return exc
    except BaseException as exc:  # a stage failure
        return exc
    return None


def _status(error: BaseException | None, stop: threading.Event, abort: threading.Event) -> JobStatus:
    if isinstance(error, KeyboardInterrupt):
        return JobStatus.ABORTED
    if error is not None:
        return JobStatus.FAILED
    if abort.is_set():
        return JobStatus.ABORTED
    return JobStatus.INTERRUPTED if stop.is_set() else JobStatus.COMPLETED


def _expected_frames(info: SourceInfo, config: JobConfig) -> int | None:
    """Frames the job will process, from the container's figures (None when unknown)."""
    if info.frames is None:
        return None
    frames = info.frames
    if info.fps and (config.start or config.end is not None):
        first = round((config.start or 0.0) * info.fps)
        last = min(frames, round(config.end * info.fps) + 1) if config.end is not None else frames
        frames = max(0, last - first)
    return -(-frames // config.every)


def _missing(report: JobReport, info: SourceInfo, config: JobConfig) -> int | None:
    """Frames the container declares but the decoder never produced (whole-file runs only)."""
    if report.status is not JobStatus.COMPLETED or not info.frames or config.end is not None or config.start:
        return None
    if not info.frames_declared:  # an estimate (duration x rate) is no count to miss frames from
        return None
    missing = max(0, info.frames - report.frames_read)
    if missing:
        log.warning("%s: decoded %d of the %d frames the container declares; the file is damaged or cut short",
                    info.uri, report.frames_read, info.frames)  # fmt: skip
    return missing


def _log_end(report: JobReport, unapplied: list[PromptCommand], random_weights: bool) -> None:
    if unapplied:
        log.warning("%d prompt(s) were never applied (the run ended before they were due): %s",
                    len(unapplied), [p.to_json() for p in unapplied])  # fmt: skip
    if random_weights:
        log.warning("the model ran with random weights: its masks are meaningless (manifest.json says so)")
    if report.corrupt_packets:
        log.warning("%d corrupt packet(s) were skipped; see manifest.json", report.corrupt_packets)


__all__ = ["JobConfig", "JobReport", "JobStatus", "run_job"]
