"""SAM 2 tracking: a frame-by-frame tracker with a bounded memory bank."""

from __future__ import annotations

from vidseg.tracking.build import RandomWeightsWarning, build_tracker
from vidseg.tracking.registry import MODELS, ModelSpec, get_model_spec
from vidseg.tracking.tracker import MemoryStats, Sam2Tracker

__all__ = [
    "MODELS",
    "MemoryStats",
    "ModelSpec",
    "RandomWeightsWarning",
    "Sam2Tracker",
    "build_tracker",
    "get_model_spec",
]
