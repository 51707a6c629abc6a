"""Hugging Face semantic checkpoints (SegFormer, Mask2Former, EoMT) through ``hf:<folder>``: tiny
random-init checkpoints saved here, loaded as a user's would be, labelling frames of any size."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from vidseg.datasets.moving_shapes import moving_shapes_clip, write_clip_video
from vidseg.errors import CheckpointError, ConfigError
from vidseg.models.semantic import build_semantic_model
from vidseg.models.semantic.hf import hub_reachable

transformers = pytest.importorskip("transformers", reason="the transformers extra is not installed")

LABELS = {0: "road", 1: "car", 2: "person"}
ROOT = Path(__file__).resolve().parents[3]
UNCACHED = "hf:vidseg-tests/never-cached-segformer"


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


def _varied(net) -> None:
    """Add a fixed random pattern to the network's per-pixel output (SegFormer's logits, the
    universal models' mask logits): tiny random Mask2Former and EoMT give every pixel one class,
    and a map of one class cannot tell how labels were upsampled."""

    def hook(module, inputs, out):
        generator = torch.Generator().manual_seed(3)
        keys = ["logits"] if getattr(out, "logits", None) is not None else ["masks_queries_logits", "class_queries_logits"]
        for key in keys:  # the queries' classes too, lest every query name the same one
            logits = getattr(out, key)
            out[key] = logits + 5 * torch.randn(logits.shape, generator=generator)
        return out

    net.register_forward_hook(hook)


@pytest.mark.parametrize("family", ["segformer", "mask2former", "eomt"])
def test_each_family_picks_classes_at_the_models_size_then_copies_them_out(tmp_path, family):
    """The processors see a 128x128 frame at 64x64: the labels must be the checkpoint's own
    post-processing at 64x64, each copied to the 2x2 frame pixels it covers (post-processing at
    the frame's size, as before, resamples the logits and puts boundaries between them)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_semantic_model(f"hf:{_save(tmp_path / family, family)}")
    _varied(model.net)
    image = np.random.default_rng(2).integers(0, 255, (128, 128, 3), dtype=np.uint8)
    with torch.inference_mode():
        inputs = model.processor(images=image, return_tensors="pt")
        outputs = model.net(**inputs)
        small = model.processor.post_process_semantic_segmentation(outputs, target_sizes=[(64, 64)])[0].numpy()
    assert len(np.unique(small)) > 1, "the test needs a map of several classes"
    assert np.array_equal(model.predict(image), small.astype(np.uint8).repeat(2, axis=0).repeat(2, axis=1))


def test_the_info_names_the_folder_its_weights_hash_and_the_processors_size(tmp_path):
    folder = _save(tmp_path / "segformer", "segformer")
    info = build_semantic_model(f"hf:{folder}").info
    assert info.to_json() == {
        "name": f"hf:{folder}", "classes": ["road", "car", "person"], "checkpoint": str(folder),
        "checkpoint_sha256": hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest(),
        "random_weights": False, "input_size": 64,
    }  # fmt: skip


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def unreachable_hub(monkeypatch):
    """The hub client pointed at a loopback port nothing listens on, downloads allowed."""
    from huggingface_hub import constants

    endpoint = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return endpoint


def test_an_uncached_hub_id_with_the_hub_unreachable_is_one_error_at_once(tmp_path, unreachable_hub, caplog):
    start = time.monotonic()
    with caplog.at_level(logging.DEBUG), pytest.raises(CheckpointError) as error:
        build_semantic_model(UNCACHED, cache_dir=tmp_path)
    assert time.monotonic() - start < 5  # the hub client's retries took about 25 s
    message = str(error.value)
    assert "is not in the Hugging Face cache" in message and f"the hub ({unreachable_hub}) cannot be reached" in message
    assert "huggingface-cli download vidseg-tests/never-cached-segformer" in message and "\n" not in message
    assert not [r for r in caplog.records if r.name.startswith("huggingface_hub") and r.levelno >= logging.WARNING]


@pytest.mark.parametrize("how", ["download=False", "HF_HUB_OFFLINE"])
def test_an_uncached_hub_id_with_downloads_off_never_tries_the_hub(tmp_path, unreachable_hub, monkeypatch, how):
    from huggingface_hub import constants

    monkeypatch.setattr("vidseg.models.semantic.hf.hub_reachable", lambda *a, **k: pytest.fail("the hub was probed"))
    if how == "HF_HUB_OFFLINE":
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    start = time.monotonic()
    with pytest.raises(CheckpointError, match=r"not in the Hugging Face cache .* and downloads are off; download it"):
        build_semantic_model(UNCACHED, cache_dir=tmp_path, download=how != "download=False")
    assert time.monotonic() - start < 5


def test_a_cached_checkpoint_loads_without_the_hub(tmp_path, unreachable_hub, monkeypatch):
    """A hub id already in the cache is loaded from it, with the hub unreachable and unprobed."""
    repo = tmp_path / "huggingface" / "models--vidseg-tests--cached"
    snapshot = repo / "snapshots" / ("0" * 40)
    _save(snapshot, "segformer")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr("vidseg.models.semantic.hf.hub_reachable", lambda *a, **k: pytest.fail("the hub was probed"))
    model = build_semantic_model("hf:vidseg-tests/cached", cache_dir=tmp_path)
    assert model.classes == ("road", "car", "person") and model.info.checkpoint == "vidseg-tests/cached"
    assert model.info.checkpoint_sha256 == hashlib.sha256((snapshot / "model.safetensors").read_bytes()).hexdigest()


def test_hub_reachable_opens_a_connection_within_its_timeout(monkeypatch):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert hub_reachable(f"http://127.0.0.1:{server.getsockname()[1]}", timeout=2)
    assert not hub_reachable(f"http://127.0.0.1:{_closed_port()}", timeout=2)

    def hang(*args, **kwargs):  # a resolver or a network that never answers
        time.sleep(5)
        raise OSError("timed out")

    monkeypatch.setattr(socket, "create_connection", hang)
    start = time.monotonic()
    assert not hub_reachable("https://huggingface.co", timeout=0.3)
    assert time.monotonic() - start < 2


def test_vidseg_run_with_an_uncached_hub_id_offline_prints_one_line(tmp_path):
    clip = moving_shapes_clip(num_frames=2, height=32, width=32, num_objects=1, seed=3, fps=25)
    source = write_clip_video(clip, tmp_path / "clip.mp4", fps=25)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}",
           "HF_HOME": str(tmp_path / "hf"), "VIDSEG_CACHE": str(tmp_path / "cache")}  # fmt: skip
    env.pop("HF_HUB_OFFLINE", None)
    env.pop("TRANSFORMERS_OFFLINE", None)
    proc = subprocess.run([sys.executable, "-m", "vidseg", "run", str(source), "--out", str(tmp_path / "o"),
                           "--model", "vidseg_synthetic_tiny", "--point", "16,16", "--semantic", UNCACHED],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    errors = [line for line in lines if line.startswith("vidseg: error:")]
    assert len(errors) == 1 and "cannot be reached" in errors[0], proc.stderr
    assert not [line for line in lines if "Retry" in line or "huggingface_hub" in line or "WARNING" in line], proc.stderr
