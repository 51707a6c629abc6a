"""The CUDA path (bf16 autocast): runs only where a GPU is present."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none on this machine)")


def test_cuda_tracker_runs_in_bf16_and_agrees_with_cpu(make_tracker, clip24):
    gpu = make_tracker(image_size=256, device="cuda")
    cpu = make_tracker(image_size=256, device="cpu")
    assert gpu.info.dtype == "bfloat16" and cpu.info.dtype == "float32"
    for tracker in (gpu, cpu):
        tracker.add_prompt(1, points=[clip24.center(0, 1)])
        tracker.add_prompt(2, box=clip24.box(0, 2))
    for t in range(4):
        a, b = gpu.step(clip24.frames[t]), cpu.step(clip24.frames[t])
        assert a.logits.dtype == np.float32 and a.logits.shape == b.logits.shape
        # bf16 keeps ~3 significant digits; random-weight logits are below 0.5 in magnitude.
        assert np.abs(a.logits - b.logits).max() < 0.05
