"""Session snapshots: saved and restored exactly, in this process or a fresh one; other models,
other format versions and damaged bytes refused in one line."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import warnings
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from vidseg.datasets.moving_shapes import SyntheticClip, moving_shapes_clip
from vidseg.errors import ConfigError, PromptError, VidsegError
from vidseg.models.tracking import Sam2Model, Sam2Tracker, build_model
from vidseg.models.tracking.snapshot import SNAPSHOT_FORMAT_VERSION, SessionSnapshot, SnapshotError
from vidseg.types import Frame, Prompt

REPO = Path(__file__).resolve().parents[3]
OPTIONS: dict[str, Any] = {"random_weights": True, "image_size": 128, "device": "cpu", "seed": 0}
FRAMES = 10
SNAP_AT = 4  # the snapshot is taken after frames 0..3 are stepped


def _model(**options: Any) -> Sam2Model:
    """A seeded random hiera-tiny whose mask logits reach realistic magnitudes (random weights give
    tiny ones, where a difference in the memory path would hide)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model("sam2.1_hiera_tiny", **{**OPTIONS, **options})
    with torch.no_grad():
        for mlp in model.net.sam_mask_decoder.output_hypernetworks_mlps:  # type: ignore[union-attr]
            mlp.layers[-1].weight.mul_(40.0)
            mlp.layers[-1].bias.mul_(40.0)
    return model


def _clip() -> SyntheticClip:
    return moving_shapes_clip(num_frames=FRAMES, height=96, width=128, num_objects=2, seed=1)


def _prompts(clip: SyntheticClip) -> dict[int, list[Prompt]]:
    """Points for object 1 and a mask for object 2 before the snapshot; after it, a new object
    (a box) and a correction click on object 1."""
    return {
        0: [Prompt(1, points=(clip.center(0, 1),), labels=(1,)), Prompt(2, mask=clip.mask(0, 2))],
        6: [Prompt(3, box=clip.box(6, 1))],
        7: [Prompt(1, points=(clip.center(7, 1),), labels=(1,))],
    }


def _run(session: Sam2Tracker, clip: SyntheticClip, start: int, stop: int) -> list[tuple[list[int], np.ndarray]]:
    """Step frames ``start..stop-1`` with their prompts; (object ids, logits) per frame."""
    prompts = _prompts(clip)
    out = []
    for t in range(start, stop):
        for prompt in prompts.get(t, []):
            session.add(prompt)
        result = session.step(clip.frames[t])
        out.append((result.object_ids.tolist(), result.logits))
    return out


def _worst(a: list[tuple[list[int], np.ndarray]], b: list[tuple[list[int], np.ndarray]]) -> float:
    assert [ids for ids, _ in a] == [ids for ids, _ in b]
    return max(float(np.abs(x - y).max()) for (_, x), (_, y) in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def model() -> Sam2Model:
    return _model()


@pytest.fixture(scope="module")
def clip() -> SyntheticClip:
    return _clip()


@pytest.fixture(scope="module")
def reference(model: Sam2Model, clip: SyntheticClip) -> list[tuple[list[int], np.ndarray]]:
    """The uninterrupted run: one session, never snapshotted, frames SNAP_AT.. onwards."""
    return _run(model.session(), clip, 0, FRAMES)[SNAP_AT:]


@pytest.fixture(scope="module")
def early(model: Sam2Model, clip: SyntheticClip) -> Sam2Tracker:
    """A session after two frames; tests only take snapshots of it (which leave it unchanged)."""
    session = model.session()
    _run(session, clip, 0, 2)
    return session


def continue_in_child(snapshot_path: str, out_path: str) -> None:
    """The fresh process's side: build the same seeded model, restore, step the following frames."""
    torch.set_num_threads(2)  # as tests/conftest.py sets it in the parent: bitwise equality needs it
    session = _model().restore(SessionSnapshot.load(snapshot_path))
    steps = _run(session, _clip(), SNAP_AT, FRAMES)
    np.savez(out_path, ids=json.dumps([ids for ids, _ in steps]), **{f"t{k}": x for k, (_, x) in enumerate(steps)})


def test_restored_in_a_fresh_process_gives_the_uninterrupted_logits_exactly(model, clip, reference, tmp_path):
    session = model.session()
    _run(session, clip, 0, SNAP_AT)
    path = session.snapshot().save(tmp_path / "session.vsnap")
    out = tmp_path / "child.npz"
    code = "import sys; from tests.models.tracking.test_snapshot import continue_in_child; continue_in_child(*sys.argv[1:])"
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-c", code, str(path), str(out)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(out) as data:
        child = list(zip(json.loads(str(data["ids"])), (data[f"t{k}"] for k in range(FRAMES - SNAP_AT)), strict=True))
    # Objects 1 and 2 from the snapshot, object 3 added after it, a correction of 1 after it too.
    assert [ids for ids, _ in child] == [[1, 2]] * 2 + [[1, 2, 3]] * 4
    assert min(float(np.abs(x).max()) for _, x in child) > 1.0  # realistic logits: a mix-up would show
    assert _worst(child, reference) == 0.0


def test_restored_in_this_process_from_memory_and_from_bytes_is_exact(model, clip, reference):
    session = model.session()
    _run(session, clip, 0, SNAP_AT)
    snap = session.snapshot()
    assert snap.object_ids == (1, 2) and snap.frame_index == SNAP_AT and snap.next_object_id == 3
    from_memory = model.restore(snap)
    from_bytes = model.restore(SessionSnapshot.from_bytes(snap.to_bytes()))
    assert from_memory.object_ids == from_bytes.object_ids == (1, 2)
    assert from_memory.frame_index == from_bytes.frame_index == SNAP_AT
    assert from_memory.memory_stats() == from_bytes.memory_stats() == session.memory_stats()
    assert _worst(_run(from_memory, clip, SNAP_AT, FRAMES), reference) == 0.0
    assert _worst(_run(from_bytes, clip, SNAP_AT, FRAMES), reference) == 0.0
    # The snapshot is a copy: the session it was taken from went on unchanged.
    assert _worst(_run(session, clip, SNAP_AT, FRAMES), reference) == 0.0


def test_prompts_queued_but_not_stepped_are_restored(model, clip):
    """A snapshot between add_prompt and step: a new object (points), a new one (mask) and a
    correction of a tracked one wait for the next frame, in their order."""
    original = model.session()
    _run(original, clip, 0, SNAP_AT)
    original.add(Prompt(4, mask=clip.mask(SNAP_AT, 1)))
    original.add(Prompt(3, points=(clip.center(SNAP_AT, 2), (5.0, 5.0)), labels=(1, 0)))
    original.add(Prompt(2, box=clip.box(SNAP_AT, 2)))
    restored = model.restore(SessionSnapshot.from_bytes(original.snapshot().to_bytes()))
    assert restored.pending_ids == original.pending_ids == (4, 3, 2)
    assert restored.object_ids == (1, 2)
    mine, theirs = (s.step(clip.frames[SNAP_AT]) for s in (restored, original))
    assert mine.object_ids.tolist() == theirs.object_ids.tolist() == [1, 2, 4, 3]
    assert np.array_equal(mine.logits, theirs.logits)
    for t in range(SNAP_AT + 1, FRAMES):
        assert np.array_equal(restored.step(clip.frames[t]).logits, original.step(clip.frames[t]).logits)


def test_a_session_that_has_stepped_no_frame_restores_its_prompts(model, clip, reference):
    fresh = model.session()
    for prompt in _prompts(clip)[0]:
        fresh.add(prompt)
    snap = SessionSnapshot.from_bytes(fresh.snapshot().to_bytes())
    assert snap.frame_index == 0 and snap.maskmem_pos_enc is None and snap.object_ids == (1, 2)
    restored = model.restore(snap)
    steps = []
    prompts = _prompts(clip)
    for t in range(FRAMES):
        for prompt in prompts.get(t, []) if t else []:
            restored.add(prompt)
        result = restored.step(clip.frames[t])
        steps.append((result.object_ids.tolist(), result.logits))
    assert _worst(steps[SNAP_AT:], reference) == 0.0


def test_last_frame_kept_lets_the_restored_session_refine_it_exactly(model, clip):
    original = model.session()
    record = None
    for t in range(SNAP_AT):
        if t == 0:
            for prompt in _prompts(clip)[0]:
                original.add(prompt)
        record = Frame(clip.frames[t], index=100 + t, pts=3 * t, time_base=Fraction(1, 75), source_id="cam", epoch=2)
        original.step(record)
    assert record is not None
    snap = SessionSnapshot.from_bytes(original.snapshot(last_frame=record, extra={"classes": {"1": "car"}}).to_bytes())
    assert (snap.epoch, snap.last_source_index, snap.extra) == (2, 103, {"classes": {"1": "car"}})
    restored = model.restore(snap)
    click = {"points": [clip.center(SNAP_AT - 1, 1), (4.0, 4.0)], "labels": [1, 0]}
    mine, theirs = restored.refine(1, **click), original.refine(1, **click)
    assert np.array_equal(mine.logits, theirs.logits)
    assert mine.frame is not None and theirs.frame is not None
    assert (mine.frame.index, mine.frame.pts, mine.frame.time_base, mine.frame.epoch) == (103, 9, Fraction(1, 75), 2)
    assert np.array_equal(mine.frame.image, theirs.frame.image)
    for t in range(SNAP_AT, FRAMES):
        assert np.array_equal(restored.step(clip.frames[t]).logits, original.step(clip.frames[t]).logits)


def test_without_last_frame_refine_is_refused_in_one_line_and_stepping_goes_on(model, clip):
    session = model.session()
    _run(session, clip, 0, SNAP_AT)
    restored = model.restore(session.snapshot())
    with pytest.raises(PromptError, match="without that frame's pixels") as caught:
        restored.refine(1, points=[clip.center(SNAP_AT - 1, 1)])
    assert "\n" not in str(caught.value) and "last_frame" in str(caught.value)
    assert len(restored.step(clip.frames[SNAP_AT])) == 2


def test_float16_snapshot_is_smaller_and_close(model, clip, reference):
    session = model.session()
    _run(session, clip, 0, SNAP_AT)
    exact, half = session.snapshot().to_bytes(), session.snapshot(dtype="float16").to_bytes()
    assert len(half) < len(exact)
    restored = model.restore(SessionSnapshot.from_bytes(half))
    worst = _worst(_run(restored, clip, SNAP_AT, FRAMES), reference)
    peak = max(float(np.abs(x).max()) for _, x in reference)
    # Measured: 1.2e-05 at 128 px over 6 frames, with logits up to 12 (the spatial memories are
    # bf16 in the session already, so only pointers and logits are rounded).
    assert 0.0 < worst <= 1e-4, f"float16 snapshot: max |difference| {worst:.3g} against logits up to {peak:.3g}"


@pytest.mark.parametrize(
    ("options", "what"),
    [
        ({"image_size": 64}, "image size 128 expected"),
        ({"seed": 1}, "weights digest"),
        ({"model_overrides": {"model.max_cond_frames_in_attn": 4}}, "settings digest"),
        ({"max_cond_frames": 3}, "settings digest"),
    ],
    ids=["image-size", "weights", "sam2-config", "session-option"],
)
def test_a_snapshot_of_another_model_is_refused_in_one_line(model, early, options, what):
    snap = early.snapshot()
    with pytest.raises(SnapshotError, match=what) as caught:
        _model(**options).restore(snap)
    message = str(caught.value)
    assert "\n" not in message and "expected" in message and "found" in message and "build_model(" in message
    assert isinstance(caught.value, VidsegError) and isinstance(caught.value, ValueError)


def test_weights_changed_in_place_after_the_snapshot_are_noticed(clip):
    model = _model()
    session = model.session()
    _run(session, clip, 0, 2)
    snap = session.snapshot()
    model.restore(snap)  # the same weights: accepted
    with torch.no_grad():
        next(model.net.parameters()).mul_(1.5)
    with pytest.raises(SnapshotError, match="weights digest"):
        model.restore(snap)


def test_another_format_version_is_refused_from_memory_and_from_bytes(model, early):
    future = dataclasses.replace(early.snapshot(), version=SNAPSHOT_FORMAT_VERSION + 1)
    with pytest.raises(SnapshotError, match=f"version {SNAPSHOT_FORMAT_VERSION} expected, found version 2"):
        model.restore(future)
    with pytest.raises(SnapshotError, match=f"version {SNAPSHOT_FORMAT_VERSION} expected, found version 2") as caught:
        SessionSnapshot.from_bytes(future.to_bytes())
    assert "\n" not in str(caught.value)


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def _other_safetensors(_: bytes) -> bytes:
    from safetensors.torch import save

    return bytes(save({"weight": torch.zeros(3)}))


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda d: d[: len(d) // 2], "damaged"),
        (lambda d: d[:5], "damaged"),
        (lambda d: b"", "damaged"),
        (lambda d: b"definitely not a snapshot, just text" * 4, "damaged"),
        (lambda d: _flip(d, len(d) - 200), "SHA-256 does not match"),  # a bit of a tensor
        (lambda d: d.replace(b'\\"frame_index\\": 2', b'\\"frame_index\\": 3'), "SHA-256 does not match"),  # valid JSON
        (_other_safetensors, "a vidseg session snapshot expected"),
    ],
    ids=["truncated", "header-only", "empty", "text", "tensor-bit", "json-edit", "other-safetensors"],
)
def test_damaged_bytes_are_refused_in_one_line(early, damage, match):
    data = early.snapshot().to_bytes()
    bad = damage(data)
    assert bad != data
    with pytest.raises(SnapshotError, match=match) as caught:
        SessionSnapshot.from_bytes(bad)
    assert "\n" not in str(caught.value)


def test_save_and_load_round_trip_and_a_missing_file(model, clip, tmp_path):
    session = model.session()
    _run(session, clip, 0, SNAP_AT)
    snap = session.snapshot()
    loaded = SessionSnapshot.load(snap.save(tmp_path / "s.vsnap"))
    assert not list(tmp_path.glob("*.partial"))
    assert (loaded.model, loaded.frame_index, loaded.object_ids, loaded.pending_order, loaded.last_size) == (
        snap.model, snap.frame_index, snap.object_ids, snap.pending_order, snap.last_size)  # fmt: skip
    for a, b in zip(loaded.objects, snap.objects, strict=True):
        assert [t for t, _ in a.non_cond] == [t for t, _ in b.non_cond] and [t for t, _ in a.cond] == [0]
        for (_, x), (_, y) in zip(a.entries(), b.entries(), strict=True):
            for u, v in zip(x.tensors(), y.tensors(), strict=True):
                assert u.dtype == v.dtype and torch.equal(u, v)
    with pytest.raises(SnapshotError, match="cannot read session snapshot"):
        SessionSnapshot.load(tmp_path / "missing.vsnap")


@pytest.mark.parametrize(
    "kwargs",
    [{"dtype": "bfloat16"}, {"extra": {"bad": object()}}, {"last_frame": np.zeros((8, 8, 3), np.uint8)}],
    ids=["dtype", "extra-not-json", "last-frame-size"],
)
def test_bad_snapshot_options_are_config_errors(early, kwargs):
    with pytest.raises(ConfigError):
        early.snapshot(**kwargs)
