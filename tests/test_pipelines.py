"""The recipes in pipelines/ run on the package API."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from pipelines.track_synthetic import track_clip
from vidseg.models.tracking import build_tracker


def test_track_synthetic_recipe_follows_the_shapes_with_the_shipped_model(make_tracker):
    """The shipped synthetic model tracks the clicked shape (real masks: a wrong mask, a wrong
    id or a lost object fails this); random weights, the same recipe, do not."""
    for seed in (1, 2):
        ious = track_clip(build_tracker("vidseg_synthetic_tiny", device="cpu"), frames=8, objects=1, seed=seed)
        assert [set(row) for row in ious] == [{1}] * 8
        assert min(row[1] for row in ious) > 0.7, ious
    untrained = track_clip(make_tracker(image_size=64), frames=4, objects=1, seed=1)
    assert np.mean([row[1] for row in untrained]) < 0.5


def test_file_to_masks_recipe_on_odd_sized_variable_rate_video(tmp_path):
    """Odd frame size and irregular timestamps go through the whole job unchanged."""
    import av
    import numpy as np

    from pipelines.file_to_masks import file_to_masks
    from vidseg.config import TrackerConfig
    from vidseg.datasets.moving_shapes import moving_shapes_clip
    from vidseg.formats.label_video import read_label_video
    from vidseg.formats.objects_jsonl import read_objects_jsonl

    clip = moving_shapes_clip(num_frames=6, height=75, width=101, num_objects=1, seed=3)
    times_ms = [0, 40, 90, 100, 180, 400]  # variable frame rate
    path = tmp_path / "vfr.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 101, 75, "yuv444p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        for image, ms in zip(clip.frames, times_ms, strict=True):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = ms, stream.time_base
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    x, y = clip.center(0, 1)
    report = file_to_masks(
        path, tmp_path / "o", [f"{x},{y}"], tracker=TrackerConfig(random_weights=True, image_size=64)
    )
    assert report.status == "completed" and report.frames_processed == 6
    records = list(read_objects_jsonl(tmp_path / "o" / "objects.jsonl"))
    assert [round(r.time * 1000) for r in records] == times_ms
    labels = list(read_label_video(tmp_path / "o" / "masks.mkv"))
    assert [round(f.time * 1000) for f in labels] == times_ms
    with av.open(str(tmp_path / "o" / "overlay.mp4")) as overlay:
        assert [round(float(f.time) * 1000) for f in overlay.decode(video=0)] == times_ms
    assert labels[0].labels.shape == (75, 101)
    np.testing.assert_array_equal(labels[2].labels == 1, records[2].objects[0].mask())


def test_train_synthetic_recipe_keeps_every_tier_on_its_own_seeds_below_validation():
    from pathlib import Path

    from pipelines import train_synthetic as recipe

    assert set(recipe.SEED_BLOCKS) == set(recipe.TRAIN_TIERS)
    assert all(set(phase.tiers) <= set(recipe.TRAIN_TIERS) for phase in recipe.PHASES)
    for seed in (0, recipe.VAL_SEED0 // 100_000 - 1):  # the smallest and largest --seed allowed
        seeds = [set(recipe.tier_seeds(recipe.Recipe(out=Path("unused"), seed=seed), d)) for d in recipe.TRAIN_TIERS]
        assert sum(map(len, seeds)) == len(set().union(*seeds))  # no two tiers share a video
        assert max(map(max, seeds)) < recipe.VAL_SEED0


def test_train_synthetic_install_reads_the_last_phases_final_validation(tmp_path):
    import json

    import pytest

    from pipelines import train_synthetic as recipe
    from vidseg.errors import VidsegError

    records = [
        {"step": 250, "val_j": 0.7, "val_f": 0.6, "val_jf": 0.65},  # better, but not the final weights
        {"step": 300, "loss": 0.5},
        {"step": 300, "val_j": 0.64, "val_f": 0.6, "val_jf": 0.62},
        {"step": 300, "weights": "ema", "val_j": 0.66, "val_f": 0.62, "val_jf": 0.64},  # the weight average's
    ]
    (tmp_path / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert recipe.final_validation(tmp_path, 300) == {"val_j": 0.64, "val_f": 0.6, "val_jf": 0.62}
    assert recipe.final_validation(tmp_path, 300, average=True) == {"val_j": 0.66, "val_f": 0.62, "val_jf": 0.64}
    with pytest.raises(VidsegError, match="no validation at step 310"):
        recipe.final_validation(tmp_path, 310)  # stopped without its final validation
    with pytest.raises(VidsegError, match="no validation of the weight average at step 250"):
        recipe.final_validation(tmp_path, 250, average=True)


def test_train_synthetic_last_phase_fills_what_the_earlier_phases_left_of_the_budget():
    from pathlib import Path

    from pipelines import train_synthetic as recipe

    plan = recipe.Recipe(out=Path("unused"), minutes=86.0)
    *earlier, last = recipe.PHASES
    assert last.fill and not any(phase.fill for phase in earlier)
    assert abs(sum(phase.share for phase in recipe.PHASES) - 1.0) < 1e-9
    for phase in earlier:  # capped at their share, sized to it
        assert plan.minutes_for(phase, spent=5.0) == 86.0 * phase.share
        assert plan.steps(phase) == int(86.0 * 60 * phase.share / phase.seconds_per_step)
    # Earlier phases that ran faster than measured leave their minutes to the last one.
    assert plan.minutes_for(last, spent=25.0) == 61.0
    assert plan.steps(last, spent=25.0) == int(2 * 61.0 * 60 / last.seconds_per_step)
    assert plan.minutes_for(last, spent=90.0) == 0.0
