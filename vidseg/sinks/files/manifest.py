"""``manifest.json``: what a run read, how it tracked, what it wrote and how it ended.

Only redacted values are written: a sink reports its URL without credentials, and the job's
config is written without the Redis settings.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from vidseg.errors import SinkError
from vidseg.prompts.commands import PromptCommand
from vidseg.run_status import JobReport, StageTiming
from vidseg.sinks.base import SinkReport
from vidseg.sources.base import SourceInfo, SourceStats
from vidseg.types import ModelInfo
from vidseg.version import __version__


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (dataclasses by their shown fields; enums by value; the rest
    that JSON has no type for as strings)."""
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value) if f.repr}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


@dataclass(frozen=True)
class Manifest:
    """Everything ``manifest.json`` records."""

    report: JobReport
    started: float
    source: SourceInfo
    source_stats: SourceStats
    model: ModelInfo
    prompts: Sequence[PromptCommand]
    not_applied: Sequence[PromptCommand]
    config: Any  # the job's config, without credentials
    sinks: Sequence[SinkReport]
    timings: Mapping[str, StageTiming]
    drops: Mapping[str, int]
    missing: int | None
    applied: Sequence[Mapping[str, Any]] = ()  # commands applied while running (Redis, by class), as JSON
    applied_left_out: int = 0  # more of them, not listed
    semantic: Mapping[str, Any] | None = None  # the semantic model (classes: class id -> name), when one ran

    def to_json(self, out: Path) -> dict[str, Any]:
        report = self.report
        redis = next((s for s in self.sinks if s.name == "redis"), None)
        files = next((s for s in self.sinks if s.name == "files"), None)
        return {
            "vidseg_version": __version__,
            "status": report.status.value,
            "error": report.error,
            "started": self.started,
            "seconds": report.seconds,
            "run_seconds": report.run_seconds,
            "source": jsonable(self.source),
            "model": jsonable(self.model),
            "prompts": [*(p.to_json() for p in self.prompts), *(dict(p) for p in self.applied)],
            "prompts_left_out": self.applied_left_out,
            "prompts_not_applied": [p.to_json() for p in self.not_applied],
            "semantic": dict(self.semantic) if self.semantic is not None else None,
            "config": jsonable(self.config),
            "frames": {
                "read": report.frames_read,
                "processed": report.frames_processed,
                "corrupt_packets": report.corrupt_packets,
                "untimed": self.source_stats.untimed,
                "dropped": report.dropped,
                "abandoned": report.abandoned,
                "missing": self.missing,
            },
            "drops": dict(self.drops),
            "source_errors": list(self.source_stats.errors),
            "decode_seconds": self.source_stats.decode_seconds,
            "redis": {**jsonable(redis.details), "error": redis.error} if redis is not None else None,
            "sinks": [{"name": s.name, "frames": s.frames, "error": s.error} for s in self.sinks],
            "segments": jsonable(files.details.get("segments")) if files is not None else None,
            "timings": {name: {"busy_seconds": t.busy, "items": t.items} for name, t in self.timings.items()},
            "outputs": [*sorted(p.name for p in out.iterdir() if p.name != "manifest.json"), "manifest.json"],
        }

    def write(self, out: Path) -> Path:
        """Write ``out/manifest.json`` atomically (a reader never sees half a file).

        Raises:
            SinkError: it could not be written (a full disk, say); the last good copy is kept
                and no partial file is left.
        """
        path = out / "manifest.json"
        partial = out / ".manifest.json.partial"
        try:
            partial.write_text(json.dumps(self.to_json(out), indent=1))
            os.replace(partial, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
            raise SinkError(f"could not write {path}: {exc.strerror or exc}") from exc
        return path


def mark_ended(out: Path, status: str, error: str) -> bool:
    """Record ``status`` and ``error`` in the last good ``out/manifest.json`` when a full one
    cannot be written (a full disk): the file is rewritten in place, compactly, so it fits in
    the space the old copy held. Returns whether it was written."""
    path = out / "manifest.json"
    try:
        data = json.loads(path.read_text())
        data.update(status=status, error=error)
        data.pop("outputs", None)  # no longer known to be true
        text = json.dumps(data, separators=(",", ":")).encode()
        if len(text) > path.stat().st_size:  # it would need more room than the disk may have
            data = {k: data.get(k) for k in ("vidseg_version", "status", "error", "started", "source", "frames")}
            text = json.dumps(data, separators=(",", ":")).encode()
        with path.open("r+b") as f:
            f.write(text)
            f.truncate()
    except (OSError, ValueError):
        return False
    return True
