"""Instance proposals from torchvision's Mask R-CNN (ResNet-50 FPN, COCO classes): the proposer
for tracking by class that separates touching objects of one class, which connected regions of
a semantic map cannot (``--proposer maskrcnn``).

Its COCO weights come from the cache or a download checked against the hash in the file name;
offline, one error says where to put the file. ``random_weights=True`` builds it with seeded
random weights (no download): the code path runs, the instances are meaningless. It runs on the
tracker's thread, on each frame it proposes for (a ResNet-50 at about 800 px: seconds per frame
on a CPU, tens of milliseconds on a GPU).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from vidseg.errors import CheckpointError, ConfigError
from vidseg.models.device import resolve_device
from vidseg.models.semantic.build import cached_download
from vidseg.prompts.proposers import Proposal
from vidseg.results import SemanticMap
from vidseg.types import BoolArray, ImageArray, check_image

log = logging.getLogger(__name__)

MASKRCNN_URL = "https://download.pytorch.org/models/maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth"


def coco_categories() -> tuple[str, ...]:
    """Mask R-CNN's 91 output names (``__background__`` first; unused ids are ``N/A``)."""
    from torchvision.models.detection import MaskRCNN_ResNet50_FPN_Weights

    return tuple(MaskRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"])


def instances_to_proposals(masks: BoolArray, labels: Sequence[int], scores: Sequence[float],
                           categories: Sequence[str], classes: Sequence[str], min_score: float,
                           min_area: int) -> list[Proposal]:  # fmt: skip
    """Proposals from instance masks (N, H, W) with their category ids and scores: the instances
    of the wanted ``classes`` scoring at least ``min_score``, each made exclusive of the
    higher-scoring ones (a pixel belongs to one instance) and kept when ``min_area`` pixels are
    left; largest first."""
    unknown = sorted(set(classes) - set(categories))
    if unknown:
        raise ConfigError(f"class(es) {unknown} are not Mask R-CNN's (COCO) classes: {[c for c in categories[1:] if c != 'N/A']}")
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    taken = np.zeros(masks.shape[1:], bool)
    out: list[Proposal] = []
    for k in order:
        name = categories[int(labels[k])]
        if name not in classes or float(scores[k]) < min_score:
            continue
        mask = masks[k] & ~taken
        taken |= masks[k]
        area = int(mask.sum())
        if area >= min_area:
            out.append(Proposal(mask, name, area))
    return sorted(out, key=lambda p: -p.area)


class MaskRcnnProposer:
    """Instances of the wanted classes from Mask R-CNN (see the module docstring).

    Args:
        net: a torchvision ``MaskRCNN`` in eval mode.
        min_score: instances scoring below this are left out.
        mask_threshold: the probability above which a pixel is in an instance's mask.
        min_area: instances smaller than this many pixels are left out.
    """

    def __init__(self, net: Any, device: torch.device, min_score: float = 0.5, mask_threshold: float = 0.5,
                 min_area: int = 64) -> None:  # fmt: skip
        if not 0 <= min_score <= 1 or not 0 < mask_threshold < 1 or min_area < 1:
            raise ConfigError(f"min_score in [0, 1], mask_threshold in (0, 1), min_area >= 1; found {min_score}, "
                              f"{mask_threshold}, {min_area}")  # fmt: skip
        self.net, self.device = net.eval().to(device), device
        self.min_score, self.mask_threshold, self.min_area = min_score, mask_threshold, min_area
        self.categories = coco_categories()
        self.classes: tuple[str, ...] | None = tuple(c for c in self.categories[1:] if c != "N/A")

    @classmethod
    def build(cls, checkpoint: str | os.PathLike[str] | None = None, *, random_weights: bool = False,
              device: str = "cpu", cache_dir: str | os.PathLike[str] | None = None, download: bool = True,
              seed: int = 0, **options: Any) -> MaskRcnnProposer:  # fmt: skip
        """Mask R-CNN with its COCO weights (``checkpoint``, the cache or a download), or seeded
        random weights. Raises :class:`CheckpointError` when no weights can be had."""
        from torchvision.models.detection import maskrcnn_resnet50_fpn

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91)
        if not random_weights:
            path = checkpoint or cached_download(MASKRCNN_URL, cache_dir, download, "--proposer-checkpoint FILE",
                                                 "--proposer-random-weights to try the code path")  # fmt: skip
            try:
                net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            except Exception as exc:
                raise CheckpointError(f"cannot load Mask R-CNN weights from {path} ({type(exc).__name__}); expected "
                                      f"torchvision's {MASKRCNN_URL.rsplit('/', 1)[1]}") from None  # fmt: skip
        else:
            log.warning("Mask R-CNN runs with random weights (seed %d): its instances are meaningless", seed)
        return cls(net, resolve_device(device), **options)

    def propose(self, image: ImageArray, semantic: SemanticMap | None, classes: Sequence[str]) -> list[Proposal]:
        check_image(image)
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(image)).to(self.device).permute(2, 0, 1).float() / 255
            out = self.net([x])[0]
        masks = (out["masks"][:, 0] > self.mask_threshold).cpu().numpy()
        return instances_to_proposals(masks, out["labels"].tolist(), out["scores"].tolist(), self.categories,
                                      classes, self.min_score, self.min_area)  # fmt: skip
