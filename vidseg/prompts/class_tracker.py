"""Tracking by class with one id per thing.

:class:`ClassTracker` decides, on each frame with a fresh semantic map (or instance proposals),
which candidate regions of the wanted classes are new objects, and watches the objects it made:

- **Coverage, not IoU alone:** a region is already an object when a tracked object covers a
  fraction of it (``cover``), or lies mostly inside it: a partial mask, or a region a mask splits,
  never spawns a second object.
- **Returning objects keep their id:** an object that is lost (not visible, or its mask shrank
  to a fraction of its recent size: the tracker is losing it) stays a candidate
  for ``keep_frames`` frames or ``keep_seconds`` seconds, whichever is longer. A region where it
  was last seen (its last mask covers a fraction of the region, or the region's centre lies near
  its last box) is given back to it as a mask prompt on its own id, not to a new id. An object
  made by class and lost for longer is removed, so what comes back later is a new object.
- **Duplicates are merged:** two visible objects whose masks overlap (IoU at least
  ``merge_iou``) for ``merge_frames`` frames in a row are one thing: the younger, when tracking
  by class made it, is removed with an ``object_merged`` event naming both ids.
- **Confirmation without latency:** an object made by class is output from its first frame, with
  that frame's mask. It is confirmed once ``confirm_maps`` fresh maps (its first included) label
  at least half of its mask with its class; ``withdraw_maps`` maps that do not, before then,
  withdraw it (``object_withdrawn``). A region whose rim the map labels mostly (over
  ``max_enclosed``) as another class makes no new object: a fragment of another object, mislabelled.
- **Jumps are not merges:** a lost object that the tracker shows again on another object, away
  from where it was, is taken out of the tracker after ``merge_frames`` frames but kept as lost
  (``object_lost``), so it gets its id back when it returns where it was.
- **Stale maps:** a live feed's map may be some frames older than the frame being tracked. Its
  regions are checked against the tracked objects now and where they were on the map's frame,
  and new objects are made only from maps at most ``max_map_age`` frames old.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from vidseg.errors import ConfigError
from vidseg.prompts.commands import Origin, PromptCommand
from vidseg.prompts.proposers import Proposal, Proposer, RegionProposer
from vidseg.results import Event, EventKind, SemanticMap
from vidseg.types import BoolArray, ImageArray, Prompt

FADED = 0.4  # a visible object whose mask shrank below this fraction of its recent peak is looked for again


@dataclass(frozen=True)
class ClassTrackingOptions:
    """The rules' thresholds (see the module docstring)."""

    cover: float = 0.2  # fraction of a region a tracked object must cover for the region to be that object
    keep_frames: int = 30  # a lost object stays a candidate for its region this many frames ...
    keep_seconds: float = 2.0  # ... or this many seconds, whichever is longer
    merge_iou: float = 0.5  # two objects overlapping this much ...
    merge_frames: int = 3  # ... for this many frames in a row are one
    confirm_maps: int = 2  # fresh maps that must agree with a new object (its first included) ...
    withdraw_maps: int = 2  # ... before this many disagree (then it is withdrawn)
    max_enclosed: float = 0.5  # a region whose rim is more than this much another class makes no new object
    max_map_age: int = 5  # frames: older maps make no new objects

    def __post_init__(self) -> None:
        for name in ("cover", "merge_iou", "max_enclosed"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must be in (0, 1]; found {getattr(self, name)!r}")
        for name in ("keep_frames", "merge_frames", "confirm_maps", "withdraw_maps", "max_map_age"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (1 if name != "keep_frames" else 0):
                raise ConfigError(f"{name} must be a whole number >= 1; found {value!r}")
        if not self.keep_seconds >= 0:
            raise ConfigError(f"keep_seconds must be >= 0; found {self.keep_seconds!r}")


@dataclass
class _Track:
    obj_id: int
    class_name: str | None  # None: not made by class (prompted)
    born: int  # frame it was made on (or first seen)
    mask: BoolArray | None = field(default=None, repr=False)  # last visible mask
    box: tuple[int, int, int, int] | None = None  # of that mask (x1, y1, x2, y2 exclusive)
    last_seen: int | None = None  # frame it was last visible on
    last_time: float | None = None
    visible: bool = True  # on the last frame observed (a new object: its region)
    area: int = 0  # of its mask on the last frame observed
    peak: float = 0.0  # its largest recent area (decays slowly)
    confirmed: bool = True
    agreeing: int = 0  # fresh maps that agreed with it while unconfirmed
    disagreeing: int = 0  # ... and that did not
    overlap: dict[int, int] = field(default_factory=dict)  # other id -> frames in a row overlapping
    jumped: bool = False  # visible again after being lost, but far from where it was: on another thing
    jump_overlap: int = 0  # frames in a row a jumped mask has lain on another object
    out: bool = False  # taken out of the tracker after a jump: lost, looked for where it was


@dataclass(frozen=True)
class ClassStep:
    """What tracking by class does before a frame is stepped: objects to remove (each with its
    event), then prompts to apply (returning objects first, then new ones)."""

    removals: tuple[tuple[int, Event], ...] = ()
    commands: tuple[PromptCommand, ...] = ()


def _box(mask: BoolArray) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _overlap(a: BoolArray, b: BoolArray) -> int:
    return int(np.count_nonzero(a & b))


def mask_iou(a: BoolArray, b: BoolArray) -> float:
    union = np.count_nonzero(a | b)
    return _overlap(a, b) / union if union else 0.0


class ClassTracker:
    """Which proposals are new objects, and what becomes of them (see the module docstring).

    Args:
        classes: the class names to track (``--track-class``); more can be added while running
            (:meth:`add_class`, a ``{"track_class": NAME}`` prompt).
        proposer: where candidates come from.
        options: the rules' thresholds.
        max_objects: at most this many objects created by class (None: no cap).
        first_id: the smallest id it gives (ids the user prompted are never reused).
        id_limit: the largest id the outputs hold.
        known: the semantic model's class names (None: not checked).
    """

    def __init__(self, classes: Sequence[str], proposer: Proposer | None = None,
                 options: ClassTrackingOptions | None = None, max_objects: int | None = None, first_id: int = 1,
                 id_limit: int = 255, known: Sequence[str] | None = None) -> None:  # fmt: skip
        if max_objects is not None and max_objects < 1:
            raise ConfigError(f"--max-objects must be >= 1; found {max_objects}")
        self.known = tuple(known) if known is not None else None
        for name in classes:
            reason = self._misfit(name)
            if reason is not None:
                raise ConfigError(f"--track-class: {reason}")
        self.classes = tuple(dict.fromkeys(classes))
        self.proposer = proposer or RegionProposer()
        self.options = options or ClassTrackingOptions()
        self.max_objects = max_objects
        self._next_id = first_id
        self._id_limit = id_limit
        self.created: dict[int, str] = {}  # object id -> class, of every object made by class
        self._tracks: dict[int, _Track] = {}
        self._removals: list[tuple[int, Event]] = []
        self._seen: collections.deque[tuple[int, BoolArray]] = collections.deque(maxlen=self.options.max_map_age + 1)
        self._frame: int | None = None  # last frame observed
        self._suspended: set[int] = set()  # removals that keep the object as a lost candidate

    def _misfit(self, name: str) -> str | None:
        if self.known is not None and (name not in self.known or name == "background"):
            trackable = [c for c in self.known if c != "background"]
            return f"{name!r} is not a class of the semantic model; its classes: {trackable}"
        return None

    def add_class(self, name: str) -> str | None:
        """Track ``name`` from the next labelled frame on; returns why not, or None."""
        reason = self._misfit(name)
        if reason is None and name not in self.classes:
            self.classes = (*self.classes, name)
        return reason

    # ------------------------------------------------------------------ after each step
    def observe(self, frame: int, time: float | None, masks: Mapping[int, BoolArray],
                visible: Mapping[int, bool]) -> None:  # fmt: skip
        """Record the tracker's result on ``frame``: each object's mask and whether it is visible.
        Duplicates and objects lost too long are found here; :meth:`step` removes them."""
        self._frame = frame
        union = np.zeros(next(iter(masks.values())).shape, bool) if masks else None
        for obj_id, mask in masks.items():
            track = self._tracks.get(obj_id)
            if track is not None:
                track.out = False  # (back) in the tracker
            if track is None:
                track = self._tracks[obj_id] = _Track(obj_id, self.created.get(obj_id), frame)
            was_good = track.visible and not track.jumped and track.area >= FADED * track.peak
            track.visible = bool(visible.get(obj_id, False))
            track.area = int(np.count_nonzero(mask)) if track.visible else 0
            if track.visible and (track.jumped or not was_good) and self._far(track, mask):
                track.jumped = True  # where it was is still where to look for it
                continue
            track.jumped, track.jump_overlap = False, 0
            track.peak = max(float(track.area), 0.95 * track.peak)
            if track.visible and track.area >= FADED * track.peak:  # its last good mask: where to look for it
                track.mask, track.box, track.last_seen, track.last_time = mask, _box(mask), frame, time
            elif track.visible:
                track.last_seen, track.last_time = frame, time
            if track.visible and union is not None:
                union |= mask
        for gone in set(self._tracks) - set(masks):
            if not self._tracks[gone].out:
                del self._tracks[gone]
        if union is not None:
            self._seen.append((frame, union))
        self._find_jumps(frame, masks)
        self._find_duplicates(frame, visible)
        self._find_expired(frame, time)

    @staticmethod
    def _far(track: _Track, mask: BoolArray) -> bool:
        """``mask`` lies away from the track's last good mask: no overlap, its centre outside
        that mask's box widened by half its size each way."""
        if track.mask is None or track.box is None:
            return False
        if _overlap(mask, track.mask):
            return False
        ys, xs = np.nonzero(mask)
        if not len(xs):
            return False
        x1, y1, x2, y2 = track.box
        mx, my = (x2 - x1) / 2, (y2 - y1) / 2
        return not (x1 - mx <= xs.mean() <= x2 + mx and y1 - my <= ys.mean() <= y2 + my)

    def _find_jumps(self, frame: int, masks: Mapping[int, BoolArray]) -> None:
        """A lost object the tracker shows again on another object (its memory matched that one):
        after ``merge_frames`` frames it is taken out of the tracker but kept as lost, so the
        thing itself, when it comes back where it was, gets its id back (no merge, no new id)."""
        removing = {obj_id for obj_id, _ in self._removals}
        for track in self._tracks.values():
            if not track.jumped or track.class_name is None or track.obj_id in removing:
                continue
            mine = masks[track.obj_id]
            on = [t.obj_id for t in self._tracks.values() if t is not track and t.visible and not t.jumped
                  and mask_iou(mine, masks[t.obj_id]) >= self.options.merge_iou]  # fmt: skip
            track.jump_overlap = track.jump_overlap + 1 if on else 0
            if track.jump_overlap < self.options.merge_frames:
                continue
            self._suspended.add(track.obj_id)
            detail = (f"lost: the tracker showed it on object {on[0]}, away from where it was; it is looked for "
                      f"where it was last seen")  # fmt: skip
            self._removals.append((track.obj_id, Event(EventKind.OBJECT_LOST, frame, None, track.obj_id, detail)))

    def _find_duplicates(self, frame: int, visible: Mapping[int, bool]) -> None:
        shown = [t for t in self._tracks.values()
                 if visible.get(t.obj_id) and not t.jumped and t.mask is not None and t.box]  # fmt: skip
        for track in self._tracks.values():  # a pair counts frames in a row: one not shown breaks it
            track.overlap = {k: n for k, n in track.overlap.items() if visible.get(k) and visible.get(track.obj_id)}
        removing = {obj_id for obj_id, _ in self._removals}
        for k, a in enumerate(shown):
            for b in shown[k + 1 :]:
                assert a.box is not None and b.box is not None and a.mask is not None and b.mask is not None
                apart = a.box[2] <= b.box[0] or b.box[2] <= a.box[0] or a.box[3] <= b.box[1] or b.box[3] <= a.box[1]
                if apart or mask_iou(a.mask, b.mask) < self.options.merge_iou:
                    a.overlap.pop(b.obj_id, None)
                    continue
                a.overlap[b.obj_id] = a.overlap.get(b.obj_id, 0) + 1
                if a.overlap[b.obj_id] < self.options.merge_frames:
                    continue
                older, younger = sorted((a, b), key=lambda t: (t.born, t.obj_id))
                if younger.class_name is None or younger.obj_id in removing:
                    continue  # a prompted object is never removed by a rule
                removing.add(younger.obj_id)
                detail = f"merged into object {older.obj_id}: their masks overlapped for {self.options.merge_frames} frames"
                self._removals.append((younger.obj_id, Event(EventKind.OBJECT_MERGED, frame, None, younger.obj_id,
                                                             detail)))  # fmt: skip

    def _lost_for_long(self, track: _Track, frame: int, time: float | None) -> bool:
        since = track.last_seen if track.last_seen is not None else track.born
        if frame - since <= self.options.keep_frames:
            return False
        return not (time is not None and track.last_time is not None and time - track.last_time <= self.options.keep_seconds)

    def _find_expired(self, frame: int, time: float | None) -> None:
        removing = {obj_id for obj_id, _ in self._removals}
        for track in self._tracks.values():
            if track.class_name is None or track.obj_id in removing or not self._lost_for_long(track, frame, time):
                continue
            detail = f"lost for more than {self.options.keep_frames} frames / {self.options.keep_seconds:g} s"
            self._removals.append((track.obj_id, Event(EventKind.OBJECT_EXPIRED, frame, None, track.obj_id, detail)))

    # ------------------------------------------------------------------ before each step
    def step(self, image: ImageArray | None, semantic: SemanticMap | None, frame: int, room: int | None = None,
             map_frame: int | None = None, proposals: Sequence[Proposal] | None = None,
             time: float | None = None) -> ClassStep:  # fmt: skip
        """What to do before ``frame`` is stepped. With a fresh map (``semantic``, made for
        ``map_frame``; None: the frame itself) its regions are proposed and decided; so are
        ``proposals`` made elsewhere (a proposer in its own thread, on ``map_frame``). With
        neither (and a proposer that needs a map, or no ``image``) only the removals found since
        are returned. ``room``: objects the run may still add; ``time``: the frame's time in
        seconds (the keep window's seconds count only with it)."""
        removals, self._removals = tuple(self._removals), []
        for obj_id, _ in removals:
            if obj_id in self._suspended and obj_id in self._tracks:  # out of the tracker, still a lost candidate
                track = self._tracks[obj_id]
                track.visible, track.jumped, track.jump_overlap, track.area = False, False, 0, 0
                track.out = True
            else:
                self._tracks.pop(obj_id, None)
        self._suspended.clear()
        commands: list[PromptCommand] = []
        if proposals is None and image is not None and self.classes and (
            semantic is not None or self.proposer.classes is not None
        ):
            proposals = self.proposer.propose(image, semantic, self.classes)
        if proposals is not None and self.classes:
            proposals = [p for p in proposals if p.class_name in self.classes]
            removals += self._confirm(proposals, frame, {obj_id for obj_id, _ in removals})
            gone = {obj_id for obj_id, _ in removals}
            age = frame - map_frame if map_frame is not None else 0
            commands = self._decide(proposals, frame, age, room, gone, time)
        return ClassStep(removals, tuple(commands))

    def _confirm(self, proposals: list[Proposal], frame: int, gone: set[int]) -> tuple[tuple[int, Event], ...]:
        """Count the fresh proposals for (or against) each unconfirmed object: they agree when a
        proposal of its class covers at least half of its mask."""
        out = []
        for track in list(self._tracks.values()):
            if track.confirmed or track.obj_id in gone or track.class_name is None or track.born == frame:
                continue
            mask = track.mask
            area = np.count_nonzero(mask) if mask is not None else 0
            agrees = track.visible and mask is not None and area > 0 and any(
                p.class_name == track.class_name and _overlap(p.mask, mask) >= 0.5 * area for p in proposals)
            if agrees:
                track.agreeing += 1
                track.confirmed = track.agreeing >= self.options.confirm_maps
                continue
            track.disagreeing += 1
            if track.disagreeing < self.options.withdraw_maps:
                continue
            detail = (f"withdrawn: the {track.class_name} region it was made from did not persist or it was lost "
                      f"({track.agreeing} of {self.options.confirm_maps} maps agreed, "
                      f"{track.disagreeing} did not)")  # fmt: skip
            out.append((track.obj_id, Event(EventKind.OBJECT_WITHDRAWN, frame, None, track.obj_id, detail)))
            del self._tracks[track.obj_id]
        return tuple(out)

    def _covering(self, proposal: Proposal, masks: Sequence[BoolArray]) -> bool:
        area = max(1, proposal.area)
        for mask in masks:
            inside = _overlap(proposal.mask, mask)
            if inside >= self.options.cover * area or (inside and inside >= 0.5 * np.count_nonzero(mask)):
                return True
        return False

    def _returning(self, proposal: Proposal, frame: int, gone: set[int], taken: set[int],
                   time: float | None = None) -> _Track | None:  # fmt: skip
        """The lost object (within the keep window) the proposal is where it was last seen, if any."""
        ys, xs = np.nonzero(proposal.mask)
        cx, cy = float(xs.mean()), float(ys.mean())
        best: tuple[float, _Track] | None = None
        for track in self._tracks.values():
            if track.obj_id in gone or track.obj_id in taken or track.mask is None or track.box is None:
                continue
            if track.visible and not track.jumped and track.area >= FADED * track.peak:  # neither lost nor faded
                continue
            if self._lost_for_long(track, frame, time):
                continue
            if track.class_name is not None and track.class_name != proposal.class_name:
                continue
            inside = _overlap(proposal.mask, track.mask)
            x1, y1, x2, y2 = track.box
            mx, my = (x2 - x1) / 2, (y2 - y1) / 2  # the box widened by half its size each way
            near = x1 - mx <= cx <= x2 + mx and y1 - my <= cy <= y2 + my
            if inside >= self.options.cover * proposal.area or near:
                score = inside / max(1, proposal.area) + (0.5 if near else 0.0)
                if best is None or score > best[0]:
                    best = (score, track)
        return best[1] if best is not None else None

    def _decide(self, proposals: list[Proposal], frame: int, age: int, room: int | None,
                gone: set[int], time: float | None = None) -> list[PromptCommand]:  # fmt: skip
        visible_now = [t.mask for t in self._tracks.values() if t.visible and not t.jumped
                       and t.area >= FADED * t.peak and t.mask is not None and t.obj_id not in gone]  # fmt: skip
        then = [union for seen_frame, union in self._seen if seen_frame == frame - age and age > 0]
        commands: list[PromptCommand] = []
        new = 0
        taken: set[int] = set()
        made: list[BoolArray] = []
        for proposal in proposals:
            if self._covering(proposal, [*visible_now, *then, *made]):
                continue
            back = self._returning(proposal, frame, gone, taken, time)
            if back is not None:
                taken.add(back.obj_id)
                made.append(proposal.mask)
                name = back.class_name or proposal.class_name
                commands.append(PromptCommand.add(Prompt(back.obj_id, mask=proposal.mask), origin=Origin.CLASS,
                                                  request_id=f"class:{name}:returned"))  # fmt: skip
                continue
            if age > self.options.max_map_age:
                continue  # the region may have moved since: wait for a fresher map
            if proposal.enclosed > self.options.max_enclosed:
                continue  # a fragment inside an object the map labels as another class: a likely mislabel
            if self.max_objects is not None and len(self.created) >= self.max_objects:
                continue
            if room is not None and new >= room:
                continue
            while self._next_id in self._tracks or self._next_id in self.created:
                self._next_id += 1
            if self._next_id > self._id_limit:
                continue
            obj_id = self._next_id
            self.created[obj_id] = proposal.class_name
            self._tracks[obj_id] = _Track(obj_id, proposal.class_name, frame, mask=proposal.mask, box=_box(proposal.mask),
                                          confirmed=self.options.confirm_maps <= 1, agreeing=1)  # fmt: skip
            made.append(proposal.mask)
            new += 1
            commands.append(PromptCommand.add(Prompt(obj_id, mask=proposal.mask), origin=Origin.CLASS,
                                              request_id=f"class:{proposal.class_name}"))  # fmt: skip
        return commands

    # ------------------------------------------------------------------ the first version's call
    def new_objects(self, image: ImageArray, semantic: SemanticMap | None, tracked: Mapping[int, BoolArray],
                    room: int | None = None) -> list[PromptCommand]:  # fmt: skip
        """The prompts for ``semantic``'s regions given the objects ``tracked`` now (each one
        visible where its mask is not empty); for callers that do not step frame by frame."""
        frame = (self._frame + 1) if self._frame is not None else 0
        if tracked:
            self.observe(frame - 1, None, tracked, {k: bool(m.any()) for k, m in tracked.items()})
        return list(self.step(image, semantic, frame, room).commands)
