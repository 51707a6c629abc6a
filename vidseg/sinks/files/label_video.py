"""The label video's reader and writer live in :mod:`vidseg.formats.label_video` (evaluation and
datasets read it without the sinks); this path is the one the README documents for readers."""

from __future__ import annotations

from vidseg.formats.label_video import LabelFrame, LabelVideoWriter, read_label_video

__all__ = ["LabelFrame", "LabelVideoWriter", "read_label_video"]
