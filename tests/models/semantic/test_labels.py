"""Label maps are picked at the model's size and brought to the frame's by nearest neighbour:
the helpers against torch's own ops, and every backend against a reference built from its
network's logits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vidseg.errors import InputError
from vidseg.models.semantic import SEMANTIC_MODELS, build_semantic_model
from vidseg.models.semantic.build import forward_logits
from vidseg.models.semantic.labels import class_ids, upsample_labels


def _frame(height: int, width: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize(("size_in", "size_out"), [((3, 5), (3, 5)), ((2, 3), (4, 6)), ((5, 7), (17, 23)),
                                                   ((64, 96), (360, 640)), ((20, 30), (7, 11)), ((1, 1), (4, 3))])  # fmt: skip
def test_upsample_labels_is_torchs_nearest_exact(size_in, size_out):
    labels = np.random.default_rng(0).integers(0, 255, size_in, dtype=np.uint8)
    expected = F.interpolate(torch.from_numpy(labels)[None, None], size=size_out, mode="nearest-exact")[0, 0].numpy()
    out = upsample_labels(labels, *size_out)
    assert out.dtype == np.uint8 and out.shape == size_out and out.flags.c_contiguous
    assert np.array_equal(out, expected)


def test_class_ids_are_argmax_with_its_ties():
    logits = torch.randn(8, 13, 17, generator=torch.Generator().manual_seed(0))
    logits[5] = logits[2]  # ties go to the first class, as argmax's
    logits[:, 0, 0] = 1.0
    ids = class_ids(logits)
    assert ids.dtype == np.uint8 and np.array_equal(ids, logits.argmax(dim=0).numpy()) and ids[0, 0] == 0


@pytest.mark.parametrize(("call", "match"), [
    (lambda: upsample_labels(np.zeros((2, 3, 1), np.uint8), 4, 4), r"an \(H, W\) label map; found shape \(2, 3, 1\)"),
    (lambda: upsample_labels(np.zeros(4, np.uint8), 4, 4), r"an \(H, W\) label map; found shape \(4,\)"),
    (lambda: class_ids(torch.zeros(300, 2, 2)), r"1..256 classes; found shape \(300, 2, 2\)"),
    (lambda: class_ids(torch.zeros(1, 3, 2, 2)), r"\(C, H, W\) logits .*found shape \(1, 3, 2, 2\)"),
])  # fmt: skip
def test_what_is_no_label_map_or_logits_is_refused_with_its_shape(call, match):
    with pytest.raises(InputError, match=match):
        call()


def _varied(net: torch.nn.Module) -> None:
    """Add a fixed random pattern to the network's own output (a dict for torchvision's, a tensor
    for the U-Net), at whatever size that output has: freshly initialised MobileNets give every
    pixel the same class, and a map of one class cannot tell how labels were upsampled."""

    def hook(module: torch.nn.Module, inputs: object, out: object) -> object:
        logits = out["out"] if isinstance(out, dict) else out
        assert isinstance(logits, torch.Tensor)
        pattern = 3 * torch.randn(logits.shape[1:], generator=torch.Generator().manual_seed(3))
        varied = logits + pattern * logits.std().clamp(min=1e-3)
        return {**out, "out": varied} if isinstance(out, dict) else varied

    net.register_forward_hook(hook)


@pytest.mark.parametrize("name", sorted(SEMANTIC_MODELS))
def test_each_backend_picks_classes_at_the_network_size_then_copies_them_out(name):
    """A 128x192 frame at input size 64 is seen at 64x96: each label must be the argmax of the
    network's output there, copied to the 2x2 frame pixels its pixel covers (logits resampled
    to the frame's size, as before, put class boundaries between those pixels)."""
    model = build_semantic_model(name, random_weights=True, input_size=64)
    _varied(model.net)
    image = _frame(128, 192)
    assert model.network_size(128, 192) == (64, 96)
    with torch.inference_mode():
        x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
        x = F.interpolate(x, size=(64, 96), mode="bilinear", align_corners=False, antialias=True)
        logits = forward_logits(model.net, x)[0]
    small = logits.argmax(dim=0).numpy().astype(np.uint8)
    assert len(np.unique(small)) > 1, "the test needs a map of several classes"
    top2 = logits.topk(2, dim=0).values
    clear = ((top2[0] - top2[1]) > 1e-3 * logits.abs().max()).numpy()  # no near-tie a kernel's rounding can flip
    assert clear.mean() > 0.98
    labels = model.predict(image)
    assert labels.shape == (128, 192) and labels.dtype == np.uint8
    expected, keep = (a.repeat(2, axis=0).repeat(2, axis=1) for a in (small, clear))
    assert np.array_equal(labels[keep], expected[keep])


def test_a_frame_smaller_than_the_network_keeps_its_own_size():
    model = build_semantic_model("vidseg_unet_synthetic", random_weights=True, input_size=64)
    labels = model.predict(_frame(50, 70))
    assert labels.shape == (50, 70) and int(labels.max()) < len(model.classes)
