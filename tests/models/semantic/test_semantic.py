"""Semantic models beside the tracker: backends, label maps, fusion with the tracked objects,
every-K labelling, and the semantic label video of a run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vidseg.datasets.moving_shapes import moving_shapes_clip, write_clip_video
from vidseg.errors import CheckpointError, InputError, UnknownModelError
from vidseg.formats.label_video import read_label_video
from vidseg.formats.objects_jsonl import read_objects_jsonl
from vidseg.models.semantic import SEMANTIC_MODELS, build_semantic_model
from vidseg.pipeline.semantic import SemanticStage
from vidseg.results import SemanticMap
from vidseg.types import Frame

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("name", sorted(SEMANTIC_MODELS))
def test_every_backend_gives_a_label_map_of_the_frame_size(name):
    model = build_semantic_model(name, random_weights=True, input_size=64)
    image = np.random.default_rng(1).integers(0, 255, (50, 70, 3), dtype=np.uint8)
    labels = model.predict(image)
    assert labels.shape == (50, 70) and labels.dtype == np.uint8 and int(labels.max()) < len(model.classes)
    assert model.classes[0] == "background" and len(set(model.classes)) == len(model.classes)
    assert model.label(image).classes == model.classes


def test_the_unet_names_its_classes_in_its_config_and_they_are_the_generators():
    from vidseg.datasets.synth.spec import SHAPE_CLASSES

    spec = SEMANTIC_MODELS["vidseg_unet_synthetic"]
    assert spec.classes == ("background", *(SHAPE_CLASSES[k] for k in range(1, max(SHAPE_CLASSES) + 1)))
    assert build_semantic_model(spec.name).classes == spec.classes  # the shipped weights record the same
    assert build_semantic_model(spec.name, random_weights=True).classes == spec.classes


def test_missing_weights_and_unknown_names_are_one_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match=r"lraspp_mobilenet_v3_large-d234d4ea\.pth.*--semantic-checkpoint"):
        build_semantic_model("lraspp_mobilenet_v3_large", cache_dir=tmp_path, download=False)
    with pytest.raises(CheckpointError, match="does not exist; check --semantic-checkpoint"):
        build_semantic_model("vidseg_unet_synthetic", tmp_path / "missing.pt")
    with pytest.raises(UnknownModelError, match="lraspp_mobilenet_v3_large"):
        build_semantic_model("segformer-b9")


def test_a_tree_without_the_shipped_unet_weights_says_what_to_do(tmp_path, monkeypatch):
    from vidseg.models.semantic import build

    monkeypatch.setattr(build, "SHIPPED_WEIGHTS", tmp_path)
    with pytest.raises(CheckpointError, match=r"vidseg_unet_synthetic\.pt is missing.*--semantic-checkpoint FILE"):
        build_semantic_model("vidseg_unet_synthetic")


def test_histogram_and_majority_class_on_a_constructed_map():
    labels = np.zeros((4, 6), np.uint8)
    labels[:, :2] = 1  # 8 px of class 1
    labels[0, 2:5] = 2  # 3 px of class 2
    semantic = SemanticMap(labels, ("background", "car", "person"))
    assert semantic.histogram() == {"background": 13, "car": 8, "person": 3}
    mask = np.zeros((4, 6), bool)
    mask[0, :5] = True  # 2 px car, 3 px person
    assert semantic.majority(mask) == ("person", 0.6)
    assert semantic.majority(np.zeros((4, 6), bool)) is None
    with pytest.raises(InputError, match="class 3"):
        SemanticMap(np.full((2, 2), 3, np.uint8), ("a", "b"))


def test_every_k_labels_every_kth_frame_and_marks_the_others_reused():
    model = build_semantic_model("vidseg_unet_synthetic", random_weights=True, input_size=64)
    stage = SemanticStage(model, every=3)
    frames = [Frame(np.full((32, 48, 3), 20 * k, np.uint8), index=k) for k in range(7)]
    out = [stage(frame) for frame in frames]
    assert [o.semantic.reused for o in out] == [False, True, True, False, True, True, False]
    assert stage.computed == 3
    assert [o.key.index for o in out] == list(range(7))
    assert np.array_equal(out[1].semantic.labels, out[0].semantic.labels)


def test_a_run_with_semantic_writes_one_map_per_frame_at_the_sources_times(tmp_path):
    clip = moving_shapes_clip(num_frames=8, height=64, width=96, num_objects=1, seed=3, fps=25)
    source = write_clip_video(clip, tmp_path / "clip.mp4", fps=25)
    proc = subprocess.run(
        [sys.executable, "-m", "vidseg", "run", str(source), "--out", str(tmp_path / "o"), "--point", "48,32",
         "--random-weights", "--image-size", "64", "--semantic", "vidseg_unet_synthetic",
         "--semantic-random-weights", "--semantic-size", "64", "--semantic-every", "2"],
        cwd=tmp_path, capture_output=True, text=True, timeout=240, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    maps = list(read_label_video(tmp_path / "o" / "semantic.mkv"))
    records = list(read_objects_jsonl(tmp_path / "o" / "objects.jsonl"))
    assert len(maps) == len(records) == 8
    assert [round(m.time, 3) for m in maps] == [round(r.time, 3) for r in records]  # type: ignore[arg-type]
    assert [r.semantic_reused for r in records] == [False, True] * 4
    classes = ("background", "disc", "ellipse", "rectangle", "triangle", "star", "polygon", "blob")
    for semantic, record in zip(maps, records, strict=True):  # the video reads back the exact maps
        assert dict(record.class_histogram or ()) == SemanticMap(semantic.labels.astype(np.uint8), classes).histogram()
        for obj in record.objects:
            assert obj.semantic_class in classes and 0 < (obj.class_fraction or 0) <= 1
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["config"]["semantic"]["model"] == "vidseg_unet_synthetic"
    # What maps semantic.mkv's class ids to names: the model's own section.
    assert manifest["semantic"]["name"] == "vidseg_unet_synthetic" and manifest["semantic"]["classes"] == list(classes)
    assert manifest["semantic"]["random_weights"] is True and manifest["semantic"]["input_size"] == 64


def test_track_class_creates_capped_objects_after_the_prompted_ids(tmp_path):
    """The path of --track-class (random weights: which regions it finds means nothing; that
    regions become objects with new ids, marked in the events, capped, does)."""
    from vidseg.config import TrackerConfig
    from vidseg.pipeline.job import JobConfig, run_job
    from vidseg.pipeline.semantic import SemanticConfig
    from vidseg.prompts.spec import ScheduledPrompt
    from vidseg.types import Prompt

    clip = moving_shapes_clip(num_frames=10, height=64, width=96, num_objects=1, seed=3, fps=25)
    source = write_clip_video(clip, tmp_path / "clip.mp4", fps=25)
    semantic = SemanticConfig("vidseg_unet_synthetic", random_weights=True, input_size=64)
    labels = build_semantic_model("vidseg_unet_synthetic", random_weights=True, input_size=64).predict(clip.frames[0])
    present = [c for k, c in enumerate(SemanticMap(labels, semantic_classes()).classes) if k and (labels == k).sum() >= 64]
    assert present, "the seeded model labels some class over 64 px"
    config = JobConfig(
        source=str(source), out=tmp_path / "o", prompts=(ScheduledPrompt(Prompt(3, points=((48.0, 32.0),), labels=(1,))),),
        tracker=TrackerConfig(random_weights=True, image_size=64, device="cpu"), semantic=semantic,
        track_classes=(present[0],), max_objects=2,
    )  # fmt: skip
    run_job(config, show_progress=False)
    records = list(read_objects_jsonl(tmp_path / "o" / "objects.jsonl"))
    ids = sorted({o.obj_id for r in records for o in r.objects})
    assert ids[0] == 3 and 1 < len(ids) <= 3 and all(i > 3 for i in ids[1:])  # new ids after the prompted one, capped
    marks = {o.obj_id: o.track_class for r in records for o in r.objects}
    assert marks[3] is None and all(marks[i] == present[0] for i in ids[1:])  # objects made by class say so
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    # the prompted object, then one prompt per object tracking by class made, each with its frame
    assert [(p["origin"], p["id"]) for p in manifest["prompts"]] == [("command line", 3)] + [
        ("track-class", i) for i in ids[1:]]  # fmt: skip
    assert all(isinstance(p.get("applied_frame"), int) for p in manifest["prompts"][1:])


def semantic_classes() -> tuple[str, ...]:
    return ("background", "disc", "ellipse", "rectangle", "triangle", "star", "polygon", "blob")


def test_track_class_without_a_semantic_model_or_with_an_unknown_class_is_one_line(tmp_path):
    clip = moving_shapes_clip(num_frames=2, height=32, width=32, num_objects=1, seed=3, fps=25)
    source = write_clip_video(clip, tmp_path / "clip.mp4", fps=25)
    base = [sys.executable, "-m", "vidseg", "run", str(source), "--out", str(tmp_path / "o"), "--random-weights"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    no_model = subprocess.run([*base, "--track-class", "disc"], capture_output=True, text=True, env=env, timeout=120)
    assert no_model.returncode == 2 and "needs a semantic model" in no_model.stderr
    unknown = subprocess.run([*base, "--track-class", "truck", "--semantic", "vidseg_unet_synthetic",
                              "--semantic-random-weights"], capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert unknown.returncode == 2 and "'truck'" in unknown.stderr and "disc" in unknown.stderr
