"""Several sources in one run: the streams file (``vidseg run --streams STREAMS.yaml``), the
sources named on the command line (``vidseg run SRC [SRC ...]``), and each source's
:class:`~vidseg.pipeline.config.JobConfig`.

A streams file is a mapping with one key, ``sources``, a list of entries::

    sources:
      - id: left                      # Redis keys vidseg:left:*, outputs in OUT/left/ (default: the file's stem)
        source: clips/left.mp4        # a file, image folder or glob, or a live feed (relative to this file)
        point: ["1:320,180"]          # --point, --box, --mask values, and/or
        prompts: left-prompts.yaml    # a prompts file (relative to this file)
        every: 2                      # every/start/end/fps/max_frames/duration, as the flags
      - id: cam
        source: rtsp://127.0.0.1:8554/live
        semantic: false               # the --semantic model on (default, when given) or off here
        track_classes: [disc]         # --track-class, for this source only
        live: {read_timeout: 3, reconnect_attempts: 5, max_latency: 0.5, segment_seconds: 60}

An entry's keys replace the command line's value for that source (its prompts replace the
command line's prompts); what it does not say comes from the command line. Everything is checked
before anything starts: a wrong entry is one :class:`~vidseg.errors.ConfigError` line naming the
entry and the key. This module loads no model code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import yaml

from vidseg.errors import ConfigError, VidsegError
from vidseg.pipeline.config import JobConfig
from vidseg.prompts.spec import ScheduledPrompt, load_prompt_file, parse_cli_prompts
from vidseg.sources.base import default_source_id

T = TypeVar("T")
MAX_STREAMS_FILE = 1_000_000  # bytes: a list of sources, not a data file
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # a Redis key part and a folder name
_URL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


@dataclass(frozen=True)
class LiveSpec:
    """A source's own live options (None: the command line's)."""

    transport: str | None = None
    open_timeout: float | None = None
    read_timeout: float | None = None
    reconnect_attempts: int | None = None
    max_latency: float | None = None
    segment_seconds: float | None = None
    keep_segments: int | None = None


@dataclass(frozen=True)
class StreamSpec:
    """One source of a run and what it says for itself (None or empty: the command line's).

    Attributes:
        id: the source's id: its Redis keys (``vidseg:<id>:*``) and output folder (``OUT/<id>/``).
        source: what to open (as ``vidseg run SOURCE``).
        prompts: its own prompts (None: the command line's).
        track_classes: its own ``--track-class`` classes (None: the command line's).
        semantic: the ``--semantic`` model on or off for it (None: on when ``--semantic`` is given).
        every, start, end, fps, max_frames, duration: as the flags of the same names.
        live: its live options.
        where: how messages name it (``"entry 2 (id 'cam')"``).
    """

    id: str
    source: str
    prompts: tuple[ScheduledPrompt, ...] | None = None
    track_classes: tuple[str, ...] | None = None
    semantic: bool | None = None
    every: int | None = None
    start: float | None = None
    end: float | None = None
    fps: float | None = None
    max_frames: int | None = None
    duration: float | None = None
    live: LiveSpec = field(default_factory=LiveSpec)
    where: str = ""


# ---------------------------------------------------------------------------- values
class _Bad(Exception):
    """A value of the wrong kind; the loader names the entry and key."""


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"expected a non-empty string, found {_show(value)}")
    return value


def _whole(least: int) -> Callable[[object], int]:
    def check(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise _Bad(f"expected a whole number >= {least}, found {_show(value)}")
        return value

    return check


def _seconds(zero_ok: bool) -> Callable[[object], float]:
    def check(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value >= 0 if zero_ok else value > 0):
            raise _Bad(f"expected a number of seconds {'>= 0' if zero_ok else '> 0'}, found {_show(value)}")
        return float(value)

    return check


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"expected true or false, found {_show(value)}")
    return value


def _texts(value: object) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v.strip() for v in items):
        raise _Bad(f"expected a list of strings, found {_show(value)}")
    return tuple(items)


def _show(value: object) -> str:
    kind = {dict: "a mapping", list: "a list", type(None): "nothing"}.get(type(value))
    return kind or f"{type(value).__name__} {value!r:.60}"


_ENTRY_KEYS = ("id", "source", "point", "box", "mask", "prompts", "track_classes", "semantic", "every", "start", "end",
               "fps", "max_frames", "duration", "live")  # fmt: skip
_LIVE_KEYS: dict[str, Callable[[object], Any]] = {
    "transport": _text, "open_timeout": _seconds(False), "read_timeout": _seconds(False),
    "reconnect_attempts": _whole(0), "max_latency": _seconds(False), "segment_seconds": _seconds(False),
    "keep_segments": _whole(1),
}  # fmt: skip


# ---------------------------------------------------------------------------- loading
def load_streams(path: str | Path) -> tuple[StreamSpec, ...]:
    """The sources of a streams file (see the module docstring), each checked.

    Raises:
        ConfigError: the file is missing, not YAML, or an entry is wrong (one line naming the
            entry and key): an unknown key, a value of the wrong type, no ``source``, a
            duplicate id, prompts that do not parse.
    """
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"streams file {file} does not exist; give a YAML file with a 'sources:' list")
    try:
        text = file.read_bytes()[: MAX_STREAMS_FILE + 1].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"streams file {file} is not text (byte {exc.start} is not UTF-8); expected YAML") from None
    except OSError as exc:
        raise ConfigError(f"cannot read streams file {file}: {exc.strerror or exc}") from None
    if len(text) > MAX_STREAMS_FILE:
        raise ConfigError(f"streams file {file} is larger than 1 MB; is it the right file?")
    try:
        data = yaml.safe_load(text)
    except RecursionError:
        raise ConfigError(f"streams file {file} is nested too deeply to be a list of sources") from None
    except yaml.YAMLError as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"streams file {file} is not valid YAML: {why}") from None
    if not isinstance(data, dict) or set(data) != {"sources"}:
        found = f"keys {sorted(map(str, data))[:5]}" if isinstance(data, dict) else _show(data)
        raise ConfigError(f"streams file {file} must be a mapping with one key, 'sources' (a list of sources); "
                          f"found {found}")  # fmt: skip
    entries = data["sources"]
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"streams file {file}: 'sources' must be a non-empty list of sources; found {_show(entries)}")
    specs = [_entry(item, k, file) for k, item in enumerate(entries)]
    _check_unique(specs, f"streams file {file}")
    return tuple(specs)


def _entry(item: object, k: int, file: Path) -> StreamSpec:
    where = f"streams file {file}, entry {k}"
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: expected a mapping with 'source' (and 'id', prompts, options), found {_show(item)}")
    if isinstance(item.get("id"), str):
        where += f" (id {item['id']!r})"
    unknown = [str(key) for key in item if key not in _ENTRY_KEYS]
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; expected some of {', '.join(_ENTRY_KEYS)}")
    if "source" not in item:
        raise ConfigError(f"{where}: key 'source' is missing: give the file, folder or feed URL to read")

    def get(key: str, check: Callable[[object], T]) -> T | None:
        if key not in item:
            return None
        try:
            return check(item[key])
        except _Bad as exc:
            raise ConfigError(f"{where}: key {key!r}: {exc}") from None

    source = get("source", _text)
    assert source is not None
    if not _URL.match(source) and not Path(source).is_absolute():
        source = str(file.parent / source)  # a path is read from the streams file's folder
    sid = get("id", _text) or default_source_id(source)
    if not _ID.match(sid):
        raise ConfigError(f"{where}: key 'id': {sid!r} is no source id: use letters, digits, '.', '_' and '-' "
                          "(at most 64, starting with a letter or digit): it names Redis keys and a folder")  # fmt: skip
    try:
        prompts = _prompts(item, file) if any(key in item for key in ("point", "box", "mask", "prompts")) else None
    except _Bad as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except VidsegError as exc:
        text = str(exc)
        key = next((k for k in ("point", "box", "mask") if f"--{k}" in text), "prompts")
        raise ConfigError(f"{where}: key {key!r}: {text}") from None
    live_value = item.get("live", {})
    if not isinstance(live_value, dict):
        raise ConfigError(f"{where}: key 'live': expected a mapping of live options, found {_show(live_value)}")
    for key in live_value:
        if key not in _LIVE_KEYS:
            raise ConfigError(f"{where}: key 'live.{key}' is unknown; expected some of {', '.join(_LIVE_KEYS)}")
    live: dict[str, Any] = {}
    for key, check in _LIVE_KEYS.items():
        if key in live_value:
            try:
                live[key] = check(live_value[key])
            except _Bad as exc:
                raise ConfigError(f"{where}: key 'live.{key}': {exc}") from None
    return StreamSpec(
        id=sid, source=source, prompts=prompts, track_classes=get("track_classes", _texts),
        semantic=get("semantic", _flag), every=get("every", _whole(1)), start=get("start", _seconds(True)),
        end=get("end", _seconds(False)), fps=get("fps", _seconds(False)), max_frames=get("max_frames", _whole(1)),
        duration=get("duration", _seconds(False)), live=LiveSpec(**live), where=where,
    )  # fmt: skip


def _prompts(item: Mapping[str, Any], file: Path) -> tuple[ScheduledPrompt, ...]:
    lists = {}
    for key in ("point", "box", "mask"):
        try:
            lists[key] = _texts(item[key]) if key in item else ()
        except _Bad as exc:
            raise _Bad(f"key {key!r}: {exc}") from None
    masks = tuple(_relative_mask(m, file.parent) for m in lists["mask"])
    prompts = parse_cli_prompts(lists["point"], lists["box"], masks)
    if "prompts" in item:
        try:
            name = _text(item["prompts"])
        except _Bad as exc:
            raise _Bad(f"key 'prompts': {exc} (the path of a prompts file)") from None
        prompts += load_prompt_file(name if Path(name).is_absolute() else file.parent / name)
    return tuple(prompts)


def _relative_mask(spec: str, folder: Path) -> str:
    """``[ID:]FILE[@WHEN]`` with a relative FILE read from the streams file's folder."""
    head, _, when = spec.partition("@")
    obj, sep, name = head.rpartition(":") if ":" in head and head.split(":", 1)[0].isdigit() else ("", "", head)
    return f"{obj}{sep}{folder / name}" + (f"@{when}" if when else "")


def _check_unique(specs: Sequence[StreamSpec], what: str) -> None:
    seen: dict[str, StreamSpec] = {}
    for spec in specs:
        if spec.id in seen:
            raise ConfigError(f"{spec.where or what}: key 'id': {spec.id!r} is also the id of "
                              f"{seen[spec.id].where or 'another source'}; give each source its own id")  # fmt: skip
        seen[spec.id] = spec


def positional_streams(sources: Sequence[str], source_id: str | None = None) -> tuple[StreamSpec, ...]:
    """The sources named on the command line: ids from their names (``clip``, ``clip-2`` for
    the same name twice), or ``source_id`` for a single one."""
    if source_id is not None and len(sources) > 1:
        raise ConfigError(f"--source-id names one source; {len(sources)} were given: name them in a streams "
                          "file (--streams FILE, with an 'id' for each)")  # fmt: skip
    specs: list[StreamSpec] = []
    taken: set[str] = set()
    for k, source in enumerate(sources):
        base = source_id or default_source_id(source)
        sid, n = base, 1
        while sid in taken:
            n += 1
            sid = f"{base}-{n}"
        taken.add(sid)
        specs.append(StreamSpec(sid, source, where=f"source {k + 1} ({sid!r})"))
    return tuple(specs)


# ---------------------------------------------------------------------------- configs
def stream_config(base: JobConfig, spec: StreamSpec, several: bool) -> JobConfig:
    """``base`` (the command line's) for one source: its own options, its Redis source id, and
    with ``several`` sources its own output folder ``OUT/<id>/``.

    Raises:
        ConfigError: an option of the entry conflicts with the rest (named with the entry).
    """
    live = spec.live
    semantic = base.semantic if spec.semantic is not False else None
    if spec.semantic and base.semantic is None:
        raise ConfigError(f"{spec.where}: key 'semantic': true needs a semantic model: give --semantic NAME")
    options: dict[str, Any] = {
        "source": spec.source,
        "out": base.out / spec.id if several and base.out is not None else base.out,
        "redis": replace(base.redis, source_id=spec.id) if base.redis is not None else None,
        "semantic": semantic,
        "davis": base.davis / spec.id if several and base.davis is not None else base.davis,
    }
    for name, value in (("prompts", spec.prompts), ("track_classes", spec.track_classes), ("every", spec.every),
                        ("start", spec.start), ("end", spec.end), ("image_fps", spec.fps),
                        ("max_frames", spec.max_frames), ("duration", spec.duration),
                        ("max_latency", live.max_latency), ("segment_seconds", live.segment_seconds),
                        ("keep_segments", live.keep_segments)):  # fmt: skip
        if value is not None:
            options[name] = value
    link: dict[str, Any] = {k: v for k, v in (("transport", live.transport), ("open_timeout", live.open_timeout),
                              ("read_timeout", live.read_timeout), ("reconnect_attempts", live.reconnect_attempts))
            if v is not None}  # fmt: skip
    try:
        return replace(base, live=replace(base.live, **link), **options)
    except VidsegError as exc:  # e.g. an --end before --start
        raise ConfigError(f"{spec.where}: {exc}") from None
