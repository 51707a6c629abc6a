"""Nothing stalls: limits on what a prompt and a run may ask, runs that end on time while a model
step is long, a full disk answered in one line, and counts that tell the truth."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vidseg.datasets.moving_shapes import moving_shapes_clip, write_clip_video
from vidseg.prompts.class_tracker import ClassTracker
from vidseg.prompts.commands import Origin, PromptCommand
from vidseg.prompts.router import PromptLimits, PromptRouter
from vidseg.results import EventKind
from vidseg.types import Frame, Prompt

pytestmark = pytest.mark.timeout(300)
ROOT = Path(__file__).resolve().parents[2]
SLOW = ["--model", "sam2.1_hiera_tiny", "--random-weights", "--image-size", "1024"]  # several s per step here


def _env(cwd: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "VIDSEG_CACHE": str(cwd / "cache")}


def _vidseg(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vidseg", *args], cwd=cwd, env=_env(cwd), capture_output=True,
                          text=True, timeout=240)  # fmt: skip


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frames = moving_shapes_clip(num_frames=30, height=48, width=64, num_objects=1, seed=3, fps=25)
    return write_clip_video(frames, tmp_path_factory.mktemp("clip") / "clip.mp4", fps=25)


class _Target:
    def __init__(self) -> None:
        self.ids: list[int] = []

    @property
    def object_ids(self) -> tuple[int, ...]:
        return tuple(self.ids)

    @property
    def pending_ids(self) -> tuple[int, ...]:
        return ()

    def add(self, prompt: Prompt) -> None:
        if prompt.obj_id not in self.ids:
            self.ids.append(prompt.obj_id)

    def remove_object(self, obj_id: int) -> None:
        self.ids.remove(obj_id)


def _frame() -> Frame:
    return Frame(np.zeros((48, 64, 3), np.uint8), index=0)


def _click(obj_id: int, n: int = 1) -> PromptCommand:
    points = tuple((float(k % 60), float(k % 40)) for k in range(n))
    return PromptCommand.add(Prompt(obj_id, points=points, labels=(1,) * n), origin=Origin.REDIS, request_id=f"r{obj_id}")


def test_a_prompt_with_more_clicks_than_the_limit_is_rejected_naming_the_limit():
    router = PromptRouter(255, limits=PromptLimits(points=8))
    target = _Target()
    router.submit(_click(1, 200_000))
    router.submit(_click(2, 8))
    events = router.apply_due(target, _frame())
    assert [e.kind for e in events] == [EventKind.PROMPT_REJECTED, EventKind.PROMPT_APPLIED]
    assert "200000 clicks" in events[0].detail and "--point-limit" in events[0].detail and "8" in events[0].detail
    assert events[0].request_id == "r1" and target.ids == [2]


def test_objects_past_the_run_limit_are_rejected_but_known_objects_still_take_corrections():
    router = PromptRouter(255, limits=PromptLimits(objects=2))
    target = _Target()
    for obj_id in (1, 2, 3):
        router.submit(_click(obj_id))
    router.submit(_click(1, 3))  # a correction of a tracked object is no new object
    events = router.apply_due(target, _frame())
    kinds = [e.kind for e in events]
    assert kinds == [EventKind.PROMPT_APPLIED, EventKind.PROMPT_APPLIED, EventKind.PROMPT_REJECTED,
                     EventKind.PROMPT_APPLIED]  # fmt: skip
    assert "--object-limit" in events[2].detail and events[2].obj_id == 3
    assert router.room(target) == 0
    router.submit(PromptCommand.remove(1, origin=Origin.REDIS))
    router.submit(_click(3))
    assert [e.kind for e in router.apply_due(target, _frame())] == [EventKind.PROMPT_APPLIED] * 2
    assert sorted(target.ids) == [2, 3]


def test_tracking_by_class_creates_no_more_objects_than_the_room_left():
    from vidseg.results import SemanticMap

    labels = np.zeros((48, 64), np.uint8)
    for k in range(4):
        labels[5:15, 2 + 15 * k : 12 + 15 * k] = 1  # four separate regions
    semantic = SemanticMap(labels, ("background", "disc"))
    tracker = ClassTracker(["disc"], first_id=1, known=("background", "disc"))
    image = np.zeros((48, 64, 3), np.uint8)
    assert len(tracker.new_objects(image, semantic, {}, room=2)) == 2
    assert tracker.new_objects(image, semantic, {}, room=0) == []


@pytest.mark.parametrize("limits", [{"points": 0}, {"objects": -1}, {"points": 1.5}])
def test_limits_must_be_whole_numbers_of_at_least_one(limits):
    from vidseg.errors import ConfigError

    with pytest.raises(ConfigError, match="limit must be a whole number"):
        PromptLimits(**limits)


def test_a_prompts_file_naming_more_objects_than_the_limit_is_refused_before_the_run(clip, tmp_path):
    prompts = tmp_path / "many.json"
    prompts.write_text(json.dumps([{"id": k, "points": [[5, 5]]} for k in range(1, 10_001)]))
    start = time.monotonic()
    proc = _vidseg("run", str(clip), "--out", "o", "--prompts", str(prompts), "--model", "vidseg_synthetic_tiny",
                   cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "10000 objects" in proc.stderr and "--object-limit" in proc.stderr
    assert time.monotonic() - start < 60
    assert not (tmp_path / "o").exists()


def test_a_command_line_prompt_over_the_click_limit_is_refused(clip, tmp_path):
    points = [f"--point={x},{y}" for x in range(1, 9) for y in range(1, 3)]  # 16 clicks for object 1
    proc = _vidseg("run", str(clip), "--out", "o", *points, "--point-limit", "10", "--model", "vidseg_synthetic_tiny",
                   cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2 and "16 clicks" in proc.stderr and "--point-limit" in proc.stderr, proc.stderr


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def test_duration_ends_a_run_on_time_while_a_model_step_is_still_running(clip, tmp_path):
    """--duration and the grace are kept by the run's clock, not by the model thread: a step that
    outlives them is left behind, the outputs are closed, and the process exits 130 (no C++ abort)."""
    start = time.monotonic()
    proc = _vidseg("run", str(clip), "--out", "o", "--point", "5,5", *SLOW, "--duration", "1", "--stop-grace", "1",
                   "--abort-deadline", "1", cwd=tmp_path)  # fmt: skip
    took = time.monotonic() - start
    assert proc.returncode == 130, proc.stderr
    assert "terminate called" not in proc.stderr and "Traceback" not in proc.stderr
    manifest = _manifest(tmp_path / "o")
    assert manifest["status"] == "aborted" and "left behind" in manifest["error"]
    assert manifest["frames"]["abandoned"] >= 1 and manifest["frames"]["missing"] is None
    assert "(aborted)" in proc.stderr and "(done)" not in proc.stderr
    assert not list((tmp_path / "o").glob(".*partial"))
    assert took < 60


def test_two_ctrl_c_during_a_long_step_end_the_run_within_the_deadline(clip, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "vidseg", "run", str(clip), "--out", "o", "--point", "5,5", *SLOW,
                             "--abort-deadline", "2"], cwd=tmp_path, env=_env(tmp_path), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    manifest = tmp_path / "o" / "manifest.json"
    deadline = time.monotonic() + 120
    while not manifest.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # inside the first step
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - sent < 2 + 8  # the deadline, and the outputs' closing
    assert proc.returncode == 130, stderr
    assert "terminate called" not in stderr and "Traceback" not in stderr
    assert _manifest(tmp_path / "o")["status"] == "aborted"


def test_max_frames_on_an_intact_file_is_no_damage(clip, tmp_path):
    proc = _vidseg("run", str(clip), "--out", "o", "--point", "5,5", "--model", "vidseg_synthetic_tiny", "--max-frames",
                   "5", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "damaged" not in proc.stderr
    frames = _manifest(tmp_path / "o")["frames"]
    assert frames["processed"] == 5 and frames["missing"] is None
    assert frames["read"] - frames["processed"] == frames["abandoned"]  # read ahead, never processed: counted


def _can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k none /mnt"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs `unshare -rm` and tmpfs mounts (a private mount namespace)")
def test_a_full_disk_gives_one_line_and_a_manifest_that_says_failed(tmp_path):
    frames = moving_shapes_clip(num_frames=120, height=240, width=320, num_objects=1, seed=4, fps=25)
    clip = write_clip_video(frames, tmp_path / "long.mp4", fps=25)
    disk = tmp_path / "disk"
    disk.mkdir()
    inner = (f"mount -t tmpfs -o size=200k none {disk} && {sys.executable} -m vidseg run {clip} --out {disk}/o "
             f"--point 100,100 --model vidseg_synthetic_tiny; code=$?; cp -r {disk}/o {tmp_path}/copy; exit $code")
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", inner], cwd=tmp_path, env=_env(tmp_path), capture_output=True,
                          text=True, timeout=240)  # fmt: skip
    errors = [line for line in proc.stderr.splitlines() if line.startswith("vidseg: error:")]
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and len(errors) == 1, proc.stderr
    assert "no space left" in errors[0]
    manifest = _manifest(tmp_path / "copy")
    assert manifest["status"] == "failed" and "no space left" in manifest["error"]
    assert not list((tmp_path / "copy").glob(".*partial"))
