"""The recipes in pipelines/ run on the package API."""

from __future__ import annotations

from pipelines.track_synthetic import track_clip


def test_track_synthetic_recipe(make_tracker):
    ious = track_clip(make_tracker(image_size=64), frames=3, objects=2)
    assert len(ious) == 3
    assert all(set(row) == {1, 2} and all(0.0 <= v <= 1.0 for v in row.values()) for row in ious)
