"""vidseg: video segmentation streaming pipeline (SAM 2 tracking, semantic models, Redis, mask videos)."""

from __future__ import annotations

__version__ = "0.1.0"
