"""Per-frame semantic segmentation: torchvision's models and the project's U-Net, one factory."""

from __future__ import annotations

from vidseg.models.semantic.build import SEMANTIC_MODELS, SemanticModel, SemanticSpec, build_semantic_model

__all__ = ["SEMANTIC_MODELS", "SemanticModel", "SemanticSpec", "build_semantic_model"]
