"""``objects.jsonl``'s reader and writer live in :mod:`vidseg.formats.objects_jsonl`; this path is
the one the README documents for readers."""

from __future__ import annotations

from vidseg.formats.objects_jsonl import ObjectsJsonlWriter, read_objects_jsonl

__all__ = ["ObjectsJsonlWriter", "read_objects_jsonl"]
