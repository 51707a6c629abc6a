"""Hugging Face semantic checkpoints (SegFormer, Mask2Former, EoMT) through ``hf:<folder>``: tiny
random-init checkpoints saved here, loaded as a user's would be, labelling frames of any size."""

from __future__ import annotations

import numpy as np
import pytest

from vidseg.errors import CheckpointError, ConfigError
from vidseg.models.semantic import build_semantic_model

transformers = pytest.importorskip("transformers", reason="the transformers extra is not installed")

LABELS = {0: "road", 1: "car", 2: "person"}


def _save(folder, family: str):
    common = {"num_labels": 3, "id2label": LABELS, "label2id": {v: k for k, v in LABELS.items()}}
    if family == "segformer":
        model = transformers.SegformerForSemanticSegmentation(transformers.SegformerConfig(
            hidden_sizes=[8, 16, 24, 32], num_attention_heads=[1, 1, 1, 1], depths=[1, 1, 1, 1],
            decoder_hidden_size=16, **common))  # fmt: skip
        processor = transformers.SegformerImageProcessor(size={"height": 64, "width": 64})
    elif family == "mask2former":
        model = transformers.Mask2FormerForUniversalSegmentation(transformers.Mask2FormerConfig(
            hidden_dim=32, mask_feature_size=32, feature_size=32, encoder_layers=1, decoder_layers=2, num_queries=10,
            dim_feedforward=64, num_attention_heads=2, encoder_feedforward_dim=64,
            backbone_config={"model_type": "swin", "embed_dim": 16, "depths": [1, 1, 1, 1], "num_heads": [1, 1, 1, 1],
                             "out_features": ["stage1", "stage2", "stage3", "stage4"], "image_size": 64}, **common))  # fmt: skip
        processor = transformers.Mask2FormerImageProcessor(size={"height": 64, "width": 64})
    else:
        model = transformers.EomtForUniversalSegmentation(transformers.EomtConfig(
            hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=64,
            patch_size=16, num_queries=10, num_blocks=1, **common))  # fmt: skip
        processor = transformers.EomtImageProcessor(do_pad=True, size={"shortest_edge": 64, "longest_edge": 64})
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("family", ["segformer", "mask2former", "eomt"])
def test_each_family_labels_a_frame_of_any_size_with_the_checkpoints_classes(tmp_path, family):
    folder = _save(tmp_path / family, family)
    model = build_semantic_model(f"hf:{folder}")
    image = np.random.default_rng(2).integers(0, 255, (48, 80, 3), dtype=np.uint8)
    labels = model.predict(image)
    assert labels.shape == (48, 80) and labels.dtype == np.uint8 and int(labels.max()) < 3
    semantic = model.label(image)
    assert semantic.classes == ("road", "car", "person") and semantic.model == f"hf:{folder}"


def test_offline_unknown_and_misused_checkpoints_are_one_clear_line(tmp_path):
    with pytest.raises(CheckpointError, match="huggingface-cli download"):
        build_semantic_model("hf:nvidia/segformer-b0-finetuned-ade-512-512", download=False, cache_dir=tmp_path)
    other = tmp_path / "vit"
    transformers.ViTModel(transformers.ViTConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=1,
                                                 intermediate_size=16)).save_pretrained(other)  # fmt: skip
    with pytest.raises(ConfigError, match="'vit' checkpoint"):
        build_semantic_model(f"hf:{other}")
    with pytest.raises(ConfigError, match="own weights"):
        build_semantic_model(f"hf:{other}", random_weights=True)
