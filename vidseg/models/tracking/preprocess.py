"""Turning frames and prompts into SAM 2's input space.

The arithmetic mirrors ``sam2.utils.misc`` and ``SAM2VideoPredictor`` operation for operation
(PIL resize, division by 255, ImageNet normalisation in float32; prompt coordinates
divided by the frame size in torch and scaled by the image size), so a streaming tracker fed the
same pixels sees the same tensors as the official predictor.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from vidseg.types import ImageArray, Prompt

IMAGE_MEAN = torch.tensor((0.485, 0.456, 0.406), dtype=torch.float32)[:, None, None]
IMAGE_STD = torch.tensor((0.229, 0.224, 0.225), dtype=torch.float32)[:, None, None]


def image_to_tensor(image: ImageArray, image_size: int, device: torch.device) -> torch.Tensor:
    """(1, 3, S, S) float32 normalised model input from an HxWx3 uint8 RGB frame."""
    resized = np.array(Image.fromarray(image).resize((image_size, image_size)))
    # float32 division gives the same bits as sam2's float64 one for every uint8 value, faster.
    # contiguous(): a permuted (channels-last) input gives the same numbers but slower kernels.
    scaled = torch.from_numpy(resized).permute(2, 0, 1).contiguous().to(torch.float32) / 255.0
    normalised = (scaled - IMAGE_MEAN) / IMAGE_STD
    return normalised.unsqueeze(0).to(device)


def point_inputs(
    prompt: Prompt, height: int, width: int, image_size: int, device: torch.device
) -> dict[str, torch.Tensor]:
    """SAM 2 ``point_inputs`` for a points and/or box prompt on an ``height`` x ``width`` frame.

    A box becomes two leading points labelled 2 and 3 (top-left, bottom-right), as SAM 2 was
    trained; coordinates are scaled from frame pixels to model pixels.
    """
    coords = torch.tensor(prompt.points, dtype=torch.float32).reshape(1, -1, 2)
    labels = torch.tensor(prompt.labels, dtype=torch.int32).reshape(1, -1)
    if prompt.box is not None:
        box = torch.tensor(prompt.box, dtype=torch.float32).reshape(1, 2, 2)
        coords = torch.cat([box, coords], dim=1)
        labels = torch.cat([torch.tensor([[2, 3]], dtype=torch.int32), labels], dim=1)
    coords = coords / torch.tensor([width, height])
    coords = coords * image_size
    return {"point_coords": coords.to(device), "point_labels": labels.to(device)}


def mask_inputs(mask: np.ndarray, image_size: int, device: torch.device) -> torch.Tensor:
    """(1, 1, S, S) float32 binary mask input from an HxW bool mask (antialiased resize, >= 0.5)."""
    tensor = torch.from_numpy(np.ascontiguousarray(mask))[None, None].float().to(device)
    if tensor.shape[-2:] == (image_size, image_size):
        return tensor
    resized = F.interpolate(tensor, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=True)
    return (resized >= 0.5).float()
