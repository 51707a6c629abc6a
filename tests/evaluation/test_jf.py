"""The J&F measures and their statistics, against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vidseg.errors import ConfigError, InputError
from vidseg.evaluation import (
    FramePair,
    boundary_map,
    boundary_measure,
    boundary_radius,
    evaluate_sequence,
    region_similarity,
    summarize,
)
from vidseg.evaluation.jf import ObjectRule, decay_bins, disk


def square(top: int, left: int, size: int, shape: tuple[int, int] = (100, 100)) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[top : top + size, left : left + size] = True
    return mask


def dot(y: int, x: int, shape: tuple[int, int] = (100, 100)) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[y, x] = True
    return mask


EMPTY = np.zeros((100, 100), bool)


@pytest.mark.parametrize(
    ("pred", "gt", "expected"),
    [
        (square(20, 20, 20), square(20, 20, 20), 1.0),
        (square(20, 20, 20), square(30, 30, 20), 100 / 700),  # 10x10 overlap of two 20x20 squares
        (square(20, 20, 20), square(20, 21, 20), 380 / 420),
        (square(0, 0, 10), square(80, 80, 10), 0.0),
        (EMPTY, EMPTY, 1.0),
        (EMPTY, square(5, 5, 3), 0.0),
        (square(5, 5, 3), EMPTY, 0.0),
        (square(20, 20, 20), square(25, 25, 10), 100 / 400),  # prediction contains the truth
    ],
    ids=["identical", "corner-overlap", "shift-1px", "disjoint", "both-empty", "pred-empty", "gt-empty", "nested"],
)
def test_region_similarity(pred, gt, expected):
    assert region_similarity(pred, gt) == pytest.approx(expected, abs=1e-12)


def test_region_similarity_takes_label_values_as_foreground():
    assert region_similarity(np.array([[3, 3, 0, 0]]), np.array([[0, 1, 1, 0]])) == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("shape", "bound_th", "radius"),
    [((100, 100), 0.008, 2), ((480, 854), 0.008, 8), ((1080, 1920), 0.008, 18), ((100, 100), 3, 3), ((10, 10), 0.1, 2)],
)
def test_boundary_radius(shape, bound_th, radius):
    assert boundary_radius(shape, bound_th) == radius
    assert radius == (math.ceil(bound_th * math.hypot(*shape)) if bound_th < 1 else bound_th)


@pytest.mark.parametrize("bound_th", [0, -0.1, float("nan"), float("inf"), 2.5])
def test_bad_bound_th_is_a_config_error(bound_th):
    with pytest.raises(ConfigError, match="bound_th"):
        boundary_radius((10, 10), bound_th)
    with pytest.raises(ConfigError, match="bound_th"):
        boundary_measure(square(2, 2, 3, (10, 10)), square(2, 2, 3, (10, 10)), bound_th)


def test_disk_is_the_euclidean_disk_not_opencvs_ellipse():
    expected = np.array(
        [
            [0, 0, 1, 0, 0],
            [0, 1, 1, 1, 0],
            [1, 1, 1, 1, 1],
            [0, 1, 1, 1, 0],
            [0, 0, 1, 0, 0],
        ]
    )
    np.testing.assert_array_equal(disk(2), expected)


def test_boundary_map_of_a_small_block():
    mask = np.zeros((5, 6), bool)
    mask[1:3, 2:4] = True  # rows 1-2, columns 2-3
    # The boundary sits half a pixel towards the origin: the block's last row and column, and
    # the row and column just before it.
    expected = np.array(
        [
            [0, 1, 1, 1, 0, 0],
            [0, 1, 0, 1, 0, 0],
            [0, 1, 1, 1, 0, 0],
            [0, 0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 0],
        ],
        bool,
    )
    np.testing.assert_array_equal(boundary_map(mask), expected)


def test_boundary_map_of_full_and_border_masks():
    assert not boundary_map(np.ones((6, 7), bool)).any()
    left = np.zeros((4, 5), bool)
    left[:, :2] = True  # touches the top, left and bottom edges: only the inner edge is a boundary
    expected = np.zeros((4, 5), bool)
    expected[:, 1] = True
    np.testing.assert_array_equal(boundary_map(left), expected)


def _boundary_by_definition(mask: np.ndarray) -> np.ndarray:
    """Pixel by pixel: differs from an existing right, bottom or bottom-right neighbour."""
    height, width = mask.shape
    out = np.zeros_like(mask, bool)
    for y in range(height):
        for x in range(width):
            for dy, dx in ((0, 1), (1, 0), (1, 1)):
                if y + dy < height and x + dx < width and mask[y + dy, x + dx] != mask[y, x]:
                    out[y, x] = True
    return out


def _f_by_definition(pred: np.ndarray, gt: np.ndarray, radius: int) -> float:
    """F with matches found by brute-force distances between boundary pixels."""
    pb, gb = np.argwhere(_boundary_by_definition(pred)), np.argwhere(_boundary_by_definition(gt))
    if len(pb) == 0 or len(gb) == 0:
        return 1.0 if len(pb) == len(gb) else 0.0
    dist2 = ((pb[:, None, :] - gb[None, :, :]) ** 2).sum(-1)
    precision = float(np.mean(dist2.min(axis=1) <= radius * radius))
    recall = float(np.mean(dist2.min(axis=0) <= radius * radius))
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _random_mask(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, bool)
    for _ in range(rng.integers(0, 3)):
        y, x = rng.integers(0, shape[0]), rng.integers(0, shape[1])
        mask[y : y + rng.integers(1, shape[0]), x : x + rng.integers(1, shape[1])] = True  # often touches an edge
    return mask ^ (rng.random(shape) < 0.03)


@pytest.mark.parametrize("seed", range(6))
def test_boundary_map_and_f_match_their_definitions_on_random_masks(seed):
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(2, 40)), int(rng.integers(2, 40)))
    pred, gt = _random_mask(rng, shape), _random_mask(rng, shape)
    np.testing.assert_array_equal(boundary_map(pred), _boundary_by_definition(pred))
    for bound_th in (0.008, 0.05, 1, 4):
        radius = boundary_radius(shape, bound_th)
        assert boundary_measure(pred, gt, bound_th) == pytest.approx(_f_by_definition(pred, gt, radius), abs=1e-12)


@pytest.mark.parametrize(
    ("pred", "gt", "bound_th", "expected"),
    [
        pytest.param(square(20, 20, 20), square(20, 20, 20), 0.008, 1.0, id="identical"),
        pytest.param(square(0, 0, 10), square(80, 80, 10), 0.008, 0.0, id="disjoint"),
        # A 1 px shift moves each boundary pixel by at most 1 px: all matched within r = 2.
        pytest.param(square(20, 21, 20), square(20, 20, 20), 0.008, 1.0, id="shift-1px"),
        # A 3 px shift on a 100x100 image (r = 2): each 80-pixel ring matches 20 + 20 of its 21-pixel
        # top and bottom rows and 4 of the 19 inner pixels of one side column: P = R = 44/80.
        pytest.param(square(20, 23, 20), square(20, 20, 20), 0.008, 44 / 80, id="shift-3px"),
        pytest.param(square(20, 23, 20), square(20, 20, 20), 3, 1.0, id="shift-3px-radius-3"),
        pytest.param(EMPTY, EMPTY, 0.008, 1.0, id="both-empty"),
        pytest.param(EMPTY, square(5, 5, 3), 0.008, 0.0, id="pred-empty"),  # DAVIS: P = 1, R = 0
        pytest.param(square(5, 5, 3), EMPTY, 0.008, 0.0, id="gt-empty"),  # DAVIS: P = 0, R = 1
        # One-pixel masks have 2x2 boundaries. Offset (2, 2): the closest pair is 1,1 apart, one of
        # four pixels matched each way. Offset (1, 3): one pair 2 apart, same. Offset (2, 3): the
        # closest pair is (1, 2) apart, outside the disk of radius 2 (inside OpenCV's 5x5 ellipse).
        pytest.param(dot(50, 50), dot(52, 52), 0.008, 0.25, id="dots-2-2"),
        pytest.param(dot(50, 50), dot(51, 53), 0.008, 0.25, id="dots-1-3"),
        pytest.param(dot(50, 50), dot(52, 53), 0.008, 0.0, id="dots-2-3"),
    ],
)
def test_boundary_measure(pred, gt, bound_th, expected):
    assert boundary_measure(pred, gt, bound_th) == pytest.approx(expected, abs=1e-12)


def test_shifted_square_has_f_one_but_j_below_one():
    pred, gt = square(20, 21, 20), square(20, 20, 20)
    assert boundary_measure(pred, gt) == 1.0
    assert region_similarity(pred, gt) < 1.0


@pytest.mark.parametrize("shapes", [((10, 10), (10, 11)), ((10,), (10,)), ((2, 3, 4), (2, 3, 4))])
def test_masks_of_different_or_wrong_shape(shapes):
    pred, gt = np.zeros(shapes[0], bool), np.zeros(shapes[1], bool)
    with pytest.raises(InputError, match="same size"):
        region_similarity(pred, gt)
    with pytest.raises(InputError, match="same size"):
        boundary_measure(pred, gt)


@pytest.mark.parametrize(
    ("count", "bins"),
    [
        (1, [(0, 1)] * 4),
        (2, [(0, 1), (0, 2), (1, 2), (1, 2)]),
        (3, [(0, 2), (1, 2), (1, 3), (2, 3)]),
        (8, [(0, 3), (2, 5), (4, 6), (5, 8)]),
        (10, [(0, 3), (2, 6), (5, 8), (7, 10)]),  # edges 1, 3.25, 5.5 -> 6 (half up), 7.75, 10
    ],
)
def test_decay_bins(count, bins):
    assert decay_bins(count) == bins


@pytest.mark.parametrize(
    ("values", "mean", "recall", "decay"),
    [
        ([1, 1, 1, 0.5, 0.5, 0, 0, 0], 0.5, 3 / 8, 1.0),  # 0.5 is not above 0.5
        ([1, 0.5, 0.5, 0, 0.25], 0.45, 0.2, 0.75 - 0.125),  # bins [0, 2) and [3, 5)
        ([1, 0, 0], 1 / 3, 1 / 3, 0.5),  # first bin holds frames 0 and 1
        ([0.8, 0.2], 0.5, 0.5, 0.6),
        ([0.7], 0.7, 1.0, 0.0),
        ([0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0, 1.0], 0.75, 0.75, 0.4 - 1.0),  # improving: negative decay
    ],
)
def test_summarize(values, mean, recall, decay):
    summary = summarize(values)
    assert (summary.mean, summary.recall, summary.decay) == pytest.approx((mean, recall, decay), abs=1e-12)


def test_summarize_nothing_is_an_error():
    with pytest.raises(InputError, match="zero frames"):
        summarize([])


def _labels(*objects: tuple[int, np.ndarray], shape: tuple[int, int] = (100, 100)) -> np.ndarray:
    labels = np.zeros(shape, np.uint8)
    for obj_id, mask in objects:
        labels[mask] = obj_id
    return labels


def _two_object_sequence() -> list[FramePair]:
    """10 frames. Object 1 is predicted right on frames 0-2 and missing after; object 2 is right
    on frames 1-8 and missing on the first and last frame."""
    one, two = square(10, 10, 20), square(50, 50, 30)
    frames = []
    for k in range(10):
        gt = _labels((1, one), (2, two))
        pred_objects = [(1, one)] if k <= 2 else []
        if 1 <= k <= 8:
            pred_objects.append((2, two))
        frames.append(FramePair(f"{k:02d}", _labels(*pred_objects), gt))
    return frames


def test_sequence_excludes_first_and_last_frame():
    one, two = evaluate_sequence("seq", _two_object_sequence())
    assert (one.sequence, one.obj_id, two.obj_id) == ("seq", 1, 2)
    assert one.frames == tuple(f"{k:02d}" for k in range(1, 9))
    assert one.j == (1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0) and one.f == one.j
    # Frames 1-8: J = 1, 1, 0, ..., 0. Decay bins [0, 3) and [5, 8): 2/3 - 0.
    assert (one.j_mean, one.j_recall, one.j_decay) == pytest.approx((0.25, 0.25, 2 / 3))
    assert (one.f_mean, one.f_recall, one.f_decay) == pytest.approx((0.25, 0.25, 2 / 3))
    assert (two.j_mean, two.j_recall, two.j_decay, two.f_mean) == (1.0, 1.0, 0.0, 1.0)
    assert one.jf_mean == pytest.approx(0.25)


def test_sequence_keeping_first_and_last_frame():
    one, two = evaluate_sequence("seq", _two_object_sequence(), keep_first_last=True)
    assert len(one.frames) == 10
    # Frames 0-9: J = 1, 1, 1, 0, ..., 0. Decay bins [0, 3) and [7, 10): 1 - 0.
    assert (one.j_mean, one.j_recall, one.j_decay) == pytest.approx((0.3, 0.3, 1.0))
    # Object 2: J = 0, 1, ..., 1, 0; both decay bins ([0, 3) and [7, 10)) average 2/3.
    assert (two.j_mean, two.j_recall, two.j_decay) == pytest.approx((0.8, 0.8, 0.0))


def test_an_object_seen_only_in_the_unscored_last_frame_is_no_object_and_extra_predicted_ids_are_ignored():
    """Object 3 appears only in the last ground-truth frame, which is not scored: scoring it would
    give J = F = 1.0 on every scored frame it is absent from and inflate J&F (it did)."""
    blob, late = square(10, 10, 20), square(60, 60, 10)
    frames = []
    for k in range(6):
        gt = _labels((1, blob), *([(3, late)] if k == 5 else []))  # object 3 only in the last (unscored) frame
        pred_objects = [(1, blob), (7, square(70, 0, 10))]  # id 7 is never in the ground truth
        if k == 2:
            pred_objects.append((3, late))  # predicted before it appears: wrong on frame 2
        frames.append(FramePair(str(k), _labels(*pred_objects), gt))
    (one,) = evaluate_sequence("seq", frames)
    assert one.obj_id == 1 and one.j == (1.0,) * 4
    # Scored on every frame, object 3 is an object (and frame 2's false positive counts against it).
    one, three = evaluate_sequence("seq", frames, keep_first_last=True)
    assert three.obj_id == 3 and three.j == (1.0, 1.0, 0.0, 1.0, 1.0, 0.0)  # missed where it appears


def test_objects_seen_in_a_scored_frame_or_the_first_count_whatever_the_rule_of_davis():
    a, b = square(10, 10, 20), square(60, 60, 10)
    frames = [FramePair(str(k), _labels((1, a)), _labels((1, a), *([(2, b)] if k == 2 else []))) for k in range(5)]
    assert [o.obj_id for o in evaluate_sequence("seq", frames)] == [1, 2]  # object 2 appears on a scored frame
    # DAVIS 2017's rule: ids 1..max of the first frame only.
    assert [o.obj_id for o in evaluate_sequence("seq", frames, objects=ObjectRule.FIRST_FRAME)] == [1]
    # ... and every id up to that max, even one absent from the first frame (as davis2017-evaluation does).
    gaps = [FramePair(str(k), _labels((1, a)), _labels((1, a), (3, b))) for k in range(4)]
    assert [o.obj_id for o in evaluate_sequence("seq", gaps, objects=ObjectRule.FIRST_FRAME)] == [1, 2, 3]


def test_gt_void_counts_as_background_and_is_never_an_object():
    obj = square(20, 20, 10)
    void = square(15, 15, 20) & ~obj  # a 5 px void band around the object, 300 px
    gt = _labels((255, void), (1, obj))
    pred = _labels((1, obj | void))  # predicting the void band is a false positive (DAVIS 2017)
    frames = [FramePair(str(k), pred, gt) for k in range(3)]
    (only,) = evaluate_sequence("seq", frames)
    assert only.obj_id == 1
    assert only.j == pytest.approx((100 / 400,))


@pytest.mark.parametrize("count", [0, 1, 2])
def test_too_few_frames(count):
    frames = [FramePair(str(k), _labels((1, square(1, 1, 5))), _labels((1, square(1, 1, 5)))) for k in range(count)]
    with pytest.raises(InputError, match="no frames" if count == 0 else "keep-first-last"):
        evaluate_sequence("short", frames)
    if count:
        (row,) = evaluate_sequence("short", frames, keep_first_last=True)
        assert row.j == (1.0,) * count


def test_ground_truth_without_objects_gives_no_rows():
    frames = [FramePair(str(k), _labels((1, square(1, 1, 5))), np.zeros((100, 100), np.uint8)) for k in range(4)]
    assert evaluate_sequence("empty", frames) == ()


def test_frame_pair_validates_sizes_and_types():
    with pytest.raises(InputError, match=r"00007: the prediction is 10x20 but the ground truth is 10x21"):
        FramePair("00007", np.zeros((10, 20), np.uint8), np.zeros((10, 21), np.uint8))
    with pytest.raises(InputError, match="integer label map"):
        FramePair("00007", np.zeros((10, 20), np.float32), np.zeros((10, 20), np.uint8))
