"""What every trainer writes: checkpoints replaced in one step, a JSON-lines history, and its
config as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch


def save_checkpoint(path: Path, blob: dict[str, Any]) -> None:
    """``torch.save`` to a temporary file, then rename: never a half-written checkpoint."""
    tmp = path.with_suffix(".tmp")
    torch.save(blob, tmp)
    tmp.replace(path)


def append_history(path: Path, record: dict[str, Any]) -> None:
    """Add one JSON line to ``path``."""
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def config_json(config: Any) -> dict[str, Any]:
    """A training config dataclass as JSON-ready values (paths as strings)."""
    return {name: str(value) if isinstance(value, Path) else value for name, value in asdict(config).items()}
