"""SAM 2 tracking: a frame-by-frame tracker with a bounded memory bank."""

from __future__ import annotations

from vidseg.models.tracking.build import RandomWeightsWarning, build_model, build_tracker
from vidseg.models.tracking.registry import MODELS, ModelSpec, get_model_spec
from vidseg.models.tracking.tracker import MemoryStats, Sam2Model, Sam2Tracker

__all__ = [
    "MODELS",
    "MemoryStats",
    "ModelSpec",
    "RandomWeightsWarning",
    "Sam2Model",
    "Sam2Tracker",
    "build_model",
    "build_tracker",
    "get_model_spec",
]
