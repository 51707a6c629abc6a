"""The command line, run as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from vidseg.models.tracking.registry import SYNTHETIC_MODEL


def run_cli(*args: str, cwd: Path, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "vidseg", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_demo_with_random_weights_writes_outputs(tmp_path):
    out = tmp_path / "demo"
    proc = run_cli("demo", "--random-weights", "--image-size", "64", "--frames", "4", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (out / "sample.mp4").is_file()
    assert {p.name for p in (out / "run").iterdir()} == {"masks.mkv", "overlay.mp4", "objects.jsonl", "manifest.json"}
    manifest = json.loads((out / "run" / "manifest.json").read_text())
    assert manifest["model"]["random_weights"] is True and manifest["frames"]["processed"] == 4
    assert "mean IoU with the ground truth" in proc.stderr and "random weights" in proc.stderr


def test_demo_without_checkpoint_offline_is_one_clear_line(tmp_path):
    # A model chosen by flag is never swapped for the shipped synthetic one.
    proc = run_cli(
        "demo", "--model", "sam2.1_hiera_tiny", "--no-download", "--image-size", "64", cwd=tmp_path,
        env_extra={"VIDSEG_CACHE": str(tmp_path)},
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vidseg: error: no checkpoint")
    assert "--random-weights" in lines[0] and "Traceback" not in proc.stderr


def test_demo_offline_falls_back_to_the_shipped_model_else_random_weights(tmp_path):
    out = tmp_path / "demo"
    proc = run_cli(
        "demo", "--no-download", "--image-size", "64", "--frames", "4", "--out", str(out), cwd=tmp_path,
        env_extra={"VIDSEG_CACHE": str(tmp_path)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    model = json.loads((out / "run" / "manifest.json").read_text())["model"]
    if SYNTHETIC_MODEL.bundled is not None and SYNTHETIC_MODEL.bundled.is_file():
        assert "Running the demo with vidseg_synthetic_tiny" in proc.stderr
        assert model["name"] == "vidseg_synthetic_tiny" and model["random_weights"] is False
    else:
        assert "Running the demo with RANDOM weights" in proc.stderr
        assert model["name"] == "sam2.1_hiera_tiny" and model["random_weights"] is True


def test_unknown_model_is_one_clear_line(tmp_path):
    proc = run_cli("demo", "--model", "nope", "--random-weights", cwd=tmp_path)
    assert proc.returncode == 2 and "unknown model 'nope'" in proc.stderr and "Traceback" not in proc.stderr


def test_models_lists_every_size(tmp_path):
    proc = run_cli("models", cwd=tmp_path)
    assert proc.returncode == 0
    for size in ("tiny", "small", "base_plus", "large"):
        assert f"sam2.1_hiera_{size}" in proc.stdout and f"sam2_hiera_{size}" in proc.stdout


def test_config_preset_and_flag_override(tmp_path):
    preset = tmp_path / "preset.yaml"
    preset.write_text("tracker:\n  image_size: 64\n  random_weights: true\n  fill_hole_area: 0\n")
    out = tmp_path / "demo"
    proc = run_cli("demo", "--config", str(preset), "--frames", "2", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    model = json.loads((out / "run" / "manifest.json").read_text())["model"]
    assert model["image_size"] == 64 and model["random_weights"] is True
    proc = run_cli(
        "demo", "--config", str(preset), "--image-size", "96", "--frames", "2", "--out", str(out), cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "run" / "manifest.json").read_text())["model"]["image_size"] == 96


def test_config_with_unknown_option_is_one_clear_line(tmp_path):
    preset = tmp_path / "preset.yaml"
    preset.write_text("tracker:\n  imagesize: 64\n")
    proc = run_cli("demo", "--config", str(preset), cwd=tmp_path)
    assert proc.returncode == 2 and "unknown option(s) ['imagesize']" in proc.stderr


def test_the_live_demo_tracks_the_feed_and_applies_a_redis_prompt(tmp_path):
    """`vidseg demo --live`: the RTSP test feed, a private redis-server, a click and a Redis prompt."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-m", "vidseg", "demo", "--live", "--seconds", "8"], cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, timeout=240)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    line = next(line for line in proc.stderr.splitlines() if "live demo:" in line)
    assert "entries read back from Redis" in line and "latency p50" in line and "Redis prompts applied: 1" in line
    manifest = json.loads((tmp_path / "out" / "demo-live" / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["source"]["kind"] == "live"
    assert manifest["segments"] and all(s["closed"] for s in manifest["segments"])
