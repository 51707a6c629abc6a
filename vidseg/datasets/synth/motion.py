"""The trajectories of a synthetic clip's objects: placement on frame 0 (entirely inside the view,
apart or sent across each other), smooth random motion that bounces off the borders (and off each
other when objects must not overlap), and leave-and-return manoeuvres.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from vidseg.datasets.synth.bodies import Body
from vidseg.datasets.synth.spec import F64Array, VideoSpec
from vidseg.types import BoolArray

_LEAVE_REACH = 1.4  # peak excursion of a leave manoeuvre / distance needed to be out of view
_MIN_LEAVE_FRAMES = 6  # shortest manoeuvre: with the reach above, >= 3 frames fully out
_CANDIDATES = 32  # positions tried per object when placing it


class _Leave(NamedTuple):
    """A leave-and-return manoeuvre: from frame ``start`` for ``length`` frames the centre moves
    out along ``axis`` (0: x, 1: y) in direction ``sign`` by up to ``reach`` pixels, and back."""

    start: int
    length: int
    axis: int
    sign: float
    reach: float

    def active(self, t: int) -> bool:
        """Whether frame ``t`` is inside the manoeuvre (its offset may be non-zero)."""
        return self.start <= t <= self.start + self.length

    def offset(self, t: int) -> float:
        """Displacement along ``axis`` on frame ``t``."""
        if not self.active(t):
            return 0.0
        return self.sign * self.reach * math.sin(math.pi * (t - self.start) / self.length)


def _plan_leave(body: Body, position: F64Array, t: int, spec: VideoSpec) -> _Leave | None:
    """Out through the nearest border and back: a sine bump along the border's normal, reaching
    ``_LEAVE_REACH`` times the distance needed to be out of view, so the middle frames are all out."""
    frames_left = spec.num_frames - 2 - t  # back in view by frame T - 2
    if frames_left < _MIN_LEAVE_FRAMES:
        return None
    gaps = (position[0], spec.width - 1 - position[0], position[1], spec.height - 1 - position[1])
    side = int(np.argmin(gaps))
    reach = _LEAVE_REACH * (gaps[side] + body.bound + 2)
    speed = max(3 * spec.max_speed, 0.08) * min(spec.height, spec.width)
    length = min(max(math.ceil(math.pi * reach / speed), _MIN_LEAVE_FRAMES), frames_left)
    return _Leave(t, length, side // 2, -1.0 if side % 2 == 0 else 1.0, reach)


def _spread(candidates: F64Array, placed: F64Array, bounds: F64Array, bound: float) -> F64Array:
    """Per candidate centre, the smallest distance to a placed object over the sum of bounding radii."""
    if not len(placed):
        return np.full(len(candidates), np.inf)
    distances = np.hypot(*(candidates[:, None, :] - placed[None, :, :]).transpose(2, 0, 1))
    return np.asarray((distances / (bounds[None, :] + bound + 1)).min(axis=1), dtype=np.float64)


def _separate(points: F64Array, velocities: F64Array, bounds: F64Array, movable: BoolArray) -> None:
    """Push apart objects whose bounding circles overlap and bounce their velocities (in place)."""
    n = len(points)
    for _ in range(4):
        clean = True
        for i in range(n):
            for j in range(i + 1, n):
                delta = points[j] - points[i]
                distance, needed = float(np.hypot(*delta)), bounds[i] + bounds[j] + 1
                if distance >= needed or not (movable[i] or movable[j]):
                    continue
                clean = False
                normal = delta / distance if distance > 1e-9 else np.array([1.0, 0.0])
                share_i = 0.5 if movable[i] and movable[j] else float(movable[i])
                points[i] -= normal * (needed - distance) * share_i
                points[j] += normal * (needed - distance) * (1 - share_i)
                approach = float((velocities[j] - velocities[i]) @ normal)
                if approach < 0 and movable[i] and movable[j]:  # equal masses: swap normal components
                    velocities[i] += approach * normal
                    velocities[j] -= approach * normal
                elif approach < 0:  # bounce off an object that is leaving the view
                    k, sign = (j, 1.0) if movable[j] else (i, -1.0)
                    velocities[k] -= 2 * min(0.0, sign * float(velocities[k] @ normal)) * sign * normal
        if clean:
            return


class _Crossing(NamedTuple):
    """Where a new object may start so that it meets an earlier one (``partner``) on frame ``frame``."""

    partner: int
    frame: int
    meet: F64Array
    starts: F64Array
    velocities: F64Array


@dataclass
class _Motion:
    """The objects' positions and velocities while a clip's trajectories are simulated."""

    spec: VideoSpec
    bounds: F64Array  # bounding radius per object

    def __post_init__(self) -> None:
        count, spec = len(self.bounds), self.spec
        self.speed = spec.max_speed * min(spec.height, spec.width)
        mid = np.array([(spec.width - 1) / 2, (spec.height - 1) / 2])
        self.low = np.minimum(spec.edge_margin * self.bounds[:, None], mid)  # centre range in normal motion
        self.high = 2 * mid - self.low
        self.low0 = np.minimum(self.bounds[:, None] + 1, mid)  # centre range on frame 0: entirely inside
        self.high0 = 2 * mid - self.low0
        self.position, self.velocity = np.zeros((count, 2)), np.zeros((count, 2))
        self.locked = np.zeros(count, np.int64)  # straight, unperturbed motion until this frame

    def crossing(self, rng: np.random.Generator, i: int, j: int) -> _Crossing | None:
        """Plan object ``i`` to cross object ``j`` (already placed): both move straight to a meeting point."""
        last = self.spec.num_frames - 1
        if self.locked[j] >= 2:  # j is already on a straight course: meet it there
            frame = int(rng.integers(2, self.locked[j] + 1))
            meet = self.position[j] + self.velocity[j] * frame
        else:
            frame = int(rng.integers(max(2, last // 4), max(3, 3 * last // 4) + 1))
            step = rng.uniform(0, self.speed * frame) * _unit(rng.uniform(0, 2 * np.pi))
            low, high = np.maximum(self.low[i], self.low[j]), np.minimum(self.high[i], self.high[j])
            meet = np.clip(self.position[j] + step, low, high)
        velocities = (
            rng.uniform(0.4, 1.0, (_CANDIDATES, 1)) * self.speed * _unit(rng.uniform(0, 2 * np.pi, _CANDIDATES))
        )
        starts = meet - velocities * frame
        fits = np.all((starts >= self.low0[i]) & (starts <= self.high0[i]), axis=1)
        if not fits.any() or np.any((meet < self.low[i]) | (meet > self.high[i])):
            return None
        return _Crossing(j, frame, meet, starts[fits], velocities[fits])

    def place(self, rng: np.random.Generator, bodies: list[Body]) -> bool:
        """Frame-0 positions and velocities, crossings included; False when the objects must stay
        apart and do not fit."""
        separate = self.spec.occlusion_prob == 0
        for i, body in enumerate(bodies):
            self.velocity[i] = rng.uniform(0.3, 1.0) * self.speed * _unit(rng.uniform(0, 2 * np.pi))
            candidates = rng.uniform(self.low0[i], self.high0[i], (_CANDIDATES, 2))
            plan = None
            partners = [j for j in range(i) if not bodies[j].leaves]
            wanted = bool(partners) and not body.leaves and not separate and self.spec.num_frames >= 4
            if wanted and rng.random() < self.spec.occlusion_prob:
                plan = self.crossing(rng, i, partners[int(rng.integers(len(partners)))])
            if plan is not None:
                candidates = plan.starts
                if self.locked[plan.partner] < 2:
                    self.velocity[plan.partner] = (plan.meet - self.position[plan.partner]) / plan.frame
                    self.locked[plan.partner] = plan.frame
                self.locked[i], body.crosses = plan.frame, bodies[plan.partner].obj_id
            spread = _spread(candidates, self.position[:i], self.bounds[:i], body.bound)
            pick = int(np.argmax(spread))
            if separate and spread[pick] < 1:
                return False
            self.position[i] = candidates[pick]
            if plan is not None:
                self.velocity[i] = plan.velocities[pick]
        return True

    def step(self, rng: np.random.Generator, t: int, leaves: Mapping[int, _Leave]) -> None:
        """Advance from frame ``t`` to ``t + 1``: random acceleration, bounces off the centre range,
        and, when objects must stay apart, off each other."""
        kicks = rng.normal(0.0, self.spec.acceleration * self.speed, self.velocity.shape)
        for i in range(len(self.bounds)):
            leaving = i in leaves and leaves[i].active(t + 1)
            if t >= self.locked[i] and not leaving:
                self.velocity[i] += kicks[i]
                norm = float(np.hypot(*self.velocity[i]))
                if norm > self.speed:
                    self.velocity[i] *= self.speed / norm
            step = self.velocity[i].copy()
            if leaving:  # the manoeuvre drives the normal axis; drift along the border
                step[leaves[i].axis] = 0.0
            self.position[i] += step
            low, high = self.low[i], self.high[i]
            outside = (self.position[i] < low) | (self.position[i] > high)
            self.velocity[i, outside] *= -1
            self.position[i] = np.clip(2 * np.clip(self.position[i], low, high) - self.position[i], low, high)
        if self.spec.occlusion_prob == 0 and len(self.bounds) > 1:
            shown = self.shown(t + 1, leaves)
            movable = np.array([i not in leaves or not leaves[i].active(t + 1) for i in range(len(self.bounds))])
            _separate(shown, self.velocity, self.bounds, movable)
            self.position[movable] = np.clip(shown[movable], self.low[movable], self.high[movable])

    def shown(self, t: int, leaves: Mapping[int, _Leave]) -> F64Array:
        """The centres on frame ``t``: positions plus the offsets of leave manoeuvres."""
        centers = self.position.copy()
        for i, plan in leaves.items():
            centers[i, plan.axis] += plan.offset(t)
        return centers


def _unit(angle: float | F64Array) -> F64Array:
    """Unit vector(s) (x, y) at ``angle`` radians: (2,) or (N, 2)."""
    return np.stack([np.cos(angle), np.sin(angle)], axis=-1)


def move_bodies(rng: np.random.Generator, spec: VideoSpec, bodies: list[Body]) -> bool:
    """Fill every object's ``centers``; False when the objects must stay apart and do not fit."""
    motion = _Motion(spec, np.array([body.bound for body in bodies]))
    if not motion.place(rng, bodies):
        return False
    centers = np.zeros((len(bodies), spec.num_frames, 2))
    leaves: dict[int, _Leave] = {}
    for t in range(spec.num_frames):
        for i, body in enumerate(bodies):
            if body.leaves and t == body.leave_start:
                plan = _plan_leave(body, motion.position[i], t, spec)
                body.leaves = plan is not None
                if plan is not None:
                    leaves[i] = plan
        centers[:, t] = motion.shown(t, leaves)
        if t < spec.num_frames - 1:
            motion.step(rng, t, leaves)
    for body, track in zip(bodies, centers, strict=True):
        body.centers = track
    return True
