"""The shipped presets load into the typed config tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidseg.config import Config, TrackerConfig, load_config
from vidseg.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


PRESETS = sorted(p for p in CONFIGS.glob("*.yaml") if not p.name.startswith("streams-"))  # streams files: tests/engine


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.name)
def test_every_preset_loads(preset):
    assert isinstance(load_config(preset).tracker, TrackerConfig)


def test_defaults_and_overrides():
    assert load_config() == Config()
    cfg = load_config(CONFIGS / "cpu-demo.yaml", {"tracker": {"image_size": 512, "device": None}})
    assert cfg.tracker.image_size == 512 and cfg.tracker.device == "cpu"


@pytest.mark.parametrize(
    ("text", "match"), [("- a\n- b\n", "mapping"), ("tracker: [\n", "not valid YAML"), ("trackr: {}\n", "unknown")]
)
def test_bad_presets(tmp_path, text, match):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(path)


def test_missing_preset(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
