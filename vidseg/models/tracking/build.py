"""``build_tracker``: the one factory for SAM 2 trackers."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping
from typing import Any

from vidseg.errors import ConfigError
from vidseg.models.device import compute_dtype, resolve_device
from vidseg.models.tracking.checkpoints import resolve_checkpoint
from vidseg.models.tracking.model import instantiate_model, load_model_config, load_weights
from vidseg.models.tracking.registry import get_model_spec
from vidseg.models.tracking.tracker import Sam2Model, Sam2Tracker
from vidseg.types import ModelInfo

log = logging.getLogger(__name__)


class RandomWeightsWarning(UserWarning):
    """Emitted when a model runs with random weights: its masks mean nothing."""


def _check_image_size(image_size: int) -> None:
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 64 or image_size % 32:
        raise ConfigError(
            f"image_size must be a multiple of 32 and at least 64 (SAM 2's backbone works on "
            f"32-pixel blocks); found {image_size!r}. Official models use 1024; 512 is ~4x faster."
        )


def build_model(
    model: str = "sam2.1_hiera_tiny",
    checkpoint: str | os.PathLike[str] | None = None,
    *,
    random_weights: bool = False,
    image_size: int | None = None,
    device: str = "auto",
    seed: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    fill_hole_area: int = 8,
    max_cond_frames: int = 8,
    batch_objects: bool | None = None,
    model_overrides: Mapping[str, Any] | None = None,
) -> Sam2Model:
    """Build SAM 2's weights once; :meth:`Sam2Model.session` gives a tracker per stream.

    Args:
        model: a model name (``sam2.1_hiera_tiny|small|base_plus|large`` or ``sam2_hiera_*``).
        checkpoint: path of the checkpoint; default: the cache, else a download of the official one.
        random_weights: use seeded random weights instead of a checkpoint (for tests and trying
            the pipeline; masks are meaningless). Never implied: it must be asked for.
        image_size: model input size (multiple of 32); default the model's own (1024).
        device: ``"auto"`` (CUDA if present), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        seed: seed of the random weights.
        cache_dir: checkpoint cache directory.
        download: download a missing official checkpoint into the cache.
        fill_hole_area: fill background holes up to this many low-res pixels (SAM 2's default
            post-processing is 8); 0 switches it off.
        max_cond_frames: prompted frames kept per object (the first one and the latest ones).
        batch_objects: run objects whose memory layouts match as one batch; default (None): on
            CUDA only (on the CPU, batches of 4+ objects measured slower than one by one).
        model_overrides: extra dotted config overrides, e.g. ``{"model.max_cond_frames_in_attn": 4}``.

    Raises:
        UnknownModelError: unknown model name.
        ConfigError: bad image size or conflicting options.
        CheckpointError: no usable checkpoint (the message says where to put one).
        DeviceError: the device is not available.
    """
    spec = get_model_spec(model)
    size = spec.default_image_size if image_size is None else image_size
    _check_image_size(size)
    if fill_hole_area < 0:
        raise ConfigError(f"fill_hole_area must be >= 0; found {fill_hole_area}")
    if max_cond_frames < 1:
        raise ConfigError(f"max_cond_frames must be >= 1 (prompted frames kept per object); found {max_cond_frames}")
    if random_weights and checkpoint is not None:
        raise ConfigError("random_weights=True and a checkpoint were both given; choose one")
    dev = resolve_device(device)

    resolved = None
    if not random_weights:
        resolved = resolve_checkpoint(spec, checkpoint, cache_dir=cache_dir, download_missing=download)

    overrides: dict[str, Any] = {"model.image_size": size, **spec.overrides}
    overrides.update(model_overrides or {})
    cfg = load_model_config(spec.config, overrides)
    net = instantiate_model(cfg, seed=seed)
    if resolved is not None:
        load_weights(net, resolved.path, spec.name)
        log.info("loaded %s from %s (sha256 %s)", spec.name, resolved.path, resolved.sha256[:12])
        if not spec.default_image_size / 4 <= size <= spec.default_image_size * 2:
            log.warning("%s was trained at image size %d; it runs at %d here (--image-size or --config), which "
                        "changes its masks and, larger, costs about %.1fx the time per frame: leave the size out to "
                        "use its own", spec.name, spec.default_image_size, size,
                        (size / spec.default_image_size) ** 2)  # fmt: skip
    else:
        warnings.warn(
            f"{spec.name} runs with random weights (seed {seed}): its masks are meaningless. "
            "Use a checkpoint for real tracking.",
            RandomWeightsWarning,
            stacklevel=2,
        )
    net = net.to(dev).eval()
    info = ModelInfo(
        name=spec.name,
        image_size=size,
        checkpoint=str(resolved.path) if resolved is not None else None,
        checkpoint_sha256=resolved.sha256 if resolved is not None else None,
        random_weights=resolved is None,
        device=str(dev),
        dtype=str(compute_dtype(dev)).removeprefix("torch."),
    )
    return Sam2Model(
        net,
        info,
        dev,
        fill_hole_area=fill_hole_area,
        max_cond_frames=max_cond_frames,
        batch_objects=dev.type == "cuda" if batch_objects is None else batch_objects,
    )


def build_tracker(model: str = "sam2.1_hiera_tiny", checkpoint: str | os.PathLike[str] | None = None, **options: Any) -> Sam2Tracker:
    """Build a streaming SAM 2 tracker: :func:`build_model` and one session on it (same arguments).

    Example:
        >>> tracker = build_tracker("sam2.1_hiera_tiny", random_weights=True, image_size=256)
        >>> other = tracker.weights.session()   # a second stream on the same weights
    """
    return build_model(model, checkpoint, **options).session()
