"""Datasets for training and evaluation: generated clips with exact labels, and the DAVIS folder layout."""

from __future__ import annotations

from vidseg.datasets.davis_layout import DavisVideo, list_videos, load_dataset, load_video, write_davis_dataset
from vidseg.datasets.synthetic_videos import (
    BACKGROUNDS,
    SHAPE_CLASSES,
    SHAPE_IDS,
    TEXTURES,
    SyntheticObject,
    SyntheticVideo,
    VideoSpec,
    generate_video,
    render_background,
)

__all__ = [
    "BACKGROUNDS",
    "SHAPE_CLASSES",
    "SHAPE_IDS",
    "TEXTURES",
    "DavisVideo",
    "SyntheticObject",
    "SyntheticVideo",
    "VideoSpec",
    "generate_video",
    "list_videos",
    "load_dataset",
    "load_video",
    "render_background",
    "write_davis_dataset",
]
