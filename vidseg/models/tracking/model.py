"""Building the ``sam2`` package's model from its own configs, with overrides.

The configs are read with OmegaConf straight from the installed ``sam2`` package and
instantiated with Hydra's ``instantiate``: no global Hydra state of ours, and the same module
classes and post-processing flags as ``sam2.build_sam.build_sam2_video_predictor``.
"""

from __future__ import annotations

import importlib.resources
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from vidseg.errors import CheckpointError, ConfigError

log = logging.getLogger(__name__)

# What `build_sam2_video_predictor` adds to every config (sam2 1.1.0). Keeping the same flags is
# what makes our per-frame loop compute what the official predictor computes. `fill_hole_area` is
# 0 here because vidseg does its own hole filling (the package's needs a CUDA extension).
_PREDICTOR_OVERRIDES: dict[str, Any] = {
    "model._target_": "sam2.sam2_video_predictor.SAM2VideoPredictor",
    "model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability": True,
    "model.sam_mask_decoder_extra_args.dynamic_multimask_stability_delta": 0.05,
    "model.sam_mask_decoder_extra_args.dynamic_multimask_stability_thresh": 0.98,
    "model.binarize_mask_from_pts_for_mem_enc": True,
    "model.fill_hole_area": 0,
}


def _config_path(config: str) -> Path:
    """Path of a config: a file on disk, or a path inside the installed ``sam2`` package."""
    direct = Path(config)
    if direct.is_file():
        return direct
    packaged = Path(str(importlib.resources.files("sam2"))) / config
    if packaged.is_file():
        return packaged
    raise ConfigError(
        f"model config {config!r} not found as a file or inside the sam2 package "
        f"({packaged}); check that sam2==1.1.0 is installed"
    )


def load_model_config(config: str, overrides: Mapping[str, Any] | None = None) -> Any:
    """Load a SAM 2 YAML config and apply dotted-key ``overrides`` (``"model.image_size": 256``)."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(_config_path(config))
    merged = dict(_PREDICTOR_OVERRIDES)
    merged.update(overrides or {})
    for key, value in merged.items():
        OmegaConf.update(cfg, key, value, force_add=True)
    OmegaConf.resolve(cfg)
    return cfg


def instantiate_model(cfg: Any, seed: int = 0) -> torch.nn.Module:
    """Instantiate ``cfg.model`` with parameters drawn from a generator seeded with ``seed``."""
    from hydra.utils import instantiate

    # Seed the default generator only for the duration of construction, then restore it.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = instantiate(cfg.model, _recursive_=True)
    if not isinstance(model, torch.nn.Module):
        raise ConfigError(f"config built a {type(model).__name__}, expected a torch module")
    return model


def load_weights(model: torch.nn.Module, path: Path, name: str = "") -> None:
    """Load a SAM 2 checkpoint (a dict with a ``"model"`` state dict) into ``model``, strictly;
    ``name`` (the model's name) makes the error for a checkpoint of another architecture clearer.

    Raises:
        CheckpointError: the file is not a SAM 2 checkpoint or does not fit the model.
    """
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file, with advice that does not apply here
        raise CheckpointError(
            f"cannot read checkpoint {path}: it is not a PyTorch checkpoint of tensors, or it is damaged "
            f"({type(exc).__name__}); give a SAM 2 .pt file (e.g. sam2.1_hiera_tiny.pt)"
        ) from None
    if not isinstance(blob, dict) or not isinstance(blob.get("model"), dict):
        found = sorted(map(str, blob))[:8] if isinstance(blob, dict) else type(blob).__name__
        raise CheckpointError(
            f"checkpoint {path} is not a SAM 2 checkpoint: expected a dict with a 'model' state dict, found {found}"
        )
    state = blob["model"]
    own = model.state_dict()
    mismatched = [
        (key, tuple(value.shape), tuple(own[key].shape))
        for key, value in state.items()
        if key in own and hasattr(value, "shape") and tuple(value.shape) != tuple(own[key].shape)
    ]
    missing = [key for key in own if key not in state]
    unexpected = [key for key in state if key not in own]
    if mismatched or missing or unexpected:
        detail = []
        if mismatched:
            key, theirs, ours = mismatched[0]
            detail.append(f"{len(mismatched)} tensors of another shape (e.g. {key}: {list(theirs)} in the file, "
                          f"{list(ours)} in the model)")  # fmt: skip
        if missing:
            detail.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            detail.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        chosen = f"--model {name}" if name else "the chosen model"
        raise CheckpointError(
            f"checkpoint {path} does not fit {chosen}: {'; '.join(detail)}. It was made for another "
            "architecture: choose the --model it was trained as (see `vidseg models`)"
        )
    model.load_state_dict(state, strict=True)
