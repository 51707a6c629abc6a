"""The SAM 2 models vidseg knows by name: their configs and official checkpoints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidseg.errors import UnknownModelError

_BASE_URL_SAM2 = "https://dl.fbaipublicfiles.com/segment_anything_2/072824/"
_BASE_URL_SAM21 = "https://dl.fbaipublicfiles.com/segment_anything_2/092824/"


@dataclass(frozen=True)
class ModelSpec:
    """One named SAM 2 model.

    Attributes:
        name: canonical name, e.g. ``"sam2.1_hiera_tiny"``.
        config: path of the model's YAML config inside the ``sam2`` package, or a file path.
        checkpoint_file: file name of the checkpoint (in the cache, or bundled).
        url: where the official checkpoint is published (None: never downloaded).
        sha256: expected SHA-256 of the checkpoint file, or None when no published value is known
            (the file's hash is then computed and reported, but not checked).
        default_image_size: the image size the model was trained at.
        bundled: where a checkpoint shipped with vidseg lies (None: none is shipped).
        description: one line for ``vidseg models``.
        overrides: dotted config overrides applied after the predictor's own (the model's
            definition, for every use: tracking, training and the official predictor).
    """

    name: str
    config: str
    checkpoint_file: str
    url: str | None
    sha256: str | None
    default_image_size: int = 1024
    bundled: Path | None = None
    description: str = ""
    overrides: Mapping[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        """Where the checkpoint comes from, for messages."""
        if self.url is not None:
            return self.url
        return f"shipped with vidseg at {self.bundled}" if self.bundled else "no published checkpoint"


def _spec(version: str, size: str, short: str, sha256: str | None) -> ModelSpec:
    stem = f"{version}_hiera_{size}"
    folder = "sam2.1" if version == "sam2.1" else "sam2"
    base = _BASE_URL_SAM21 if version == "sam2.1" else _BASE_URL_SAM2
    return ModelSpec(
        name=stem,
        config=f"configs/{folder}/{version}_hiera_{short}.yaml",
        checkpoint_file=f"{stem}.pt",
        url=f"{base}{stem}.pt",
        sha256=sha256,
    )


# Meta publishes no checksums; these SHA-256 values are the ones other projects pin for the same
# URLs (e.g. micro-sam's model registry), and agree across several independent pins.
MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        _spec("sam2.1", "tiny", "t", "7402e0d864fa82708a20fbd15bc84245c2f26dff0eb43a4b5b93452deb34be69"),
        _spec("sam2.1", "small", "s", "6d1aa6f30de5c92224f8172114de081d104bbd23dd9dc5c58996f0cad5dc4d38"),
        _spec("sam2.1", "base_plus", "b+", "a2345aede8715ab1d5d31b4a509fb160c5a4af1970f199d9054ccfb746c004c5"),
        _spec("sam2.1", "large", "l", "2647878d5dfa5098f2f8649825738a9345572bae2d4350a2468587ece47dd318"),
        _spec("sam2", "tiny", "t", "65b50056e05bcb13694174f51bb6da89c894b57b75ccdf0ba6352c597c5d1125"),
        _spec("sam2", "small", "s", "95949964d4e548409021d47b22712d5f1abf2564cc0c3c765ba599a24ac7dce3"),
        _spec("sam2", "base_plus", "b+", "d0bb7f236400a49669ffdd1be617959a8b1d1065081789d7bbff88eded3a8071"),
        _spec("sam2", "large", "l", "7442e4e9b732a508f80e141e7c2913437a3610ee0c77381a66658c3a445df87b"),
    )
}

_HERE = Path(__file__).resolve().parent
# vidseg's own reduced SAM 2.1, trained from scratch on synthetic videos only (see
# vidseg/models/tracking/weights/README.md): it makes the offline demo and tests show real tracking.
SYNTHETIC_MODEL = ModelSpec(
    name="vidseg_synthetic_tiny",
    config=str(_HERE / "model_configs" / "vidseg_synthetic_tiny.yaml"),
    checkpoint_file="vidseg_synthetic_tiny.pt",
    url=None,
    sha256=None,
    default_image_size=128,
    bundled=_HERE / "weights" / "vidseg_synthetic_tiny.pt",
    description="synthetic-only demo model (128 px); use the official SAM 2.1 models for real video",
    # Trained with one output mask: synthetic shapes have no part/whole ambiguity, and with three
    # candidates and a min-over-candidates loss the model learned to ignore the click (three
    # guesses cover most scenes). Its multimask tokens are untrained, so never fall back to them.
    overrides={"model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability": False},
)
MODELS[SYNTHETIC_MODEL.name] = SYNTHETIC_MODEL

# Short names people use for the same models (the sam2 repository's config names among them).
_ALIASES = {
    f"{version}_hiera_{short}": f"{version}_hiera_{size}"
    for version in ("sam2.1", "sam2")
    for size, short in (("tiny", "t"), ("small", "s"), ("base_plus", "b+"), ("large", "l"))
}


def get_model_spec(name: str) -> ModelSpec:
    """Return the :class:`ModelSpec` called ``name`` (canonical name or alias).

    Raises:
        UnknownModelError: if no model has that name; the message lists the known names.
    """
    key = name.strip().lower().replace("-", "_")
    if key.endswith(".pt"):
        key = key[:-3]
    key = _ALIASES.get(key, key)
    if key not in MODELS:
        raise UnknownModelError(f"unknown model {name!r}; expected one of: {', '.join(sorted(MODELS))}")
    return MODELS[key]
