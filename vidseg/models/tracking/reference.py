"""The official ``SAM2VideoPredictor``, driven the way an interactive user drives it.

Used by the fidelity tests and the benchmarks to compare vidseg's streaming tracker with the
predictor it replaces, on the same weights and the same pixels. The official predictor reads a
folder of JPEG frames, so :func:`write_jpeg_clip` writes one and returns the decoded pixels
(JPEG is lossy): feed those to the streaming tracker.

Protocol (as in SAM 2's demo): add the prompts of the first prompted frame, propagate up to the
frame before the next prompted frame, add that frame's prompts, propagate on, and so on. A
correction is a prompt added on the last propagated frame, before propagating on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from vidseg.models.tracking.model import instantiate_model, load_model_config
from vidseg.models.tracking.registry import get_model_spec
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


def build_official_predictor(
    model_name: str, state_dict: Mapping[str, torch.Tensor], image_size: int, overrides: Sequence[str] = ()
) -> Any:
    """The official predictor (``build_sam2_video_predictor``) on CPU with the given weights.

    Its hole filling is switched off: it needs a CUDA extension that PyPI's sam2 lacks, so on
    this install it does nothing but warn (compare with ``fill_hole_area=0`` on our side).
    """
    from sam2.build_sam import build_sam2_video_predictor

    spec = get_model_spec(model_name)
    if Path(spec.config).is_file():
        # A config outside the sam2 package (vidseg's own models): Hydra's config search cannot
        # find it, so build it as `build_sam2_video_predictor` would, with the same overrides.
        cfg = load_model_config(spec.config, {"model.image_size": image_size, **spec.overrides, **_dotted(overrides)})
        predictor = instantiate_model(cfg)
        predictor.load_state_dict(state_dict)
        return predictor.eval()
    predictor = build_sam2_video_predictor(
        spec.config,
        ckpt_path=None,
        device="cpu",
        hydra_overrides_extra=[f"++model.image_size={image_size}", *overrides],
    )
    predictor.load_state_dict(state_dict)
    predictor.fill_hole_area = 0
    return predictor.eval()


def _dotted(overrides: Sequence[str]) -> dict[str, Any]:
    """Hydra ``++key=value`` overrides as a dotted-key dict (values parsed as YAML)."""
    import yaml

    out = {}
    for item in overrides:
        key, _, value = item.lstrip("+").partition("=")
        out[key] = yaml.safe_load(value)
    return out


def _add(predictor: Any, state: dict[str, Any], t: int, prompt: Prompt) -> Any:
    if prompt.mask is not None:
        return predictor.add_new_mask(state, frame_idx=t, obj_id=prompt.obj_id, mask=prompt.mask)
    return predictor.add_new_points_or_box(
        state,
        frame_idx=t,
        obj_id=prompt.obj_id,
        points=list(prompt.points) or None,
        labels=list(prompt.labels) or None,
        box=prompt.box,
    )


def _frame(frame_idx: int, obj_ids: Sequence[int], masks: torch.Tensor) -> ReferenceFrame:
    return ReferenceFrame(
        frame_index=int(frame_idx),
        object_ids=np.asarray(obj_ids, dtype=np.int64),
        logits=masks[:, 0].float().cpu().numpy(),
    )


def run_official(
    predictor: Any,
    jpeg_folder: Path,
    prompts: Mapping[int, Sequence[Prompt]],
    corrections: Mapping[int, Sequence[Prompt]] | None = None,
) -> list[ReferenceFrame]:
    """Run the official predictor over the clip in ``jpeg_folder``.

    Args:
        predictor: from :func:`build_official_predictor`.
        jpeg_folder: the clip, as written by :func:`write_jpeg_clip`.
        prompts: prompts by frame, added before propagating from that frame.
        corrections: prompts by frame, added after propagating through that frame (a correction
            of the tracked result); that frame's output is the corrected one, and propagation
            resumes on the next frame.

    Returns:
        One :class:`ReferenceFrame` per frame from the first prompted frame on.
    """
    corrections = corrections or {}
    state = predictor.init_state(video_path=str(jpeg_folder))
    num_frames = state["num_frames"]
    starts = sorted(set(prompts) | {t + 1 for t in corrections if t + 1 < num_frames})
    results: dict[int, ReferenceFrame] = {}
    with torch.inference_mode():
        for k, start in enumerate(starts):
            for prompt in prompts.get(start, ()):
                _add(predictor, state, start, prompt)
            end = starts[k + 1] - 1 if k + 1 < len(starts) else num_frames - 1
            for frame_idx, obj_ids, masks in predictor.propagate_in_video(
                state, start_frame_idx=start, max_frame_num_to_track=end - start
            ):
                results[int(frame_idx)] = _frame(frame_idx, obj_ids, masks)
            for prompt in corrections.get(end, ()):
                frame_idx, obj_ids, masks = _add(predictor, state, end, prompt)
                results[int(frame_idx)] = _frame(frame_idx, obj_ids, masks)
    return [results[t] for t in sorted(results)]
