"""vidseg: video segmentation streaming pipeline (SAM 2 tracking, semantic models, Redis, mask videos).

The main entry points, imported on first use (``import vidseg`` itself loads neither torch nor
PyAV)::

    import vidseg

    source = vidseg.open_source("clip.mp4")                       # frames with their timestamps
    tracker = vidseg.build_tracker("vidseg_synthetic_tiny")        # weights + one tracking session
    report = vidseg.run_job(vidseg.JobConfig("clip.mp4", out=Path("out"), prompts=...))
    labeller = vidseg.build_semantic_model("vidseg_unet_synthetic")  # a label map per frame
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vidseg.version import __version__

# name -> module that defines it
_EXPORTS = {
    "Frame": "vidseg.types",
    "Prompt": "vidseg.types",
    "TrackingResult": "vidseg.types",
    "FrameKey": "vidseg.results",
    "FrameRecord": "vidseg.results",
    "FrameResult": "vidseg.results",
    "Event": "vidseg.results",
    "EventKind": "vidseg.results",
    "VidsegError": "vidseg.errors",
    "open_source": "vidseg.sources",
    "build_model": "vidseg.models.tracking",
    "build_tracker": "vidseg.models.tracking",
    "Sam2Model": "vidseg.models.tracking",
    "Sam2Tracker": "vidseg.models.tracking",
    "JobConfig": "vidseg.pipeline.job",
    "JobReport": "vidseg.run_status",
    "JobStatus": "vidseg.run_status",
    "run_job": "vidseg.pipeline.job",
    "PromptCommand": "vidseg.prompts.commands",
    "ScheduledPrompt": "vidseg.prompts.spec",
    "RedisConfig": "vidseg.sinks.redis.schema",
    "redact_url": "vidseg.redact",
    "SemanticMap": "vidseg.results",
    "SemanticConfig": "vidseg.pipeline.semantic",
    "build_semantic_model": "vidseg.models.semantic",
}

__all__ = [
    "Event",
    "EventKind",
    "Frame",
    "FrameKey",
    "FrameRecord",
    "FrameResult",
    "JobConfig",
    "JobReport",
    "JobStatus",
    "Prompt",
    "PromptCommand",
    "RedisConfig",
    "Sam2Model",
    "Sam2Tracker",
    "ScheduledPrompt",
    "SemanticConfig",
    "SemanticMap",
    "TrackingResult",
    "VidsegError",
    "__version__",
    "build_model",
    "build_semantic_model",
    "build_tracker",
    "open_source",
    "redact_url",
    "run_job",
]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time names load lazily
    from vidseg.errors import VidsegError
    from vidseg.models.semantic import build_semantic_model
    from vidseg.models.tracking import Sam2Model, Sam2Tracker, build_model, build_tracker
    from vidseg.pipeline.config import SemanticConfig
    from vidseg.pipeline.job import JobConfig, run_job
    from vidseg.prompts.commands import PromptCommand
    from vidseg.prompts.spec import ScheduledPrompt
    from vidseg.redact import redact_url
    from vidseg.results import Event, EventKind, FrameKey, FrameRecord, FrameResult, SemanticMap
    from vidseg.run_status import JobReport, JobStatus
    from vidseg.sinks.redis.schema import RedisConfig
    from vidseg.sources import open_source
    from vidseg.types import Frame, Prompt, TrackingResult


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vidseg' has no attribute {name!r}; the public API is {__all__}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
