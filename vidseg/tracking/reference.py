"""The official ``SAM2VideoPredictor``, driven the way an interactive user drives it.

Used by the fidelity tests and the benchmarks to compare vidseg's streaming tracker with the
predictor it replaces, on the same weights and the same pixels. The official predictor reads a
folder of JPEG frames, so :func:`write_jpeg_clip` writes one and returns the decoded pixels
(JPEG is lossy): feed those to the streaming tracker.

Protocol (as in SAM 2's demo): add the prompts of the first prompted frame, propagate up to the
frame before the next prompted frame, add that frame's prompts, propagate on, and so on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from vidseg.tracking.registry import get_model_spec
from vidseg.types import FloatArray, ImageArray, IntArray, Prompt


@dataclass(frozen=True)
class ReferenceFrame:
    """The official predictor's output on one frame: ids and (N, H, W) float32 logits."""

    frame_index: int
    object_ids: IntArray
    logits: FloatArray


def write_jpeg_clip(frames: Sequence[ImageArray], folder: Path, quality: int = 95) -> list[ImageArray]:
    """Write ``frames`` as ``00000.jpg, 00001.jpg, ...`` and return the pixels as decoded back."""
    folder.mkdir(parents=True, exist_ok=True)
    decoded = []
    for i, frame in enumerate(frames):
        path = folder / f"{i:05d}.jpg"
        Image.fromarray(frame).save(path, quality=quality)
        decoded.append(np.asarray(Image.open(path).convert("RGB")))
    return decoded


def build_official_predictor(model_name: str, state_dict: Mapping[str, torch.Tensor], image_size: int) -> Any:
    """The official predictor (``build_sam2_video_predictor``) on CPU with the given weights.

    Its hole filling is switched off: it needs a CUDA extension that PyPI's sam2 lacks, so on
    this install it does nothing but warn (compare with ``fill_hole_area=0`` on our side).
    """
    from sam2.build_sam import build_sam2_video_predictor

    spec = get_model_spec(model_name)
    predictor = build_sam2_video_predictor(
        spec.config, ckpt_path=None, device="cpu", hydra_overrides_extra=[f"++model.image_size={image_size}"]
    )
    predictor.load_state_dict(state_dict)
    predictor.fill_hole_area = 0
    return predictor.eval()


def run_official(predictor: Any, jpeg_folder: Path, prompts: Mapping[int, Sequence[Prompt]]) -> list[ReferenceFrame]:
    """Run the official predictor over the clip in ``jpeg_folder`` with ``prompts`` by frame.

    Returns one :class:`ReferenceFrame` per frame from the first prompted frame on.
    """
    state = predictor.init_state(video_path=str(jpeg_folder))
    num_frames = state["num_frames"]
    prompt_frames = sorted(prompts)
    results: list[ReferenceFrame] = []
    with torch.inference_mode():
        for k, t in enumerate(prompt_frames):
            for prompt in prompts[t]:
                if prompt.mask is not None:
                    predictor.add_new_mask(state, frame_idx=t, obj_id=prompt.obj_id, mask=prompt.mask)
                else:
                    predictor.add_new_points_or_box(
                        state,
                        frame_idx=t,
                        obj_id=prompt.obj_id,
                        points=list(prompt.points) or None,
                        labels=list(prompt.labels) or None,
                        box=prompt.box,
                    )
            end = prompt_frames[k + 1] - 1 if k + 1 < len(prompt_frames) else num_frames - 1
            for frame_idx, obj_ids, masks in predictor.propagate_in_video(
                state, start_frame_idx=t, max_frame_num_to_track=end - t
            ):
                results.append(
                    ReferenceFrame(
                        frame_index=int(frame_idx),
                        object_ids=np.asarray(obj_ids, dtype=np.int64),
                        logits=masks[:, 0].float().cpu().numpy(),
                    )
                )
    return results
