"""Moved to :mod:`vidseg.progress`; this name stays only until ``pipeline/job.py`` and
``pipeline/tracking.py`` import from there (they are being edited in another change)."""

from __future__ import annotations

from vidseg.progress import Progress

__all__ = ["Progress"]
