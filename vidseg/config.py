"""The typed configuration tree, loaded from ``configs/*.yaml`` and overridden by CLI flags."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vidseg.errors import ConfigError


@dataclass(frozen=True)
class TrackerConfig:
    """Options of :func:`vidseg.models.tracking.build_tracker` that presets may set."""

    model: str = "sam2.1_hiera_tiny"
    checkpoint: str | None = None
    random_weights: bool = False
    image_size: int | None = None
    device: str = "auto"
    seed: int = 0
    fill_hole_area: int = 8
    max_cond_frames: int = 8
    batch_objects: bool | None = None  # None: batch on CUDA only


@dataclass(frozen=True)
class Config:
    """Everything a run is configured with."""

    tracker: TrackerConfig = field(default_factory=TrackerConfig)


def _check_type(value: Any, hint: Any, where: str) -> None:
    """Raise :class:`ConfigError` unless ``value`` fits a simple annotation (str, int, float,
    bool, None, and unions of them); other annotations are not checked here."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    simple = {str, int, float, bool, type(None)}
    if not all(o in simple for o in options):
        return
    ok = any(
        (value is None and o is type(None))
        or (o is bool and isinstance(value, bool))
        or (o is int and isinstance(value, int) and not isinstance(value, bool))
        or (o is float and isinstance(value, (int, float)) and not isinstance(value, bool))
        or (o is str and isinstance(value, str))
        for o in options
    )
    if not ok:
        expected = " or ".join("null" if o is type(None) else o.__name__ for o in options)
        raise ConfigError(f"{where} must be {expected}; found {type(value).__name__} {value!r:.40}")


def _build(cls: type[Any], values: dict[str, Any], where: str) -> Any:
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(map(str, set(values) - set(names)))
    if unknown:
        raise ConfigError(f"unknown option(s) {unknown} in {where}; expected some of {sorted(names)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in values.items():
        sub = names[key].default_factory if names[key].default_factory is not dataclasses.MISSING else None
        if sub is not None and dataclasses.is_dataclass(sub):
            if not isinstance(value, dict):
                raise ConfigError(
                    f"{where}.{key} must be a mapping of options (e.g. {key}: {{model: ...}}); "
                    f"found {type(value).__name__} {value!r:.40}"
                )
            kwargs[key] = _build(sub, value, f"{where}.{key}")
        else:
            _check_type(value, hints[key], f"{where}.{key}")
            kwargs[key] = value
    return cls(**kwargs)


def load_config(path: str | Path | None = None, overrides: dict[str, dict[str, Any]] | None = None) -> Config:
    """Load a YAML preset (or the defaults) and apply ``overrides`` (section -> option -> value).

    Raises:
        ConfigError: the file is missing, is not YAML, or names unknown options.
    """
    data: dict[str, Any] = {}
    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"config file {file} does not exist; presets live in configs/*.yaml")
        try:
            loaded = yaml.safe_load(file.read_bytes().decode("utf-8")) or {}
        except UnicodeDecodeError:
            raise ConfigError(f"config file {file} is not text (not UTF-8); expected a YAML preset") from None
        except RecursionError:
            raise ConfigError(f"config file {file} is nested too deeply to be a preset") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {file} is not valid YAML: {exc}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {file} must hold a mapping of sections; found {type(loaded).__name__}")
        data = loaded
    for section, values in (overrides or {}).items():
        if not isinstance(data.get(section, {}), dict):
            raise ConfigError(
                f"{path}: {section} must be a mapping of options (e.g. {section}: {{model: ...}}); "
                f"found {type(data[section]).__name__} {data[section]!r:.40}"
            )
        data.setdefault(section, {}).update({k: v for k, v in values.items() if v is not None})
    return _build(Config, data, str(path or "config"))
