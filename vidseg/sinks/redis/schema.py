"""What vidseg's Redis streams hold, and how entries are encoded and decoded.

Streams, all named ``{prefix}:{source_id}:{kind}``:

- ``frames``: one entry per processed frame: ``schema_version``, ``frame_key``
  (``"{epoch}:{index}"``, unique per frame: a retry after a lost reply can add an entry twice,
  and consumers drop the repeat, see :class:`FrameDeduplicator`), ``source_id`` and ``payload``
  (the :class:`~vidseg.results.FrameRecord` as JSON, plus the :class:`FrameContext`);
- ``status``: the run's state when it changes and a heartbeat (see
  :mod:`vidseg.sinks.redis.publisher`);
- ``events``: :class:`~vidseg.results.Event` entries;
- ``prompts`` (read): prompts sent by clients, one JSON object per entry in the field ``prompt``::

    {"id": 2, "points": [[120, 80]], "labels": [1], "box": [10, 20, 200, 220],
     "mask": {"size": [H, W], "counts": "<COCO RLE>"}, "frame": "next", "request_id": "abc"}

  ``id`` and one of points / box / mask are required, or ``"remove": true`` alone, which stops
  tracking the object; or ``{"track_class": "person"}`` alone (no ``id``), which makes every
  region of that semantic class an object from then on (needs a semantic model); ``frame`` is ``"next"`` (the default) or a pts in the source's time base
  (applied on the first frame at or after it); ``request_id`` (in the JSON, or as a field of
  the entry beside ``prompt``) is echoed in the events.

Schema versions (every entry carries ``schema_version``; :data:`SCHEMA_VERSIONS`): one number,
2, for every stream. Readers accept every version up to their own (an entry without one is read
as the current version); a newer one is refused with a reason:

=========  =======  ============================================================
stream     version  changes
=========  =======  ============================================================
frames     2        2: epoch, wallclock, sender_wallclock; class histogram, classes
status     2        2: "drops" became "dropped"; "not_sent"
events     2        2: origin of a prompt event
prompts    2        2: request_id may be a field of the entry (1 entries are read as before)
=========  =======  ============================================================
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from vidseg.errors import ConfigError, PromptError, SinkError
from vidseg.masks import Rle, decode_rle, encode_rle
from vidseg.prompts.commands import Origin, PromptCommand, When
from vidseg.results import EVENT_SCHEMA_VERSION, SCHEMA_VERSION, FrameRecord
from vidseg.types import Prompt

PROMPT_SCHEMA_VERSION = 2  # 2: request_id may be a field of the entry
STATUS_SCHEMA_VERSION = 2  # 2: "drops" became "dropped" (policy drops only); "not_sent" added
SCHEMA_VERSIONS: Mapping[str, int] = MappingProxyType(
    {"frames": SCHEMA_VERSION, "status": STATUS_SCHEMA_VERSION, "events": EVENT_SCHEMA_VERSION,
     "prompts": PROMPT_SCHEMA_VERSION}
)  # fmt: skip


def readable_version(value: Any, stream: str) -> int:
    """The schema version of an entry of ``stream``, when this vidseg reads it (1 up to its own).

    Raises:
        PromptError: (a prompt entry) it is not a version number, or a newer one than this
            vidseg reads; SinkError for the other streams.
    """
    current = SCHEMA_VERSIONS[stream]
    if value is None:
        return current
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    if not text.isdigit() or not 1 <= int(text) <= current:
        error = PromptError if stream == "prompts" else SinkError
        raise error(f"{stream} schema_version {text!r:.20} is not supported; this vidseg reads versions "
                          f"1..{current} (see the schema table in the README)")  # fmt: skip
    return int(text)
MAX_MASK_SIDE = 8192  # a mask prompt larger than an 8K frame is refused before it is decoded


@dataclass(frozen=True)
class RedisConfig:
    """Where and how to publish.

    Attributes:
        url: ``redis://``, ``rediss://`` or ``unix://`` URL (may hold username and password).
        source_id: names the stream: ``{prefix}:{source_id}:frames``.
        prefix: key prefix.
        maxlen: approximate stream length kept by Redis (``MAXLEN ~``).
        backlog: entries held while Redis is unreachable.
        lossless: wait when the backlog is full (files) instead of dropping the oldest (live).
        connect_timeout: seconds for the start-up check.
        heartbeat: seconds between status entries while running.
        side_maxlen: approximate length kept of the status and events streams.
        accept_prompts: read prompts from ``{prefix}:{source_id}:prompts`` while running.
        outage_limit: seconds a lossless (file) run waits for an unreachable Redis, while its
            backlog is full and at the end for what is left, before it fails with the count of
            entries not sent. A live run never waits (it drops by its policy); an abort stops
            waiting at once.
    """

    url: str = field(repr=False)  # may hold credentials
    source_id: str
    prefix: str = "vidseg"
    maxlen: int = 10_000
    backlog: int = 1_000
    lossless: bool = True
    connect_timeout: float = 5.0
    heartbeat: float = 2.0
    side_maxlen: int = 10_000
    accept_prompts: bool = True
    outage_limit: float = 60.0

    def __post_init__(self) -> None:
        for name in ("maxlen", "backlog", "side_maxlen"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"Redis {name} must be a whole number >= 1; found {value!r}")
        for name in ("connect_timeout", "heartbeat"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"Redis {name} must be > 0 seconds; found {getattr(self, name)!r}")
        if not self.outage_limit >= 0:
            raise ConfigError(f"Redis outage_limit (--redis-wait) must be >= 0 seconds; found {self.outage_limit!r}")
        for name in ("source_id", "prefix"):
            value = getattr(self, name)
            if not value or any(ch.isspace() for ch in value):
                raise ConfigError(f"Redis {name} must be a non-empty name without spaces; found {value!r}")

    def key(self, kind: str) -> str:
        """``{prefix}:{source_id}:{kind}`` (kind: frames, status, events, prompts)."""
        return f"{self.prefix}:{self.source_id}:{kind}"

    @property
    def frames_key(self) -> str:
        return self.key("frames")


@dataclass(frozen=True)
class FrameContext:
    """What a frame entry carries besides the frame's record.

    Attributes:
        source_id: the source's id.
        epoch: increments each time a live source reconnects (0 for files).
        wallclock: when the frame was captured (Unix seconds), when known.
        dropped: frames the pipeline's buffer policies dropped (a live source's newest-wins) since
            the previous entry; corrupt packets are not frames and are counted apart.
        model: the model's identity (name, image size, checkpoint SHA-256, random weights).
    """

    source_id: str = ""
    epoch: int = 0
    wallclock: float | None = None
    dropped: int = 0
    model: dict[str, Any] | None = None


@dataclass(frozen=True)
class FrameEntry:
    """A decoded frame entry: the frame's record and its context."""

    record: FrameRecord
    context: FrameContext


def encode_entry(record: FrameRecord, context: FrameContext | None = None) -> dict[Any, Any]:
    """The fields of one frame's stream entry: ``schema_version``, ``frame_key``, ``source_id`` and
    ``payload``, the JSON of the record (``vidseg.results``: index, pts, time_base, time, objects
    with their COCO RLE masks) plus ``source_id``, ``epoch``, ``wallclock``, ``dropped`` and
    ``model`` (see :class:`FrameContext`)."""
    ctx = context or FrameContext()
    payload = record.to_json()
    epoch = record.epoch or ctx.epoch
    wallclock = record.wallclock if record.wallclock is not None else ctx.wallclock
    payload.update(source_id=ctx.source_id, epoch=epoch, wallclock=wallclock, dropped=ctx.dropped, model=ctx.model)
    return {
        "schema_version": str(SCHEMA_VERSION),
        "frame_key": f"{epoch}:{record.index}",
        "source_id": ctx.source_id,
        "payload": json.dumps(payload, separators=(",", ":")),
    }


def decode_frame_entry(fields: dict[Any, Any]) -> FrameEntry:
    """A frame entry's record and context (field names and values as bytes or str)."""
    text = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in fields.items()
    }
    if "payload" not in text:
        raise SinkError(f"not a vidseg frame entry: fields {sorted(text)}")
    readable_version(text.get("schema_version"), "frames")
    payload = json.loads(text["payload"])
    context = FrameContext(
        source_id=str(payload.get("source_id", "")),
        epoch=int(payload.get("epoch", 0)),
        wallclock=payload.get("wallclock"),
        dropped=int(payload.get("dropped", 0)),
        model=payload.get("model"),
    )
    return FrameEntry(FrameRecord.from_json(payload), context)


def decode_entry(fields: dict[Any, Any]) -> FrameRecord:
    """The :class:`FrameRecord` of a frame entry (masks included)."""
    return decode_frame_entry(fields).record


class FrameDeduplicator:
    """Drops repeated frame entries, for consumers: a retry after a lost reply can add one
    frame's entry twice, and both carry the same ``frame_key`` (``"{epoch}:{index}"``). Entries of
    a stream are in order, so an entry whose index is not above the last one seen for its epoch
    is a repeat."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def is_new(self, fields: dict[Any, Any]) -> bool:
        """Whether this entry is the first for its frame (then it is remembered)."""
        raw = fields.get(b"frame_key", fields.get("frame_key"))
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        epoch, _, index_text = key.rpartition(":")
        try:
            index = int(index_text)
        except ValueError:
            raise SinkError(f"not a vidseg frame entry: frame_key {key!r}, expected '<epoch>:<index>'") from None
        if index <= self._last.get(epoch, -1):
            return False
        self._last[epoch] = index
        return True


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


def _text(value: Any, what: str) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PromptError(f"{what} is not UTF-8 text (byte {exc.start}: {value[exc.start:exc.start + 1]!r})") from None
    return str(value)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PromptError(f"{what} must be a number; found {value!r:.40}")
    return float(value)


def _pairs(value: Any, what: str) -> tuple[tuple[float, float], ...]:
    if not isinstance(value, list) or not all(isinstance(p, list) and len(p) == 2 for p in value):
        raise PromptError(f"'{what}' must be a list of [x, y] pairs; found {value!r:.60}")
    return tuple((_number(p[0], what), _number(p[1], what)) for p in value)


def decode_prompt(fields: dict[Any, Any], frame_size: tuple[int, int] | None = None) -> PromptCommand:
    """The command of a prompts-stream entry (see the module docstring). With ``frame_size``
    (height, width), a mask of another size is refused before it is decoded, so no entry makes
    the reader allocate more than a frame.

    Raises:
        PromptError: the entry is not a valid prompt; the message is the reason reported. Any
            input gives a command or this error, never another exception.
    """
    text = {_text(k, "a field name"): v for k, v in fields.items()}
    version = text.get("schema_version")
    readable_version(_text(version, "'schema_version'") if version is not None else None, "prompts")
    if "prompt" not in text:
        raise PromptError(f"entry has no 'prompt' field (fields: {sorted(text)[:10]})")
    raw = _text(text["prompt"], "'prompt'")
    try:
        body = json.loads(raw)
    except RecursionError:
        raise PromptError("'prompt' is nested too deeply to be a prompt") from None
    except ValueError as exc:
        raise PromptError(f"'prompt' is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise PromptError(f"'prompt' must be a JSON object; found {type(body).__name__}")
    request_id = body.get("request_id")
    if request_id is None and "request_id" in text:  # given as a field of the entry
        request_id = _text(text["request_id"], "'request_id'")
    request_id = str(request_id)[:200] if request_id is not None else None
    if "track_class" in body:
        return _track_class(body, request_id)
    obj_id = body.get("id")
    if isinstance(obj_id, bool) or not isinstance(obj_id, int):
        raise PromptError(f"'id' must be an integer object id; found {obj_id!r:.40}")
    unknown = sorted(set(body) - {"id", "points", "labels", "box", "mask", "frame", "remove", "request_id"})
    if unknown:
        raise PromptError(f"unknown key(s) {unknown[:5]}; expected id, points, labels, box, mask, frame, remove")
    when = _when(body)
    points = _pairs(body.get("points", []), "points")
    labels_raw = body.get("labels", [1] * len(points))
    if not isinstance(labels_raw, list) or not all(v in (0, 1) and not isinstance(v, float) for v in labels_raw):
        raise PromptError(f"'labels' must be a list of 0/1 (one per point); found {labels_raw!r:.60}")
    box = body.get("box")
    if box is not None and (not isinstance(box, list) or len(box) != 4):
        raise PromptError(f"'box' must be [x1, y1, x2, y2]; found {box!r:.60}")
    box_t = (_number(box[0], "box"), _number(box[1], "box"), _number(box[2], "box"), _number(box[3], "box")) if box else None
    mask = None
    if body.get("mask") is not None:
        try:
            rle = Rle.from_json(body["mask"])
            height, width = rle.size
            if frame_size is not None and (height, width) != tuple(frame_size):
                raise PromptError(
                    f"'mask' is {width}x{height} (size [{height}, {width}]); the frames are "
                    f"{frame_size[1]}x{frame_size[0]}: send a mask of the frame's size"
                )
            if not (0 < height <= MAX_MASK_SIDE and 0 < width <= MAX_MASK_SIDE):
                raise PromptError(
                    f"'mask' size {[height, width]} is not a frame size; expected 1..{MAX_MASK_SIDE} on each side"
                )
            mask = decode_rle(rle)
        except PromptError:
            raise
        except (ValueError, TypeError, OverflowError) as exc:
            raise PromptError(f"'mask' is not a COCO RLE mask: {exc}") from None
    if body.get("remove", False) is True:
        if points or box is not None or mask is not None:
            raise PromptError("'remove' cannot be combined with points, a box or a mask")
        return PromptCommand.remove(obj_id, when, Origin.REDIS, request_id)
    try:
        prompt = Prompt(obj_id, points=points, labels=tuple(int(v) for v in labels_raw), box=box_t, mask=mask)
    except (TypeError, ValueError) as exc:  # Prompt's own checks raise PromptError (a ValueError)
        raise PromptError(str(exc)) from None
    return PromptCommand.add(prompt, when, Origin.REDIS, request_id)


def _when(body: dict[str, Any]) -> When:
    frame = body.get("frame", "next")
    if frame != "next" and (isinstance(frame, bool) or not isinstance(frame, int)):
        raise PromptError(f"'frame' must be \"next\" or a pts (integer); found {frame!r:.40}")
    return When() if frame == "next" else When(pts=int(frame))


def _track_class(body: dict[str, Any], request_id: str | None) -> PromptCommand:
    unknown = sorted(set(body) - {"track_class", "frame", "request_id"})
    if unknown:
        raise PromptError(f"a track_class entry takes only track_class, frame and request_id; found {unknown[:5]}")
    name = body["track_class"]
    if not isinstance(name, str) or not 0 < len(name) <= 100:
        raise PromptError(f"'track_class' must be a class name (1..100 characters); found {name!r:.40}")
    return PromptCommand.track(name, _when(body), Origin.REDIS, request_id)


def encode_track_class(name: str, frame: int | str = "next", request_id: str | None = None) -> dict[str, str]:
    """The fields of an entry that starts tracking every region of the class ``name``."""
    return _fields({"track_class": name, "frame": frame}, request_id)


def request_id_of(fields: dict[Any, Any]) -> tuple[int | None, str | None]:
    """The object id and request id of an entry that failed to decode, when they can be read."""
    field_id = fields.get(b"request_id", fields.get("request_id"))
    if isinstance(field_id, bytes):
        field_id = field_id.decode("utf-8", "replace")
    try:
        raw = fields.get(b"prompt", fields.get("prompt"))
        body = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else str(raw))
        if not isinstance(body, dict):
            return None, str(field_id)[:200] if field_id is not None else None
        obj_id = body.get("id")
        request_id = body.get("request_id", field_id)
        return (
            obj_id if isinstance(obj_id, int) and not isinstance(obj_id, bool) else None,
            str(request_id)[:200] if request_id is not None else None,
        )
    except (ValueError, TypeError, AttributeError, RecursionError):
        return None, str(field_id)[:200] if field_id is not None else None
