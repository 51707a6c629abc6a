"""Prompts sent through Redis while a stream runs: ``{prefix}:{source_id}:prompts``.

A client adds one entry per prompt (``vidseg prompt`` does, or :func:`encode_prompt`), with the
fields ``schema_version`` and ``prompt``, a JSON object::

    {"id": 2, "points": [[120, 80]], "labels": [1], "box": [10, 20, 200, 220],
     "mask": {"size": [H, W], "counts": "<COCO RLE>"}, "frame": "next", "request_id": "abc"}

``id`` and one of points / box / mask are required, or ``"remove": true`` alone, which stops
tracking the object; ``frame`` is ``"next"`` (the default: the
next frame processed) or a pts in the source's time base (applied on the first frame at or after
it); ``request_id`` is echoed in the events. A reader thread (:class:`RedisPromptInbox`) reads
entries added after the run started, and the model thread takes them between frames; what cannot
be read or does not fit the frame is rejected with a reason on the events stream, and the run
goes on.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any

import redis

from vidseg.errors import PromptError, SinkError
from vidseg.masks import Rle, decode_rle, encode_rle
from vidseg.types import Prompt

log = logging.getLogger(__name__)

PROMPT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class RemotePrompt:
    """A prompt read from the prompts stream.

    Attributes:
        obj_id: the object concerned.
        prompt: the prompt, or None for a removal (stop tracking ``obj_id``).
        pts: apply on the first frame whose pts is at least this (None: the next frame).
        request_id: the client's id for it, echoed in events.
        entry_id: the stream entry it came from.
    """

    obj_id: int
    prompt: Prompt | None
    pts: int | None
    request_id: str | None
    entry_id: str

    @property
    def remove(self) -> bool:
        return self.prompt is None

    def due(self, pts: int | None) -> bool:
        return self.pts is None or pts is None or pts >= self.pts


@dataclass(frozen=True)
class RejectedPrompt:
    """An entry that is not a valid prompt, and why."""

    reason: str
    request_id: str | None
    entry_id: str


def encode_prompt(prompt: Prompt, frame: int | str = "next", request_id: str | None = None) -> dict[str, str]:
    """The fields of a prompt entry for ``prompt``, applied on the next frame or at pts ``frame``."""
    body: dict[str, Any] = {"id": prompt.obj_id, "frame": frame, **prompt.geometry_json()}
    if prompt.mask is not None:
        body["mask"] = encode_rle(prompt.mask).to_json()
    return _fields(body, request_id)


def encode_removal(obj_id: int, frame: int | str = "next", request_id: str | None = None) -> dict[str, str]:
    """The fields of an entry that stops tracking ``obj_id``."""
    return _fields({"id": obj_id, "remove": True, "frame": frame}, request_id)


def _fields(body: dict[str, Any], request_id: str | None) -> dict[str, str]:
    """A prompts-stream entry for ``body``."""
    if request_id is not None:
        body["request_id"] = request_id
    return {"schema_version": str(PROMPT_SCHEMA_VERSION), "prompt": json.dumps(body)}


def decode_prompt(fields: dict[Any, Any], entry_id: str = "") -> RemotePrompt:
    """The prompt of an entry's fields.

    Raises:
        PromptError: the entry is not a valid prompt (the message is the reason reported).
    """
    text = {(k.decode() if isinstance(k, bytes) else str(k)): (v.decode() if isinstance(v, bytes) else str(v))
            for k, v in fields.items()}  # fmt: skip
    if "prompt" not in text:
        raise PromptError(f"entry has no 'prompt' field (fields: {sorted(text)})")
    try:
        body = json.loads(text["prompt"])
    except json.JSONDecodeError as exc:
        raise PromptError(f"'prompt' is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise PromptError(f"'prompt' must be a JSON object; found {type(body).__name__}")
    request_id = body.get("request_id")
    request_id = str(request_id) if request_id is not None else None
    try:
        obj_id = body["id"]
        if isinstance(obj_id, bool) or not isinstance(obj_id, int):
            raise PromptError(f"'id' must be an integer object id; found {obj_id!r}")
        points = tuple((float(x), float(y)) for x, y in body.get("points", []))
        labels = tuple(int(v) for v in body.get("labels", [1] * len(points)))
        box = body.get("box")
        box_t = (float(box[0]), float(box[1]), float(box[2]), float(box[3])) if box is not None else None
        if box is not None and len(box) != 4:
            raise PromptError(f"'box' must be [x1, y1, x2, y2]; found {box!r}")
        mask = decode_rle(Rle.from_json(body["mask"])) if body.get("mask") is not None else None
        frame = body.get("frame", "next")
        if frame != "next" and (isinstance(frame, bool) or not isinstance(frame, int)):
            raise PromptError(f"'frame' must be \"next\" or a pts (integer); found {frame!r}")
        remove = body.get("remove", False) is True
        if remove:
            if points or box is not None or mask is not None:
                raise PromptError("'remove' cannot be combined with points, a box or a mask")
            return RemotePrompt(obj_id, None, None if frame == "next" else int(frame), request_id, entry_id)
        prompt = Prompt(obj_id, points=points, labels=labels, box=box_t, mask=mask)
    except PromptError:
        raise
    except KeyError as exc:
        raise PromptError(f"missing field {exc}") from None
    except (TypeError, ValueError, IndexError) as exc:  # Prompt's own checks raise ValueError subclasses
        raise PromptError(str(exc)) from None
    return RemotePrompt(obj_id, prompt, None if frame == "next" else int(frame), request_id, entry_id)


def check_fits(prompt: Prompt, width: int, height: int) -> str | None:
    """Why ``prompt`` does not fit a ``width`` x ``height`` frame, or None when it does."""
    for x, y in prompt.points:
        if not (0 <= x <= width and 0 <= y <= height):
            return f"point ({x:g}, {y:g}) is outside the {width}x{height} frame"
    if prompt.box is not None:
        x1, y1, x2, y2 = prompt.box
        if not (0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height):
            return f"box {prompt.box} is not inside the {width}x{height} frame"
    if prompt.mask is not None and prompt.mask.shape != (height, width):
        return f"mask is {prompt.mask.shape[1]}x{prompt.mask.shape[0]}, the frame {width}x{height}"
    return None


class RedisPromptInbox:
    """Reads prompt entries added after it started, in a thread; :meth:`drain` hands them over.

    Raises:
        SinkError: Redis cannot be reached at start-up.
    """

    def __init__(self, client: redis.Redis, key: str, block_ms: int = 500) -> None:
        self._client = client
        self.key = key
        self._block_ms = block_ms
        try:
            # Start after the newest entry: prompts sent before this run are not for it.
            info = client.xinfo_stream(key) if client.exists(key) else None
        except redis.RedisError as exc:
            raise SinkError(f"cannot read prompts stream {key}: {type(exc).__name__}") from None
        last = info["last-generated-id"] if info else b"0-0"
        self._last_id: str = last.decode() if isinstance(last, bytes) else str(last)
        self._items: queue.Queue[RemotePrompt | RejectedPrompt] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vidseg-prompts", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                reply: Any = self._client.xread({self.key: self._last_id}, count=100, block=self._block_ms)
            except redis.RedisError as exc:
                log.warning("prompts stream %s: %s; retrying", self.key, type(exc).__name__)
                self._stop.wait(1.0)
                continue
            for _, entries in reply or []:
                for raw_id, fields in entries:
                    entry_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
                    self._last_id = entry_id
                    try:
                        self._items.put(decode_prompt(fields, entry_id))
                    except PromptError as exc:
                        self._items.put(RejectedPrompt(str(exc), _request_id(fields), entry_id))

    def drain(self) -> list[RemotePrompt | RejectedPrompt]:
        """Everything read since the last call, in stream order."""
        out = []
        while True:
            try:
                out.append(self._items.get_nowait())
            except queue.Empty:
                return out

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout=timeout)


def _request_id(fields: dict[Any, Any]) -> str | None:
    """The request id of an entry that failed to decode, if it can be found."""
    raw = fields.get(b"prompt", fields.get("prompt"))
    try:
        body = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
        value = body.get("request_id") if isinstance(body, dict) else None
        return str(value) if value is not None else None
    except (TypeError, ValueError, AttributeError):
        return None
