"""Moved to :mod:`vidseg.run_status`; this name stays only until ``pipeline/job.py`` and
``pipeline/tracking.py`` import from there (they are being edited in another change)."""

from __future__ import annotations

from vidseg.run_status import JobReport, JobStatus, RunStats

__all__ = ["JobReport", "JobStatus", "RunStats"]
