"""A small U-Net: the classic encoder-decoder with skip connections (Ronneberger et al., 2015),
sized for CPU inference on 128-256 px frames."""

from __future__ import annotations

import torch
from torch import nn


def _block(channels_in: int, channels_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(channels_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(channels_out),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """Encoder (``depth`` levels, channels doubling from ``width``), a bottleneck, and a decoder
    that upsamples and concatenates the encoder's features at each level; logits per class.

    Args:
        num_classes: output channels (class 0 = background).
        width: channels of the first level.
        depth: levels (the input size must be a multiple of 2**depth).
        max_channels: no level has more channels than this (None: no cap); a deep, capped U-Net
            sees a whole object at its bottom level for few parameters.
    """

    def __init__(self, num_classes: int, width: int = 16, depth: int = 3, max_channels: int | None = None) -> None:
        super().__init__()
        channels = [min(width * 2**k, max_channels or width * 2**k) for k in range(depth + 1)]
        self.down = nn.ModuleList([_block(3 if k == 0 else channels[k - 1], channels[k]) for k in range(depth)])
        self.bottom = _block(channels[depth - 1], channels[depth])
        self.up = nn.ModuleList([nn.ConvTranspose2d(channels[k + 1], channels[k], 2, stride=2) for k in reversed(range(depth))])
        self.merge = nn.ModuleList([_block(2 * channels[k], channels[k]) for k in reversed(range(depth))])
        self.head = nn.Conv2d(channels[0], num_classes, 1)
        self.depth = depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = nn.functional.max_pool2d(x, 2)
        x = self.bottom(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips), strict=True):
            x = merge(torch.cat([up(x), skip], dim=1))
        return self.head(x)
