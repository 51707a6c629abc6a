"""Semantic models from Hugging Face ``transformers`` (the optional extra: ``pip install
'vidseg[transformers]'``): SegFormer, Mask2Former and EoMT semantic checkpoints, named
``hf:<hub id>`` or ``hf:<local folder>`` (``--semantic hf:nvidia/segformer-b0-finetuned-ade-512-512``).

The checkpoint's own image processor prepares each frame and turns the output into a label map
of the frame's size (``post_process_semantic_segmentation``); the class names are the config's
``id2label``. Licences differ by checkpoint: SegFormer's weights (NVIDIA) are licensed for
non-commercial use only; check a checkpoint's model card before using it in a product.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidseg.errors import CheckpointError, ConfigError
from vidseg.models.device import resolve_device
from vidseg.results import SemanticMap
from vidseg.types import ImageArray, check_image

log = logging.getLogger(__name__)

HF_PREFIX = "hf:"
ARCHITECTURES = {
    "segformer": "SegformerForSemanticSegmentation",
    "mask2former": "Mask2FormerForUniversalSegmentation",
    "eomt": "EomtForUniversalSegmentation",
}
"""The ``model_type`` of each supported checkpoint family, and the ``transformers`` class that runs it."""

NON_COMMERCIAL = ("segformer",)


def _transformers() -> Any:
    try:
        import transformers
    except ImportError:
        raise ConfigError("hf: semantic models need the transformers extra: pip install 'vidseg[transformers]'") from None
    return transformers


class HfSemanticModel:
    """A ``transformers`` semantic checkpoint behind :class:`~vidseg.models.semantic.SemanticModel`'s
    calls (``predict``, ``label``, ``classes``, ``name``). Only one thread may use it."""

    def __init__(self, name: str, net: Any, processor: Any, classes: tuple[str, ...], device: torch.device,
                 random_weights: bool = False) -> None:  # fmt: skip
        self.name, self.net, self.processor, self.classes, self.device = name, net.eval().to(device), processor, classes, device
        self.random_weights = random_weights
        self.checkpoint: str | None = name.removeprefix(HF_PREFIX)
        self.input_size: int | None = None  # the processor's

    def predict(self, image: ImageArray) -> np.ndarray:
        """The HxW uint8 label map of an HxWx3 uint8 RGB frame."""
        check_image(image)
        height, width = image.shape[:2]
        with torch.inference_mode():
            inputs = self.processor(images=image, return_tensors="pt").to(self.device)
            outputs = self.net(**inputs)
            labels = self.processor.post_process_semantic_segmentation(outputs, target_sizes=[(height, width)])[0]
        return labels.to(torch.uint8).cpu().numpy()

    def label(self, image: ImageArray) -> SemanticMap:
        return SemanticMap(self.predict(image), self.classes, model=self.name)


def build_hf_semantic_model(name: str, *, device: str = "cpu", download: bool = True,
                            cache_dir: str | os.PathLike[str] | None = None) -> HfSemanticModel:  # fmt: skip
    """Load ``hf:<hub id or folder>`` (see the module docstring).

    Raises:
        ConfigError: the extra is not installed, or the checkpoint is of another family.
        CheckpointError: the checkpoint cannot be had (offline, a typo, a damaged folder).
    """
    transformers = _transformers()
    source = name.removeprefix(HF_PREFIX)
    if not source:
        raise ConfigError("--semantic hf: needs a hub id or a folder after 'hf:' (e.g. hf:nvidia/segformer-b0-finetuned-ade-512-512)")
    local = Path(source).expanduser().is_dir()
    options: dict[str, Any] = {"local_files_only": local or not download}
    if cache_dir is not None and not local:
        options["cache_dir"] = str(Path(cache_dir) / "huggingface")
    try:
        config = transformers.AutoConfig.from_pretrained(source, **options)
    except (OSError, ValueError) as exc:
        where = f"the folder {source}" if local else f"{source!r} on the Hugging Face hub or in its cache"
        raise CheckpointError(
            f"cannot load {where} ({type(exc).__name__}); offline? Download it where the hub is reachable "
            f"(huggingface-cli download {source} --local-dir DIR) and pass --semantic hf:DIR"
        ) from None
    family = getattr(config, "model_type", None)
    if family not in ARCHITECTURES:
        raise ConfigError(f"{source} is a {family!r} checkpoint; vidseg runs semantic checkpoints of "
                          f"{sorted(ARCHITECTURES)}")  # fmt: skip
    labels = getattr(config, "id2label", None) or {}
    count = max((int(k) for k in labels), default=-1) + 1
    if not 0 < count <= 255:
        raise ConfigError(f"{source} has {count} classes; label maps hold 1..255 classes")
    classes = tuple(str(labels.get(k, labels.get(str(k), f"class_{k}"))) for k in range(count))
    try:
        processor = transformers.AutoImageProcessor.from_pretrained(source, **options)
        net = getattr(transformers, ARCHITECTURES[family]).from_pretrained(source, **options)
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot load the weights or image processor of {source} ({type(exc).__name__}: "
                              f"{str(exc)[:200]}); check the folder or hub id") from None  # fmt: skip
    if family in NON_COMMERCIAL:
        log.warning("%s: SegFormer's weights are licensed for non-commercial use only (see its model card)", source)
    log.info("loaded %s (%s, %d classes)", source, family, len(classes))
    return HfSemanticModel(name, net, processor, classes, resolve_device(device))
