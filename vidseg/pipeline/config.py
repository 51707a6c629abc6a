"""What a tracking job is asked to do: :class:`JobConfig` (and :class:`SemanticConfig`, its
semantic model's part), typed and checked when made.

This module imports no model code, so the command line checks its arguments (and answers a bad
one) before torch is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vidseg.config import TrackerConfig
from vidseg.errors import ConfigError
from vidseg.prompts.router import PromptLimits
from vidseg.prompts.spec import ScheduledPrompt
from vidseg.sinks.base import SinkPolicy
from vidseg.sinks.redis.schema import RedisConfig
from vidseg.sources import LiveOptions
from vidseg.sources.base import FrameSelector

LIVE_SEGMENT_SECONDS = 300.0  # a live run's file outputs are cut every 5 minutes unless told otherwise


@dataclass(frozen=True)
class SemanticConfig:
    """``--semantic NAME`` and its options.

    Attributes:
        model: a semantic model name (see ``vidseg models``).
        checkpoint: its weights file (default: the cache, else a download).
        random_weights: run with seeded random weights (meaningless maps).
        input_size: the model's input size (default: the model's own).
        every: label every ``every``-th frame; the frames between reuse the last map.
        concurrent: run the model in its own thread beside the tracker (default); False runs it
            on the tracker's thread, one after the other (``bench/semantic_concurrency.py``
            compares the two).
    """

    model: str
    checkpoint: str | None = None
    random_weights: bool = False
    input_size: int | None = None
    every: int = 1
    concurrent: bool = True

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ConfigError(f"--semantic-every must be >= 1; found {self.every}")


@dataclass(frozen=True)
class JobConfig:
    """Everything ``vidseg run`` needs (see ``vidseg run --help``). A run writes files (``out``),
    publishes to Redis (``redis``), or both."""

    source: str
    out: Path | None = None
    prompts: tuple[ScheduledPrompt, ...] = ()
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    every: int = 1
    start: float | None = None
    end: float | None = None
    image_fps: float = 24.0
    davis: Path | None = None
    overlay: bool = True
    overlay_classes: bool = False  # a colour per semantic class (with a legend) under the objects in overlay.mp4
    visible_threshold: float = 0.5
    visible_min_area: int = 16  # pixels a mask must hold for its object to count as visible
    event_frames: int = 3  # frames in a row a change of visibility must hold to be an object_lost/_reappeared event
    queue_size: int = 4
    cache_dir: Path | None = None
    download: bool = True
    redis: RedisConfig | None = field(default=None, repr=False)  # its URL may hold credentials
    sink_policy: SinkPolicy = SinkPolicy.FAIL_RUN
    overwrite: bool = False  # replace an earlier run's outputs in `out` (else the run refuses to start)
    live: LiveOptions = field(default_factory=LiveOptions)  # how a live feed connects and reconnects
    max_latency: float | None = None  # a live frame older than this (s since capture) is dropped, not tracked
    max_frames: int | None = None  # stop after this many frames (live runs: otherwise forever)
    duration: float | None = None  # stop after this many seconds of running
    semantic: SemanticConfig | None = None  # a per-frame semantic model beside the tracker
    track_classes: tuple[str, ...] = ()  # regions of these semantic classes become tracked objects
    max_objects: int | None = None  # at most this many objects created by class
    min_region_area: int = 64  # smaller regions of a tracked class are left out
    proposer: str = "regions"  # where objects tracked by class come from: "regions" (of the map) or "maskrcnn"
    proposer_checkpoint: str | None = None  # Mask R-CNN's COCO weights (default: the cache, else a download)
    proposer_random_weights: bool = False  # Mask R-CNN with seeded random weights (meaningless instances)
    segment_seconds: float | None = None  # cut file outputs into segments (default: 300 s for live feeds, none for files)
    keep_segments: int | None = None  # keep at most this many closed segments (default: all)
    limits: PromptLimits = field(default_factory=PromptLimits)  # clicks per prompt, objects per run
    stop_grace: float = 30.0  # seconds the frames in flight get to finish once the run is stopped; then it aborts
    deadline: float = 10.0  # seconds every thread gets to stop once the run is aborted or fails

    def __post_init__(self) -> None:
        if isinstance(self.queue_size, bool) or not isinstance(self.queue_size, int) or self.queue_size < 1:
            raise ConfigError(f"queue_size (frames held between two stages) must be >= 1; found {self.queue_size!r}")
        if not self.deadline > 0:
            raise ConfigError(f"deadline (seconds threads get to stop) must be > 0; found {self.deadline!r}")
        for name in ("visible_min_area", "event_frames"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be a whole number >= 1; found {value!r}")
        if not self.stop_grace > 0:
            raise ConfigError(f"stop_grace (seconds the frames in flight get) must be > 0; found {self.stop_grace!r}")
        for name in ("max_latency", "duration"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigError(f"{name.replace('_', '-')} must be > 0 seconds; found {value!r}")
        if self.proposer not in ("regions", "maskrcnn"):
            raise ConfigError(f"proposer must be 'regions' or 'maskrcnn'; found {self.proposer!r}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ConfigError(f"max-frames must be >= 1; found {self.max_frames!r}")
        FrameSelector(self.every, self.start, self.end)  # --every, --start and --end, checked now
        if not 0.0 <= self.visible_threshold <= 1.0:
            raise ConfigError(f"visible_threshold (a presence probability) must be in [0, 1]; found "
                              f"{self.visible_threshold!r}")  # fmt: skip
