"""A killed run leaves readable outputs up to a second or two before the kill, and a manifest
that says how far it got; an earlier run's outputs are never left beside a new run's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from vidseg.datasets.moving_shapes import moving_shapes_clip, write_clip_video
from vidseg.formats.label_video import read_label_video
from vidseg.formats.objects_jsonl import read_objects_jsonl

pytestmark = pytest.mark.timeout(300)
ROOT = Path(__file__).resolve().parents[2]


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


@pytest.mark.parametrize("kill_after", [42, 130])
def test_sigkill_leaves_playable_outputs_and_a_current_manifest(tmp_path, kill_after):
    clip = moving_shapes_clip(num_frames=400, height=136, width=320, num_objects=1, seed=6, fps=25)
    source = write_clip_video(clip, tmp_path / "clip.mp4", fps=25)
    out = tmp_path / "o"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "vidseg", "run", str(source), "--out", str(out), "--point",
                             "160,68", "--random-weights", "--image-size", "64"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while _lines(out / "objects.jsonl") < kill_after:
            assert proc.poll() is None and time.monotonic() < deadline, "the run ended or stalled"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    records = list(read_objects_jsonl(out / "objects.jsonl"))  # every complete line
    written = len(records)
    assert kill_after <= written < 400
    labels = list(read_label_video(out / "masks.mkv"))
    assert written - 25 - 5 <= len(labels) <= written  # at most ~1 s (25 frames) behind, plus frames in flight
    assert [round(f.time, 3) for f in labels] == [round(r.time, 3) for r in records[: len(labels)]]  # type: ignore[arg-type]
    with av.open(str(out / "overlay.mp4")) as overlay:
        shown = sum(1 for _ in overlay.decode(video=0))
    assert written - 50 - 5 <= shown <= written  # a keyframe and fragment at least every 2 s (50 frames)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "running"
    assert written - 2 * 25 - 5 <= manifest["frames"]["processed"] <= written + 5  # kept current (every 2 s)


def test_an_earlier_runs_outputs_are_refused_then_replaced_with_overwrite(tmp_path):
    clip = moving_shapes_clip(num_frames=3, height=48, width=64, num_objects=1, seed=6, fps=25)
    source = write_clip_video(clip, tmp_path / "clip.mp4", fps=25)
    out = tmp_path / "o"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "vidseg", "run", str(source), "--out", str(out), "--point",
                               "30,20", "--random-weights", "--image-size", "64", *extra], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    assert run().returncode == 0
    assert (out / "overlay.mp4").exists()
    refused = run("--no-overlay")
    assert refused.returncode == 2 and "already holds a run's outputs" in refused.stderr
    assert "--overwrite" in refused.stderr and "Traceback" not in refused.stderr
    again = run("--no-overlay", "--overwrite")
    assert again.returncode == 0, again.stderr
    assert not (out / "overlay.mp4").exists()  # the stale preview is gone
    manifest = json.loads((out / "manifest.json").read_text())
    assert "overlay.mp4" not in manifest["outputs"] and manifest["status"] == "completed"
