"""``objects.jsonl``: one JSON line per processed frame (see :class:`vidseg.results.FrameRecord`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from vidseg.errors import SinkError, SourceNotFoundError
from vidseg.results import FrameRecord


class ObjectsJsonlWriter:
    """Appends one line per frame and flushes it, so a crash loses at most the frame in flight."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._file: IO[str] | None = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 (closed in close())
        except OSError as exc:
            raise SinkError(f"cannot create {self.path}: {exc}") from exc
        self.frames = 0

    def write(self, record: FrameRecord) -> None:
        assert self._file is not None, "writer is closed"
        self._file.write(json.dumps(record.to_json(), separators=(",", ":")) + "\n")
        self._file.flush()
        self.frames += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> ObjectsJsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_objects_jsonl(path: str | Path) -> Iterator[FrameRecord]:
    """The records of an ``objects.jsonl`` file, in order."""
    file = Path(path)
    if not file.is_file():
        raise SourceNotFoundError(f"{file} does not exist")
    with open(file, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield FrameRecord.from_json(json.loads(line))
