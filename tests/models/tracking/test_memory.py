"""The memory bank stays bounded on long streams."""

from __future__ import annotations

import numpy as np

from vidseg.datasets.moving_shapes import moving_shapes_clip
from vidseg.models.tracking.memory import MemoryWindow


def test_retained_state_stops_growing_over_300_frames(make_tracker):
    clip = moving_shapes_clip(num_frames=60, height=96, width=128, num_objects=2, seed=3)
    tracker = make_tracker(image_size=128)
    tracker.add_prompt(1, points=[clip.center(0, 1)])
    tracker.add_prompt(2, box=clip.box(0, 2))
    stats = []
    for t in range(300):
        tracker.step(clip.frames[t % len(clip.frames)])
        stats.append(tracker.memory_stats())
    window = MemoryWindow.of(tracker.model)
    full = max(window.num_maskmem, window.max_obj_ptrs) + 1
    assert stats[full] == stats[50] == stats[299]
    # Per object: the prompt frame, and the 15 pointer frames the next frame reads plus one more
    # (so the latest frame can still be corrected), of which 6 + 1 keep spatial memory.
    assert stats[299].cond_frames == 2
    assert stats[299].non_cond_frames == 2 * window.max_obj_ptrs
    for memory in tracker._memories.values():
        assert sum(e.maskmem_features is not None for e in memory.non_cond.values()) == window.num_maskmem
    assert stats[5].bytes < stats[299].bytes  # it did grow while the window filled


def test_conditioning_frames_are_capped_keeping_the_first(make_tracker):
    clip = moving_shapes_clip(num_frames=12, height=96, width=128, num_objects=1, seed=4)
    tracker = make_tracker(image_size=64, max_cond_frames=3)
    for t, frame in enumerate(clip.frames):
        if t % 2 == 0:
            tracker.add_prompt(1, points=[clip.center(t, 1)])
        tracker.step(frame)
    memory = tracker._memories[1]
    assert sorted(memory.cond) == [0, 8, 10]


def test_removed_object_frees_its_memory(make_tracker):
    clip = moving_shapes_clip(num_frames=4, height=96, width=128, num_objects=2, seed=5)
    tracker = make_tracker(image_size=64)
    tracker.add_prompt(1, points=[clip.center(0, 1)])
    tracker.add_prompt(2, points=[clip.center(0, 2)])
    tracker.step(clip.frames[0])
    tracker.step(clip.frames[1])
    tracker.remove_object(1)
    result = tracker.step(clip.frames[2])
    assert result.object_ids.tolist() == [2]
    assert tracker.memory_stats().objects == 1
    tracker.remove_object(2)
    result = tracker.step(clip.frames[3])
    stats = tracker.memory_stats()
    assert len(result) == 0
    assert (stats.objects, stats.cond_frames, stats.non_cond_frames) == (0, 0, 0)
    assert stats.tensors == 1  # only the memory position encoding, shared by all objects


def test_memory_windows_follow_sam2_formula():
    window = MemoryWindow(num_maskmem=7, stride=1, max_obj_ptrs=16, use_obj_ptrs=True)
    assert window.maskmem_frames(20) == {19, 18, 17, 16, 15, 14}
    assert window.pointer_frames(20) == set(range(5, 20))
    strided = MemoryWindow(num_maskmem=7, stride=3, max_obj_ptrs=16, use_obj_ptrs=False)
    # t-1, then every 3rd frame below ((t-2)//3)*3: 18, 15, 12, 9, 6.
    assert strided.maskmem_frames(20) == {19, 18, 15, 12, 9, 6}
    assert strided.pointer_frames(20) == set()


def test_stepping_with_no_objects_returns_an_empty_result(make_tracker):
    tracker = make_tracker(image_size=64)
    frame = np.zeros((50, 70, 3), dtype=np.uint8)
    result = tracker.step(frame)
    assert len(result) == 0
    assert result.masks.shape == (0, 50, 70) and result.logits.shape == (0, 50, 70)
    assert result.model.random_weights
    assert tracker.frame_index == 1
