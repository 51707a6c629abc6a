"""Choosing the compute device and the precision that goes with it.

CUDA runs the models under bf16 autocast; the CPU runs float32 (bf16 autocast is about 10x
slower on CPUs without bf16 units, so it is never used there).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from vidseg.errors import DeviceError


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Return the torch device for ``device``: ``"auto"`` (CUDA when present, else CPU), ``"cpu"``,
    ``"cuda"`` or ``"cuda:N"``.

    Raises:
        DeviceError: CUDA was asked for and is not available, or the name is not a device.
    """
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise DeviceError(f"unknown device {device!r}; expected 'auto', 'cpu', 'cuda' or 'cuda:N'") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device {device!r} asked for, but CUDA is not available on this machine; use --device cpu (or auto)"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(f"device {device!r} asked for, but only {torch.cuda.device_count()} CUDA device(s) exist")
    elif dev.type != "cpu":
        raise DeviceError(f"device type {dev.type!r} is not supported; expected cpu or cuda")
    return dev


def compute_dtype(device: torch.device) -> torch.dtype:
    """The dtype models compute in on ``device``: bf16 on CUDA, float32 elsewhere."""
    return torch.bfloat16 if device.type == "cuda" else torch.float32


@contextlib.contextmanager
def autocast_for(device: torch.device) -> Iterator[None]:
    """bf16 autocast on CUDA; nothing on the CPU."""
    if device.type == "cuda":
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            yield
    else:
        yield
