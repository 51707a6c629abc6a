"""Prompts as users write them on the command line or in a file, scheduled on a frame or a time.

Syntax (``vidseg run``)::

    --point [ID:]X,Y[,LABEL][@WHEN]      a click; LABEL 1 (default) = object, 0 = background
    --box   [ID:]X1,Y1,X2,Y2[@WHEN]      a box
    --mask  [ID:]FILE.png[@WHEN]         a mask image (non-zero pixels = object)

``ID`` defaults to 1. ``WHEN`` is a processed-frame index (``@12``) or a time in seconds
(``@2.5s``); default: the first frame. Clicks and a box for the same object and moment form one
prompt. ``--prompts FILE`` reads a JSON or YAML list of
``{id, points: [[x, y], ...], labels: [...], box: [x1, y1, x2, y2], mask: PATH, frame: N | time: S}``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image, UnidentifiedImageError

from vidseg.errors import PromptError
from vidseg.types import Prompt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduledPrompt:
    """A prompt and when it applies: at processed frame ``frame``, or the first frame at or after
    ``time`` seconds (neither: the first frame)."""

    prompt: Prompt
    frame: int | None = None
    time: float | None = None
    from_file: bool = False  # read from a prompts file (else given as a flag)

    def __post_init__(self) -> None:
        if self.frame is not None and self.frame < 0:
            raise PromptError(f"a prompt's frame must be >= 0 (frames count from 0); found {self.frame}")
        if self.time is not None and not (0 <= self.time < float("inf")):
            raise PromptError(f"a prompt's time must be >= 0 seconds (from the stream's start); found {self.time}")

    def to_json(self) -> dict[str, Any]:
        p = self.prompt
        out: dict[str, Any] = {"id": p.obj_id, "kind": p.kind, **p.geometry_json()}
        if p.mask is not None:
            out["mask_area"] = int(p.mask.sum())
        if self.frame is not None:
            out["frame"] = self.frame
        if self.time is not None:
            out["time"] = self.time
        return out


MAX_PROMPT_FILE = 10_000_000  # characters: a prompts file is small; a bigger one is another file

_SPEC = re.compile(r"^(?:(?P<id>\d+):)?(?P<body>[^@]+?)(?:@(?P<when>[0-9.]+s?))?$")


def _split(spec: str, what: str) -> tuple[int, str, int | None, float | None]:
    match = _SPEC.match(spec.strip())
    if not match:
        raise PromptError(
            f"cannot read {what} {spec!r}: expected [ID:]X,Y[,LABEL][@WHEN] (--point), [ID:]X1,Y1,X2,Y2[@WHEN] "
            "(--box) or [ID:]FILE[@WHEN] (--mask), with ID a whole number >= 1; see `vidseg run --help`"
        )
    obj_id = int(match["id"]) if match["id"] else 1
    when = match["when"]
    frame = time = None
    if when:
        try:
            if when.endswith("s"):
                time = float(when[:-1])
            else:
                frame = int(when)
        except ValueError as exc:
            raise PromptError(f"cannot read the moment {when!r} of {what} {spec!r}: use @FRAME or @SECONDSs") from exc
    return obj_id, match["body"], frame, time


def _numbers(body: str, counts: Sequence[int], what: str, spec: str) -> list[float]:
    try:
        values = [float(v) for v in body.split(",")]
    except ValueError:
        raise PromptError(
            f"cannot read {what} {spec!r}: expected [ID:]{'X,Y[,LABEL]' if what == '--point' else 'X1,Y1,X2,Y2'}[@WHEN], "
            "comma-separated numbers with ID a whole number >= 1; see `vidseg run --help`"
        ) from None
    if len(values) not in counts:
        raise PromptError(f"{what} {spec!r} needs {' or '.join(map(str, counts))} numbers; found {len(values)}")
    return values


MAX_LABELS = 64  # an image with 2..64 distinct non-zero values is a label map (a DAVIS annotation, say)


def load_mask(path: str | Path, obj_id: int | None = None) -> np.ndarray:
    """A mask image as an HxW bool array: its non-zero pixels, or, when the image is a label map
    of several objects (a DAVIS palette PNG, or a few distinct grey values), the pixels labelled
    ``obj_id``.

    Raises:
        PromptError: the file is missing or no image, or it holds several labels and none is
            ``obj_id`` (the message lists them).
    """
    file = Path(path)
    if not file.is_file():
        raise PromptError(f"mask file {file} does not exist")
    try:
        with Image.open(file) as img:
            if img.mode in ("P", "L", "I", "I;16", "I;16B", "I;16L"):
                data = np.asarray(img)  # palette indices or grey values: labels when there are a few
            else:
                data = np.asarray(img.convert("L"))
    except (OSError, UnidentifiedImageError) as exc:
        raise PromptError(f"mask file {file} is not an image: {exc}") from exc
    if data.ndim != 2:
        data = data[..., 0]
    values = np.unique(data)
    labels = [int(v) for v in values if v != 0]
    if not 2 <= len(labels) <= MAX_LABELS:
        return np.asarray(data > 0)
    if obj_id is None or obj_id not in labels:
        shown = ", ".join(map(str, labels[:10])) + (", ..." if len(labels) > 10 else "")
        raise PromptError(
            f"mask file {file} holds {len(labels)} labels [{shown}], not one object; give the id of the one you mean "
            f"as the prompt's id (e.g. --mask {labels[0]}:{file.name}), or a mask of one object"
        )
    log.info("mask file %s holds labels %s: object %d takes the pixels labelled %d", file, labels, obj_id, obj_id)
    return np.asarray(data == obj_id)


@dataclass
class _Draft:
    points: list[tuple[float, float]]
    labels: list[int]
    box: tuple[float, float, float, float] | None = None


def parse_cli_prompts(
    points: Iterable[str] = (), boxes: Iterable[str] = (), masks: Iterable[str] = ()
) -> list[ScheduledPrompt]:
    """Scheduled prompts from ``--point``, ``--box`` and ``--mask`` values.

    Raises:
        PromptError: a value does not follow the syntax (the message quotes it).
    """
    drafts: dict[tuple[int, int | None, float | None], _Draft] = {}
    for spec in points:
        obj_id, body, frame, time = _split(spec, "--point")
        values = _numbers(body, (2, 3), "--point", spec)
        draft = drafts.setdefault((obj_id, frame, time), _Draft([], []))
        draft.points.append((values[0], values[1]))
        draft.labels.append(int(values[2]) if len(values) == 3 else 1)
    for spec in boxes:
        obj_id, body, frame, time = _split(spec, "--box")
        x1, y1, x2, y2 = _numbers(body, (4,), "--box", spec)
        draft = drafts.setdefault((obj_id, frame, time), _Draft([], []))
        if draft.box is not None:
            raise PromptError(f"two boxes for object {obj_id} at the same moment ({spec!r}); give one")
        draft.box = (x1, y1, x2, y2)
    out = [
        ScheduledPrompt(Prompt(obj_id, points=tuple(d.points), labels=tuple(d.labels), box=d.box), frame, time)
        for (obj_id, frame, time), d in drafts.items()
    ]
    for spec in masks:
        obj_id, body, frame, time = _split(spec, "--mask")
        out.append(ScheduledPrompt(Prompt(obj_id, mask=load_mask(body, obj_id)), frame, time))
    return out


def load_prompt_file(path: str | Path) -> list[ScheduledPrompt]:
    """Scheduled prompts from a JSON or YAML file (a list of prompt mappings)."""
    file = Path(path)
    if not file.is_file():
        raise PromptError(f"prompt file {file} does not exist")
    try:
        text = file.read_bytes()[: MAX_PROMPT_FILE + 1].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PromptError(
            f"prompt file {file} is not text (byte {exc.start} is not UTF-8); expected a JSON or YAML list of prompts"
        ) from None
    except OSError as exc:
        raise PromptError(f"cannot read prompt file {file}: {exc.strerror or exc}") from None
    if len(text) > MAX_PROMPT_FILE:
        raise PromptError(f"prompt file {file} is larger than {MAX_PROMPT_FILE // 1_000_000} MB; is it the right file?")
    try:
        data = json.loads(text) if file.suffix.lower() == ".json" else yaml.safe_load(text)
    except RecursionError:
        raise PromptError(f"prompt file {file} is nested too deeply to be a list of prompts") from None
    except (ValueError, yaml.YAMLError) as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PromptError(f"prompt file {file} is not valid JSON/YAML: {why}") from None
    if not isinstance(data, list):
        raise PromptError(f"prompt file {file} must hold a list of prompts; found {type(data).__name__}")
    out = []
    for k, item in enumerate(data):
        if not isinstance(item, dict):
            raise PromptError(f"prompt {k} in {file} must be a mapping; found a {type(item).__name__}")
        unknown = set(item) - {"id", "points", "labels", "box", "mask", "frame", "time"}
        if unknown:
            raise PromptError(
                f"prompt {k} in {file} has unknown keys {sorted(map(str, unknown))[:5]}; expected some of "
                "id, points, labels, box, mask, frame, time"
            )
        try:
            points = tuple((float(p[0]), float(p[1])) for p in item.get("points", []))
            labels = tuple(int(v) for v in item.get("labels", [1] * len(points)))
            box = tuple(float(v) for v in item["box"]) if item.get("box") is not None else None
            obj_id = int(item.get("id", 1))
            mask = load_mask(file.parent / item["mask"], obj_id) if item.get("mask") else None
            prompt = Prompt(obj_id, points=points, labels=labels, box=box, mask=mask)  # type: ignore[arg-type]
            frame = int(item["frame"]) if item.get("frame") is not None else None
            time = float(item["time"]) if item.get("time") is not None else None
        except PromptError as exc:
            raise PromptError(f"prompt {k} in {file}: {exc}") from None
        except (TypeError, ValueError, IndexError, KeyError, OverflowError) as exc:
            raise PromptError(
                f"prompt {k} in {file} is malformed ({type(exc).__name__}: {str(exc)[:100]}); expected "
                "{id: N, points: [[x, y], ...], labels: [1, ...], box: [x1, y1, x2, y2], mask: FILE, frame: N | time: S}"
            ) from None
        out.append(ScheduledPrompt(prompt, frame, time, from_file=True))
    return out
