"""The ``vidseg`` command line (see :func:`vidseg.cli.main.main`)."""

from __future__ import annotations

from vidseg.cli.main import main

__all__ = ["main"]
