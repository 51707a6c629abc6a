"""Tracking by class: where new objects come from, and which of them are new.

A :class:`Proposer` turns a frame (its image, and its semantic map when a semantic model runs)
into candidate objects (:class:`Proposal`) of the wanted classes. :class:`RegionProposer` takes
the connected regions of those classes above a minimum area (fast; touching objects of one class
merge into one region); :class:`~vidseg.prompts.maskrcnn.MaskRcnnProposer` takes the instance
masks of torchvision's Mask R-CNN (COCO classes; it separates touching instances).
:class:`~vidseg.prompts.class_tracker.ClassTracker` decides which proposals are new objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from vidseg.errors import ConfigError
from vidseg.results import SemanticMap
from vidseg.types import BoolArray, ImageArray


@dataclass(frozen=True)
class Proposal:
    """A candidate object: its mask and class."""

    mask: BoolArray = field(repr=False)
    class_name: str
    area: int
    enclosed: float = 0.0  # the fraction of its rim (2 px around it) the map labels as another class


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
        background = semantic.classes.index("background") if "background" in semantic.classes else -1
        for name in classes:
            class_id = semantic.classes.index(name)
            binary = (semantic.labels == class_id).astype(np.uint8)
            count, regions, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
            for k in range(1, count):
                area = int(stats[k, cv2.CC_STAT_AREA])
                if area < self.min_area:
                    continue
                region = regions == k
                x, y, w, h = (int(v) for v in stats[k, :4])
                out.append(Proposal(region, name, area, _enclosed(semantic.labels, region, (x, y, w, h), class_id,
                                                                  background)))  # fmt: skip
        return sorted(out, key=lambda p: -p.area)


_RIM = np.ones((5, 5), np.uint8)  # 2 px each way


def _enclosed(labels: np.ndarray, region: BoolArray, box: tuple[int, int, int, int], class_id: int,
              background: int) -> float:  # fmt: skip
    """The fraction of ``region``'s rim labelled as a class other than its own and the background:
    near 1 for a fragment the map mislabels inside another object, low for objects side by side."""
    x, y, w, h = box
    y1, y2, x1, x2 = max(0, y - 2), min(labels.shape[0], y + h + 2), max(0, x - 2), min(labels.shape[1], x + w + 2)
    inside = region[y1:y2, x1:x2]
    rim = cv2.dilate(inside.astype(np.uint8), _RIM).astype(bool) & ~inside
    if not rim.any():
        return 0.0
    around = labels[y1:y2, x1:x2][rim]
    return float(np.count_nonzero((around != class_id) & (around != background)) / around.size)
