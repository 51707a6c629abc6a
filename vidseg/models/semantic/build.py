"""Per-frame semantic segmentation models: one factory, several backends, one prediction type.

Backends (``vidseg models`` lists them):
- torchvision's segmentation models (21 VOC classes): ``lraspp_mobilenet_v3_large``,
  ``deeplabv3_mobilenet_v3_large``, ``deeplabv3_resnet50``, ``fcn_resnet50``. Their pretrained
  weights come from a local file (``checkpoint``), the cache, or a download checked against the
  hash in the file name; offline, one error says where to put the file.
- ``hf:<hub id or folder>``: SegFormer, Mask2Former and EoMT checkpoints through ``transformers``
  (the optional extra; :mod:`vidseg.models.semantic.hf`).
- ``vidseg_unet_synthetic``: the project's small U-Net over the synthetic generator's shape
  classes; its weights ship with the package (``weights/``, trained by
  ``pipelines/train_semantic_synthetic.py``), and ``vidseg train semantic`` trains it on other data.

Random weights only when asked (``random_weights=True``): the maps are then meaningless. The
class names travel with the model into every :class:`~vidseg.results.SemanticMap`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from vidseg.errors import CheckpointError, ConfigError, UnknownModelError
from vidseg.models.device import resolve_device
from vidseg.models.semantic.hf import HF_PREFIX, HfSemanticModel, build_hf_semantic_model
from vidseg.models.semantic.info import SemanticModelInfo, sha256_of
from vidseg.models.semantic.labels import class_ids, upsample_labels
from vidseg.models.semantic.unet import UNet
from vidseg.results import SemanticMap
from vidseg.types import ImageArray, check_image

log = logging.getLogger(__name__)

VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip
# The project's U-Net: 2.1 M parameters; five levels (16 to 128 channels, capped), so the bottom
# level of a 128 px input is 4x4 and sees a whole object.
UNET_WIDTH, UNET_DEPTH, UNET_MAX_CHANNELS = 16, 5, 128
SIZE_MULTIPLE = 2**UNET_DEPTH  # every network's input sides are multiples of this
SHIPPED_WEIGHTS = Path(__file__).resolve().parent / "weights"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class SemanticSpec:
    """A known semantic model: how to build it, its classes, its input size and weights URL."""

    name: str
    classes: tuple[str, ...]
    input_size: int
    url: str | None  # pretrained weights (torchvision), None when the project trains them
    description: str


# The U-Net's classes, by id: its configuration, as the shipped weights record them. They are the
# synthetic generator's shape classes (a test checks that they agree); the model does not read
# them from the generator, which is a dataset, not a model's config.
UNET_SYNTHETIC_CLASSES = ("background", "disc", "ellipse", "rectangle", "triangle", "star", "polygon", "blob")


def synthetic_classes() -> tuple[str, ...]:
    """The classes of ``vidseg_unet_synthetic`` (kept for callers that have not moved to its spec)."""
    return UNET_SYNTHETIC_CLASSES


def _torchvision(name: str) -> Callable[[int], torch.nn.Module]:
    def build(num_classes: int) -> torch.nn.Module:
        from torchvision.models import segmentation

        constructor = getattr(segmentation, name)
        return constructor(weights=None, weights_backbone=None, num_classes=num_classes, aux_loss=None)

    return build


_TV = "https://download.pytorch.org/models/"
SEMANTIC_MODELS: dict[str, SemanticSpec] = {
    spec.name: spec
    for spec in (
        SemanticSpec("lraspp_mobilenet_v3_large", VOC_CLASSES, 520, _TV + "lraspp_mobilenet_v3_large-d234d4ea.pth",
                     "torchvision LR-ASPP MobileNetV3 (3.2 M parameters, VOC classes)"),
        SemanticSpec("deeplabv3_mobilenet_v3_large", VOC_CLASSES, 520,
                     _TV + "deeplabv3_mobilenet_v3_large-fc3c493d.pth", "torchvision DeepLabV3 MobileNetV3 (VOC)"),
        SemanticSpec("deeplabv3_resnet50", VOC_CLASSES, 520, _TV + "deeplabv3_resnet50_coco-cd0a2569.pth",
                     "torchvision DeepLabV3 ResNet-50 (VOC)"),
        SemanticSpec("fcn_resnet50", VOC_CLASSES, 520, _TV + "fcn_resnet50_coco-1167a1af.pth",
                     "torchvision FCN ResNet-50 (VOC)"),
        SemanticSpec("vidseg_unet_synthetic", UNET_SYNTHETIC_CLASSES, 128, None,
                     "vidseg's small U-Net over the synthetic shapes' classes (trained by the project)"),
    )
}  # fmt: skip


class SemanticModel:
    """A semantic segmentation network behind one call: an RGB frame in, a label map out.

    ``info`` (a :class:`SemanticModelInfo`) records the model, its classes and its weights for the
    manifest. Only one thread may use it (the semantic stage's). Public calls run under inference
    mode.
    """

    def __init__(self, spec: SemanticSpec, net: torch.nn.Module, classes: tuple[str, ...], device: torch.device,
                 input_size: int, random_weights: bool, checkpoint: str | None,
                 checkpoint_sha256: str | None = None) -> None:  # fmt: skip
        self.spec, self.net, self.classes, self.device = spec, net.eval().to(device), classes, device
        # On the CPU, oneDNN's convolutions run faster on channels-last tensors (the U-Net at
        # 128x224 on 2 cores: 45-60 against 73-82 ms a frame), for the same classes.
        self.memory_format = torch.channels_last if device.type == "cpu" else torch.contiguous_format
        self.net.to(memory_format=self.memory_format)
        self.input_size = input_size
        self.random_weights = random_weights
        self.checkpoint = checkpoint
        self.info = SemanticModelInfo(spec.name, classes, checkpoint, checkpoint_sha256, random_weights, input_size)

    @property
    def name(self) -> str:
        return self.spec.name

    def network_size(self, height: int, width: int) -> tuple[int, int]:
        """The size the network sees a ``height`` x ``width`` frame at: its shorter side at the
        input size, the aspect ratio kept (shapes are not squashed), both sides multiples of 32."""
        scale, k = self.input_size / min(height, width), SIZE_MULTIPLE
        return (max(k, round(height * scale / k) * k), max(k, round(width * scale / k) * k))

    def predict(self, image: ImageArray) -> np.ndarray:
        """The HxW label map (uint8 class ids, the frame's size) of an HxWx3 uint8 RGB frame.

        The classes are picked at the network's size (:meth:`network_size`: torchvision's
        networks bring their logits back to their input's size themselves) and only the labels
        are brought to the frame's, by nearest neighbour, so the cost does not grow with the frame.
        """
        check_image(image)
        height, width = image.shape[:2]
        with torch.inference_mode():
            x = torch.from_numpy(np.require(image, requirements=("C", "W"))).to(self.device).permute(2, 0, 1)[None].float() / 255
            x = F.interpolate(x, size=self.network_size(height, width), mode="bilinear", align_corners=False,
                              antialias=True).contiguous(memory_format=self.memory_format)  # fmt: skip
            labels = class_ids(forward_logits(self.net, x)[0])
        return upsample_labels(labels, height, width)

    def label(self, image: ImageArray) -> SemanticMap:
        """:meth:`predict` as a :class:`SemanticMap` carrying the class names."""
        return SemanticMap(self.predict(image), self.classes, model=self.name)


def forward_logits(net: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The (B, C, H, W) class logits of (B, 3, H, W) RGB images in [0, 1], ImageNet-normalised
    first (every backend here was trained so); torchvision's dict output is unwrapped."""
    mean = torch.tensor(IMAGENET_MEAN, device=images.device)[None, :, None, None]
    std = torch.tensor(IMAGENET_STD, device=images.device)[None, :, None, None]
    out = net((images - mean) / std)
    return out["out"] if isinstance(out, dict) else out


def make_network(name: str, num_classes: int, seed: int = 0) -> torch.nn.Module:
    """A freshly initialised network of the named model with ``num_classes`` outputs (seeded)."""
    spec = semantic_spec(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if spec.url is None:
            return UNet(num_classes, width=UNET_WIDTH, depth=UNET_DEPTH, max_channels=UNET_MAX_CHANNELS)
        return _torchvision(spec.name)(num_classes)


def semantic_spec(name: str) -> SemanticSpec:
    """The :class:`SemanticSpec` of a known model. Raises :class:`UnknownModelError` otherwise."""
    spec = SEMANTIC_MODELS.get(name)
    if spec is None:
        raise UnknownModelError(f"unknown semantic model {name!r}; known: {sorted(SEMANTIC_MODELS)} (see vidseg models)")
    return spec


@dataclass(frozen=True)
class SemanticWeights:
    """A semantic checkpoint read from disk: the state dict, and what vidseg's trainer recorded
    (``classes``, ``input_size``, ...; empty for a plain torchvision state dict)."""

    path: Path
    state: dict[str, torch.Tensor]
    meta: dict[str, Any]

    @property
    def classes(self) -> tuple[str, ...] | None:
        names = self.meta.get("classes")
        if isinstance(names, list | tuple) and names and all(isinstance(n, str) for n in names):
            return tuple(names)
        return None


def read_semantic_weights(path: str | os.PathLike[str], name: str) -> SemanticWeights:
    """Read a semantic checkpoint: a state dict, or a dict with ``"model"`` (and vidseg's ``"vidseg"`` entry).

    Raises:
        CheckpointError: the file is missing or not a checkpoint of this kind.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"semantic checkpoint {path} does not exist; check --semantic-checkpoint")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"cannot read semantic weights {path} ({type(exc).__name__}); give a .pth state "
                              f"dict of {name} or a checkpoint written by vidseg train semantic") from None  # fmt: skip
    if not isinstance(blob, dict):
        raise CheckpointError(f"semantic weights {path} hold a {type(blob).__name__}, expected a state dict")
    state = blob.get("model", blob)
    meta = blob.get("vidseg", {}) if "model" in blob else {}
    if not isinstance(state, dict) or not isinstance(meta, dict):
        raise CheckpointError(f"semantic weights {path}: expected a state dict (or a dict with 'model'), found "
                              f"{type(state).__name__}")  # fmt: skip
    tracker = _tracker_of(state, meta)
    if tracker is not None:
        model = f" (of {tracker})" if tracker else ""
        raise CheckpointError(
            f"{path} looks like a SAM 2 tracker checkpoint{model}, not semantic weights: give it as --checkpoint"
            f"{f' (with --model {tracker})' if tracker else ''}; --semantic-checkpoint takes the weights of a "
            f"semantic model: {_known()}"
        )
    if meta.get("model") not in (None, name):
        other = meta["model"]
        if other in SEMANTIC_MODELS:
            raise CheckpointError(f"semantic weights {path} are of {other!r}, not {name!r}; pass --semantic {other}")
        raise CheckpointError(f"weights {path} are of {other!r}, which is no semantic model; --semantic-checkpoint "
                              f"takes the weights of a semantic model: {_known()}")  # fmt: skip
    return SemanticWeights(path, state, meta)


# Top-level modules of every SAM 2 model (sam2/modeling/sam2_base.py); a semantic network has none.
_SAM2_MODULES = ("image_encoder.", "memory_attention.", "memory_encoder.", "sam_mask_decoder.", "sam_prompt_encoder.")


def _tracker_of(state: dict[str, Any], meta: dict[str, Any]) -> str | None:
    """None unless the weights are a SAM 2 tracker's (two or more of its modules); then the
    tracker's name when vidseg's trainer recorded it, else ""."""
    hits = {prefix for key in state if isinstance(key, str) for prefix in _SAM2_MODULES if key.startswith(prefix)}
    if len(hits) < 2:
        return None
    model = meta.get("model")
    return model if isinstance(model, str) else ""


def _known() -> str:
    return f"one of {', '.join(sorted(SEMANTIC_MODELS))} (or a checkpoint written by vidseg train semantic)"


def load_into(net: torch.nn.Module, weights: SemanticWeights, name: str) -> None:
    """Copy ``weights`` into ``net`` (torchvision's auxiliary head may be absent on either side).

    Raises:
        CheckpointError: tensors of another shape, or missing or unexpected tensors.
    """
    try:
        missing, unexpected = net.load_state_dict(weights.state, strict=False)
    except RuntimeError:
        raise CheckpointError(f"semantic weights {weights.path} do not fit {name} (tensors of another shape); give "
                              f"the weights of that model") from None  # fmt: skip
    missing = [k for k in missing if not k.startswith("aux")]
    unexpected = [k for k in unexpected if not k.startswith("aux")]
    if missing or unexpected:
        raise CheckpointError(f"semantic weights {weights.path} do not fit {name}: {len(missing)} missing, "
                              f"{len(unexpected)} unexpected tensors")  # fmt: skip


def replace_head(net: torch.nn.Module, num_classes: int) -> torch.nn.Module:
    """Give a torchvision segmentation network ``num_classes`` outputs: every last 1x1 classifier
    convolution (``classifier``, ``aux_classifier``, LR-ASPP's two) is replaced by a new one (for
    fine-tuning on other classes). Returns ``net``."""
    for head_name in ("classifier", "aux_classifier"):
        head = getattr(net, head_name, None)
        if head is None:
            continue
        for child_name, child in list(head.named_children()):
            if isinstance(child, torch.nn.Conv2d) and child.kernel_size == (1, 1) and child_name in (
                "4", "low_classifier", "high_classifier"
            ):  # fmt: skip
                setattr(head, child_name, torch.nn.Conv2d(child.in_channels, num_classes, 1))
    return net


def build_semantic_model(
    name: str,
    checkpoint: str | os.PathLike[str] | None = None,
    *,
    random_weights: bool = False,
    input_size: int | None = None,
    device: str = "cpu",
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    seed: int = 0,
) -> SemanticModel | HfSemanticModel:
    """Build a semantic model (see the module docstring); ``hf:<hub id or folder>`` loads a
    ``transformers`` checkpoint (:mod:`vidseg.models.semantic.hf`).

    A checkpoint written by ``vidseg train semantic`` carries its class names and input size; they
    become the model's (a fine-tuned torchvision model may have other classes than VOC's).

    Raises:
        UnknownModelError: an unknown name (the message lists the known ones).
        ConfigError: random weights and a checkpoint both given, or a bad input size.
        CheckpointError: no usable weights (the message names the file and the flag).
    """
    if name.startswith(HF_PREFIX):
        if random_weights or checkpoint is not None or input_size is not None:
            raise ConfigError("an hf: checkpoint runs with its own weights and image processor: drop "
                              "--semantic-random-weights, --semantic-checkpoint and --semantic-size")  # fmt: skip
        return build_hf_semantic_model(name, device=device, download=download, cache_dir=cache_dir)
    spec = semantic_spec(name)
    if random_weights and checkpoint is not None:
        raise ConfigError("--semantic-random-weights and a semantic checkpoint were both given; choose one")
    classes = spec.classes
    weights = None
    if not random_weights:
        weights = read_semantic_weights(_weights_path(spec, checkpoint, cache_dir, download), spec.name)
        classes = weights.classes or classes
    trained_size = weights.meta.get("input_size") if weights is not None else None
    size = input_size or (trained_size if isinstance(trained_size, int) else spec.input_size)
    if size < SIZE_MULTIPLE or size % SIZE_MULTIPLE:
        raise ConfigError(f"semantic input size must be a multiple of {SIZE_MULTIPLE}; found {size}")
    net = make_network(spec.name, len(classes), seed)
    if weights is not None:
        load_into(net, weights, spec.name)
        log.info("loaded semantic model %s from %s", spec.name, weights.path)
    else:
        log.warning("semantic model %s runs with random weights (seed %d): its label maps are meaningless", name, seed)
    return SemanticModel(spec, net, classes, resolve_device(device), size, random_weights,
                         str(weights.path) if weights is not None else None,
                         sha256_of(weights.path) if weights is not None else None)  # fmt: skip


def _weights_path(spec: SemanticSpec, checkpoint: str | os.PathLike[str] | None,
                  cache_dir: str | os.PathLike[str] | None, download: bool) -> Path:  # fmt: skip
    if checkpoint is not None:
        return Path(checkpoint)  # read_semantic_weights says when it does not exist
    if spec.url is None:
        shipped = SHIPPED_WEIGHTS / f"{spec.name}.pt"
        if shipped.is_file():
            return shipped
        raise CheckpointError(
            f"{spec.name} has no weights: {shipped} is missing (a source tree without its weights?); give "
            "--semantic-checkpoint FILE (vidseg train semantic writes one), or --semantic-random-weights to try the "
            "pipeline with meaningless maps"
        )
    return cached_download(spec.url, cache_dir, download, "--semantic-checkpoint FILE",
                           "--semantic-random-weights to try the pipeline")  # fmt: skip


def cached_download(url: str, cache_dir: str | os.PathLike[str] | None, download: bool, file_flag: str,
                    random_flag: str) -> Path:  # fmt: skip
    """torchvision-style weights: ``url``'s file in the cache, else downloaded there and checked
    against the hash prefix in its name. Offline, one :class:`CheckpointError` naming the file,
    the cache and the flags (``file_flag``, ``random_flag``) that do without."""
    cache = Path(cache_dir or Path.home() / ".cache" / "vidseg" / "checkpoints")
    target = cache / url.rsplit("/", 1)[1]
    if target.is_file():
        return target
    if not download:
        raise CheckpointError(f"{target.name} is not in {cache} and downloads are off; put the file there or give "
                              f"{file_flag}")  # fmt: skip
    cache.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(url, str(target), hash_prefix=target.stem.rsplit("-", 1)[-1], progress=False)
    except Exception as exc:
        target.unlink(missing_ok=True)
        raise CheckpointError(
            f"cannot download {url} ({type(exc).__name__}); offline? Put {target.name} in {cache}, or give "
            f"{file_flag}, or {random_flag}"
        ) from None
    return target
