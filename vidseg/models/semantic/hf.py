"""Semantic models from Hugging Face ``transformers`` (the optional extra: ``pip install
'vidseg[transformers]'``): SegFormer, Mask2Former and EoMT semantic checkpoints, named
``hf:<hub id>`` or ``hf:<local folder>`` (``--semantic hf:nvidia/segformer-b0-finetuned-ade-512-512``).

The checkpoint's own image processor prepares each frame and turns the output into a label map
(``post_process_semantic_segmentation``) at the size the model saw the frame at; only those labels
are brought to the frame's size, by nearest neighbour. The class names are the config's
``id2label``. Licences differ by checkpoint: SegFormer's weights (NVIDIA) are licensed for
non-commercial use only; check a checkpoint's model card before using it in a product.

Loading tries the local files first (a folder, or the hub's cache): a cached checkpoint loads
without the network. Only when that fails, downloads are allowed (``download=True`` and no
``HF_HUB_OFFLINE``) and the hub answers a connection within a few seconds does it download;
otherwise one :class:`~vidseg.errors.CheckpointError` says so at once, instead of the hub
client's retries (about 25 s and 22 warning lines), which are kept out of the log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidseg.errors import CheckpointError, ConfigError
from vidseg.models.device import resolve_device
from vidseg.models.semantic.info import SemanticModelInfo, sha256_of
from vidseg.models.semantic.labels import upsample_labels
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
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")  # a checkpoint's single weights file
HUB_PROBE_SECONDS = 3.0


def _transformers() -> Any:
    try:
        import transformers
    except ImportError:
        raise ConfigError("hf: semantic models need the transformers extra: pip install 'vidseg[transformers]'") from None
    return transformers


class HfSemanticModel:
    """A ``transformers`` semantic checkpoint behind :class:`~vidseg.models.semantic.SemanticModel`'s
    calls (``predict``, ``label``, ``classes``, ``name``, ``info``). Only one thread may use it."""

    def __init__(self, name: str, net: Any, processor: Any, classes: tuple[str, ...], device: torch.device,
                 random_weights: bool = False, family: str = "segformer",
                 checkpoint_sha256: str | None = None) -> None:  # fmt: skip
        self.name, self.net, self.processor, self.classes, self.device = name, net.eval().to(device), processor, classes, device
        self.family = family
        self.random_weights = random_weights
        self.checkpoint: str | None = name.removeprefix(HF_PREFIX)
        self.input_size: int | None = processor_size(processor)
        self.info = SemanticModelInfo(name, classes, None if random_weights else self.checkpoint,
                                      None if random_weights else checkpoint_sha256, random_weights, self.input_size)  # fmt: skip

    def predict(self, image: ImageArray) -> np.ndarray:
        """The HxW uint8 label map of an HxWx3 uint8 RGB frame: the processor's labels at the size
        the model saw the frame at (:meth:`label_size`), brought to the frame's by nearest neighbour."""
        check_image(image)
        height, width = image.shape[:2]
        with torch.inference_mode():
            inputs = self.processor(images=image, return_tensors="pt").to(self.device)
            outputs = self.net(**inputs)
            size = self.label_size(height, width, tuple(inputs["pixel_values"].shape[-2:]))
            labels = self.processor.post_process_semantic_segmentation(outputs, target_sizes=[size])[0]
        return upsample_labels(labels.to(torch.uint8).cpu().numpy(), height, width)

    def label_size(self, height: int, width: int, pixels: tuple[int, ...]) -> tuple[int, int]:
        """The size the labels of a ``height`` x ``width`` frame are picked at, never larger than
        the frame: the network's input (``pixels``, the processed image's height and width) for
        SegFormer and Mask2Former, whose post-processing resamples to any size; for EoMT, whose
        post-processing reads the size as the original image's (to place its crops), the frame
        resized as its processor resizes it, when that size maps onto itself (else the frame's)."""
        if self.family == "eomt":
            from transformers.image_transforms import get_size_with_aspect_ratio

            size = processor_sizes(self.processor)
            shortest, longest = size.get("shortest_edge"), size.get("longest_edge")
            if shortest is None:
                return height, width
            resized = tuple(get_size_with_aspect_ratio((height, width), shortest, longest))
            fixed = tuple(get_size_with_aspect_ratio(resized, shortest, longest)) == resized
            return (int(resized[0]), int(resized[1])) if fixed and resized[0] <= height and resized[1] <= width else (height, width)
        return min(height, int(pixels[0])), min(width, int(pixels[1]))

    def label(self, image: ImageArray) -> SemanticMap:
        return SemanticMap(self.predict(image), self.classes, model=self.name)


def processor_sizes(processor: Any) -> dict[str, int]:
    """The sizes an image processor's ``size`` sets (``height``, ``width``, ``shortest_edge``,
    ``longest_edge``, ...; a dict or ``transformers``' ``SizeDict``), unset ones left out."""
    size = getattr(processor, "size", None)
    try:
        items = dict(size) if size is not None else {}
    except (TypeError, ValueError):
        return {}
    return {str(k): int(v) for k, v in items.items() if isinstance(v, int) and not isinstance(v, bool)}


def processor_size(processor: Any) -> int | None:
    """The shorter side an image processor brings images to, None when it has no single one."""
    size = processor_sizes(processor)
    if "shortest_edge" in size:
        return size["shortest_edge"]
    if "height" in size and "width" in size:
        return min(size["height"], size["width"])
    return None


def hub_reachable(endpoint: str, timeout: float = HUB_PROBE_SECONDS) -> bool:
    """Whether a TCP connection to the hub's ``endpoint`` (or to the proxy configured for it)
    opens within ``timeout`` seconds. The name lookup runs in a worker thread joined with the
    timeout too: a resolver that hangs counts as unreachable."""
    url = urllib.parse.urlsplit(endpoint)
    proxy = urllib.request.getproxies().get(url.scheme)
    if proxy and url.hostname and not urllib.request.proxy_bypass(url.hostname):
        url = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if not url.hostname:
        return False
    address = (url.hostname, url.port or (443 if url.scheme == "https" else 80))
    opened = threading.Event()

    def probe() -> None:
        with contextlib.suppress(OSError), socket.create_connection(address, timeout=timeout):
            opened.set()

    worker = threading.Thread(target=probe, name="hf-hub-probe", daemon=True)
    worker.start()
    worker.join(timeout)
    return opened.is_set()


class _HubRetries(logging.Filter):
    """Keeps the hub client's per-retry warnings out of the log, and counts them."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING:
            self.dropped += 1
            return False
        return True


@contextlib.contextmanager
def _quiet_hub_retries() -> Iterator[_HubRetries]:
    hub_http = logging.getLogger("huggingface_hub.utils._http")
    retries = _HubRetries()
    hub_http.addFilter(retries)
    try:
        yield retries
    finally:
        hub_http.removeFilter(retries)


def _hub_settings() -> tuple[str, bool]:
    """The hub's endpoint and whether the hub client is in offline mode (``HF_HUB_OFFLINE``, read
    by ``huggingface_hub`` itself when it is imported)."""
    try:
        from huggingface_hub import constants
    except ImportError:  # transformers without its hub client: treat as offline
        return "", True
    return str(constants.ENDPOINT), bool(constants.HF_HUB_OFFLINE)


def _load(transformers: Any, source: str, options: dict[str, Any]) -> tuple[str, tuple[str, ...], Any, Any]:
    """(family, classes, processor, network) of ``source``; raises OSError/ValueError when its files
    cannot be had with ``options`` and ConfigError when it is no semantic checkpoint vidseg runs."""
    config = transformers.AutoConfig.from_pretrained(source, **options)
    family = getattr(config, "model_type", None)
    if family not in ARCHITECTURES:
        raise ConfigError(f"{source} is a {family!r} checkpoint; vidseg runs semantic checkpoints of "
                          f"{sorted(ARCHITECTURES)}")  # fmt: skip
    labels = getattr(config, "id2label", None) or {}
    count = max((int(k) for k in labels), default=-1) + 1
    if not 0 < count <= 255:
        raise ConfigError(f"{source} has {count} classes; label maps hold 1..255 classes")
    classes = tuple(str(labels.get(k, labels.get(str(k), f"class_{k}"))) for k in range(count))
    processor = transformers.AutoImageProcessor.from_pretrained(source, **options)
    net = getattr(transformers, ARCHITECTURES[family]).from_pretrained(source, **options)
    return str(family), classes, processor, net


def _weights_sha256(source: str, local: bool, cache_dir: str | None) -> str | None:
    """The SHA-256 of the checkpoint's single weights file (folder or hub cache), None when sharded."""
    for name in WEIGHT_FILES:
        if local:
            path: Path | None = Path(source).expanduser() / name
        else:
            try:
                from huggingface_hub import try_to_load_from_cache
            except ImportError:
                return None
            found = try_to_load_from_cache(source, name, cache_dir=cache_dir)
            path = Path(found) if isinstance(found, str) else None
        if path is not None and path.is_file():
            return sha256_of(path)
    return None


def build_hf_semantic_model(name: str, *, device: str = "cpu", download: bool = True,
                            cache_dir: str | os.PathLike[str] | None = None) -> HfSemanticModel:  # fmt: skip
    """Load ``hf:<hub id or folder>`` (see the module docstring).

    Raises:
        ConfigError: the extra is not installed, or the checkpoint is of another family.
        CheckpointError: the checkpoint cannot be had (not cached while offline or downloads are
            off, a typo, a damaged folder): one line, within a few seconds when the hub is unreachable.
    """
    transformers = _transformers()
    source = name.removeprefix(HF_PREFIX)
    if not source:
        raise ConfigError("--semantic hf: needs a hub id or a folder after 'hf:' (e.g. hf:nvidia/segformer-b0-finetuned-ade-512-512)")
    local = Path(source).expanduser().is_dir()
    hub_cache = str(Path(cache_dir) / "huggingface") if cache_dir is not None and not local else None
    options: dict[str, Any] = {"cache_dir": hub_cache} if hub_cache is not None else {}
    advice = (f"download it where the hub is reachable (huggingface-cli download {source} --local-dir DIR) and pass "
              f"--semantic hf:DIR")  # fmt: skip
    try:
        loaded = _load(transformers, source, {**options, "local_files_only": True})
    except ConfigError:
        raise
    except (OSError, ValueError) as exc:
        if local:
            raise CheckpointError(f"cannot load the folder {source} ({type(exc).__name__}: {str(exc)[:200]}); check "
                                  "that it holds a checkpoint saved by transformers (config, weights, image "
                                  "processor)") from None  # fmt: skip
        endpoint, offline = _hub_settings()
        where = f"{source!r} is not in the Hugging Face cache{f' ({hub_cache})' if hub_cache else ''}"
        if not download or offline:
            raise CheckpointError(f"{where} and downloads are off; {advice}") from None
        if not hub_reachable(endpoint):
            raise CheckpointError(f"{where} and the hub ({endpoint}) cannot be reached; offline? {advice}") from None
        with _quiet_hub_retries() as retries:
            try:
                loaded = _load(transformers, source, options)
            except ConfigError:
                raise
            except (OSError, ValueError) as exc:
                raise CheckpointError(
                    f"cannot load {source!r} from the Hugging Face hub ({type(exc).__name__}: {str(exc)[:200]}); "
                    f"check the hub id, or {advice}"
                ) from None
        if retries.dropped:
            log.info("the hub needed retries while %s downloaded (%d warnings left out)", source, retries.dropped)
    family, classes, processor, net = loaded
    if family in NON_COMMERCIAL:
        log.warning("%s: SegFormer's weights are licensed for non-commercial use only (see its model card)", source)
    log.info("loaded %s (%s, %d classes)", source, family, len(classes))
    return HfSemanticModel(name, net, processor, classes, resolve_device(device), family=family,
                           checkpoint_sha256=_weights_sha256(source, local, hub_cache))  # fmt: skip
