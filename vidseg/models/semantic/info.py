"""What a run's semantic maps were made with: the model, its class names (a class id in
``semantic.mkv`` is an index into them) and where its weights came from, for the manifest."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidseg.errors import InputError

_CHUNK = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")
MAX_CLASSES = 256  # label maps hold one byte a pixel


@dataclass(frozen=True)
class SemanticModelInfo:
    """The built semantic model's record (``model.info``); ``to_json()`` is the manifest's
    ``"semantic"`` entry.

    Attributes:
        name: the model as ``--semantic`` names it (``vidseg_unet_synthetic``, ``hf:<id or folder>``).
        classes: class names by id: label value ``k`` in every map is ``classes[k]``.
        checkpoint: the weights file (hub id or folder for ``hf:``), None with random weights.
        checkpoint_sha256: the SHA-256 of that weights file, None when there is no single file
            (random weights; a sharded ``hf:`` checkpoint).
        random_weights: the maps come from seeded random weights and mean nothing.
        input_size: the shorter side the network sees each frame at (the aspect ratio kept, see
            ``SemanticModel.network_size``); for ``hf:`` the image processor's, None when it has
            no single one.
    """

    name: str
    classes: tuple[str, ...]
    checkpoint: str | None
    checkpoint_sha256: str | None
    random_weights: bool
    input_size: int | None

    def __post_init__(self) -> None:
        if not 0 < len(self.classes) <= MAX_CLASSES or not all(isinstance(c, str) for c in self.classes):
            raise InputError(f"a semantic model needs 1..{MAX_CLASSES} class names; found {self.classes!r:.200}")
        if self.checkpoint_sha256 is not None and not _SHA256.fullmatch(self.checkpoint_sha256):
            raise InputError(f"checkpoint_sha256 must be 64 lowercase hex digits; found {self.checkpoint_sha256!r}")
        if self.random_weights and (self.checkpoint is not None or self.checkpoint_sha256 is not None):
            raise InputError(f"a model with random weights has no checkpoint; found {self.checkpoint!r}")
        if self.input_size is not None and self.input_size <= 0:
            raise InputError(f"input_size must be positive or None; found {self.input_size}")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: the fields by name, ``classes`` as a list (index = class id)."""
        return {
            "name": self.name,
            "classes": list(self.classes),
            "checkpoint": self.checkpoint,
            "checkpoint_sha256": self.checkpoint_sha256,
            "random_weights": self.random_weights,
            "input_size": self.input_size,
        }


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
