"""The semantic model's ``info`` (the manifest's ``"semantic"`` entry) and the advice given for
weights that are not a semantic model's (a SAM 2 tracker checkpoint above all)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
import torch

from vidseg.errors import CheckpointError, InputError
from vidseg.models.semantic import SEMANTIC_MODELS, build_semantic_model
from vidseg.models.semantic.build import SHIPPED_WEIGHTS
from vidseg.models.semantic.info import SemanticModelInfo

ROOT = Path(__file__).resolve().parents[3]
TRACKER_WEIGHTS = ROOT / "vidseg" / "models" / "tracking" / "weights" / "vidseg_synthetic_tiny.pt"
SHAPES = ["background", "disc", "ellipse", "rectangle", "triangle", "star", "polygon", "blob"]


def test_the_shipped_unet_records_its_classes_weights_and_hash():
    model = build_semantic_model("vidseg_unet_synthetic")
    weights = SHIPPED_WEIGHTS / "vidseg_unet_synthetic.pt"
    assert model.info.to_json() == {
        "name": "vidseg_unet_synthetic", "classes": SHAPES, "checkpoint": str(weights),
        "checkpoint_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(), "random_weights": False,
        "input_size": 128,
    }  # fmt: skip
    assert json.loads(json.dumps(model.info.to_json())) == model.info.to_json()
    assert list(model.info.classes) == list(model.classes)  # list index = class id in semantic.mkv
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.info.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize("name", sorted(SEMANTIC_MODELS))
def test_random_weights_and_a_chosen_size_are_recorded(name):
    info = build_semantic_model(name, random_weights=True, input_size=64).info
    assert (info.name, info.checkpoint, info.checkpoint_sha256, info.random_weights, info.input_size) == (
        name, None, None, True, 64)  # fmt: skip
    assert info.classes[0] == "background" and len(info.classes) in (8, 21)


def test_a_trained_checkpoint_brings_its_own_classes_and_size(tmp_path):
    net = build_semantic_model("vidseg_unet_synthetic", random_weights=True).net
    path = tmp_path / "best.pt"
    classes = ["background", "road", "car"]
    state = {k: v for k, v in net.state_dict().items() if not k.startswith("head.")}
    state["head.weight"], state["head.bias"] = torch.zeros(3, 16, 1, 1), torch.zeros(3)
    torch.save({"model": state, "vidseg": {"model": "vidseg_unet_synthetic", "classes": classes, "input_size": 96}}, path)
    info = build_semantic_model("vidseg_unet_synthetic", path).info
    assert info.classes == tuple(classes) and info.input_size == 96 and info.checkpoint == str(path)
    assert info.checkpoint_sha256 == hashlib.sha256(path.read_bytes()).hexdigest() and not info.random_weights


GOOD = {"name": "m", "classes": ("a", "b"), "checkpoint": "w.pt", "checkpoint_sha256": "0" * 64,
        "random_weights": False, "input_size": 128}  # fmt: skip


@pytest.mark.parametrize(("change", "match"), [
    ({"classes": ()}, "1..256 class names"),
    ({"classes": tuple(str(k) for k in range(257))}, "1..256 class names"),
    ({"classes": ("a", 3)}, "1..256 class names"),
    ({"checkpoint_sha256": "ABC"}, "64 lowercase hex digits; found 'ABC'"),
    ({"random_weights": True}, "random weights has no checkpoint"),
    ({"input_size": 0}, "input_size must be positive"),
])  # fmt: skip
def test_an_info_that_cannot_be_true_is_refused(change, match):
    SemanticModelInfo(**GOOD)
    with pytest.raises(InputError, match=match):
        SemanticModelInfo(**{**GOOD, **change})


def _sam2_like(path: Path) -> Path:
    """The shape of an official SAM 2 checkpoint: {"model": state}, no vidseg entry."""
    state = {"image_encoder.trunk.patch_embed.proj.weight": torch.zeros(1), "memory_attention.layers.0.norm1.weight":
             torch.zeros(1), "sam_mask_decoder.iou_token.weight": torch.zeros(1)}  # fmt: skip
    torch.save({"model": state}, path)
    return path


@pytest.mark.parametrize("semantic", ["vidseg_unet_synthetic", "lraspp_mobilenet_v3_large"])
def test_a_tracker_checkpoint_given_as_the_semantic_one_is_sent_to_checkpoint(semantic, tmp_path):
    for path, model in ((TRACKER_WEIGHTS, "vidseg_synthetic_tiny"), (_sam2_like(tmp_path / "sam2.1_hiera_tiny.pt"), None)):
        with pytest.raises(CheckpointError) as error:
            build_semantic_model(semantic, path)
        message = str(error.value)
        assert "looks like a SAM 2 tracker checkpoint" in message and "give it as --checkpoint" in message
        assert ("--model vidseg_synthetic_tiny" in message) == (model is not None)
        assert "--semantic vidseg_synthetic_tiny" not in message  # the old advice, which --semantic then refused
        assert all(name in message for name in SEMANTIC_MODELS)


def test_weights_of_another_model_get_the_advice_that_fits(tmp_path):
    fcn = tmp_path / "fcn.pt"
    torch.save({"model": {"w": torch.zeros(1)}, "vidseg": {"model": "fcn_resnet50"}}, fcn)
    with pytest.raises(CheckpointError, match=r"are of 'fcn_resnet50', not 'vidseg_unet_synthetic'; pass --semantic fcn_resnet50"):
        build_semantic_model("vidseg_unet_synthetic", fcn)
    unknown = tmp_path / "other.pt"
    torch.save({"model": {"w": torch.zeros(1)}, "vidseg": {"model": "my_net"}}, unknown)
    with pytest.raises(CheckpointError, match=r"'my_net', which is no semantic model; .*one of deeplabv3_mobilenet_v3_large"):
        build_semantic_model("vidseg_unet_synthetic", unknown)
