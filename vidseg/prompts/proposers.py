"""Tracking by class: where new objects come from, and which of them are new.

A :class:`Proposer` turns a frame (its image, and its semantic map when a semantic model runs)
into candidate objects (:class:`Proposal`) of the wanted classes. :class:`RegionProposer` takes
the connected regions of those classes above a minimum area (fast; touching objects of one class
merge into one region); :class:`~vidseg.prompts.maskrcnn.MaskRcnnProposer` takes the instance
masks of torchvision's Mask R-CNN (COCO classes; it separates touching instances). :class:`ClassTracker`
keeps the ids: a proposal that no tracked object covers (IoU below a threshold) becomes a new
object with the next free id, as a mask prompt; ``max_objects`` caps how many it creates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from vidseg.errors import ConfigError
from vidseg.prompts.commands import Origin, PromptCommand
from vidseg.results import SemanticMap
from vidseg.types import BoolArray, ImageArray, Prompt


@dataclass(frozen=True)
class Proposal:
    """A candidate object: its mask and class."""

    mask: BoolArray = field(repr=False)
    class_name: str
    area: int


class Proposer(Protocol):
    """Candidate objects of the wanted classes on one frame (its RGB image and, when a semantic
    model runs, its label map). ``classes`` names what it can propose (None: the semantic model's)."""

    classes: tuple[str, ...] | None

    def propose(self, image: ImageArray, semantic: SemanticMap | None, classes: Sequence[str]) -> list[Proposal]: ...


class RegionProposer:
    """Connected regions (8-connected) of each wanted class, largest first.

    Args:
        min_area: regions smaller than this many pixels are left out.
    """

    classes: tuple[str, ...] | None = None  # the semantic model's

    def __init__(self, min_area: int = 64) -> None:
        if min_area < 1:
            raise ConfigError(f"min_area must be >= 1 pixel; found {min_area}")
        self.min_area = min_area

    def propose(self, image: ImageArray, semantic: SemanticMap | None, classes: Sequence[str]) -> list[Proposal]:
        if semantic is None:
            raise ConfigError("the region proposer needs a semantic map: run a semantic model (--semantic NAME)")
        unknown = sorted(set(classes) - set(semantic.classes))
        if unknown:
            raise ConfigError(f"class(es) {unknown} are not among the semantic model's: {list(semantic.classes)}")
        out: list[Proposal] = []
        for name in classes:
            class_id = semantic.classes.index(name)
            binary = (semantic.labels == class_id).astype(np.uint8)
            count, regions, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
            for k in range(1, count):
                area = int(stats[k, cv2.CC_STAT_AREA])
                if area >= self.min_area:
                    out.append(Proposal(regions == k, name, area))
        return sorted(out, key=lambda p: -p.area)


def mask_iou(a: BoolArray, b: BoolArray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


class ClassTracker:
    """Decides which proposals are new objects (see the module docstring).

    Args:
        classes: the class names to track (``--track-class``); more can be added while running
            (:meth:`add_class`, a ``{"track_class": NAME}`` prompt).
        proposer: where candidates come from.
        iou_threshold: a proposal overlapping a tracked object at least this much is that object.
        max_objects: at most this many objects created by class (None: no cap).
        first_id: the smallest id it gives (ids the user prompted are never reused).
        id_limit: the largest id the outputs hold.
        known: the semantic model's class names (None: not checked).
    """

    def __init__(self, classes: Sequence[str], proposer: Proposer | None = None, iou_threshold: float = 0.3,
                 max_objects: int | None = None, first_id: int = 1, id_limit: int = 255,
                 known: Sequence[str] | None = None) -> None:  # fmt: skip
        if not 0.0 < iou_threshold <= 1.0:
            raise ConfigError(f"the IoU threshold must be in (0, 1]; found {iou_threshold}")
        if max_objects is not None and max_objects < 1:
            raise ConfigError(f"--max-objects must be >= 1; found {max_objects}")
        self.known = tuple(known) if known is not None else None
        for name in classes:
            reason = self._misfit(name)
            if reason is not None:
                raise ConfigError(f"--track-class: {reason}")
        self.classes = tuple(dict.fromkeys(classes))
        self.proposer = proposer or RegionProposer()
        self.iou_threshold = iou_threshold
        self.max_objects = max_objects
        self._next_id = first_id
        self._id_limit = id_limit
        self.created: dict[int, str] = {}  # object id -> class

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

    def new_objects(self, image: ImageArray, semantic: SemanticMap | None,
                    tracked: Mapping[int, BoolArray], room: int | None = None) -> list[PromptCommand]:  # fmt: skip
        """Mask prompts for the proposals on this frame that no tracked object covers (each with a
        new id), at most ``room`` of them (the run's object limit; None: no limit)."""
        commands: list[PromptCommand] = []
        if not self.classes or (semantic is None and self.proposer.classes is None) or room == 0:
            return commands  # nothing asked for, or no map yet for a proposer that reads one (a live feed's first frames)
        covered = list(tracked.values())
        for proposal in self.proposer.propose(image, semantic, self.classes):
            if self.max_objects is not None and len(self.created) >= self.max_objects:
                break
            if room is not None and len(commands) >= room:
                break
            if any(mask_iou(proposal.mask, mask) >= self.iou_threshold for mask in covered):
                continue
            while self._next_id in tracked or self._next_id in self.created:
                self._next_id += 1
            if self._next_id > self._id_limit:
                break
            obj_id = self._next_id
            self.created[obj_id] = proposal.class_name
            covered.append(proposal.mask)
            commands.append(PromptCommand.add(Prompt(obj_id, mask=proposal.mask), origin=Origin.CLASS,
                                              request_id=f"class:{proposal.class_name}"))  # fmt: skip
        return commands
