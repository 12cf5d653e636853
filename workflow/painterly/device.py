"""Choosing the compute device and the per-device speed settings."""

from __future__ import annotations

import warnings

import torch

from .errors import PainterlyError


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then the CPU; an explicit name must be usable."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise PainterlyError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            warnings.warn(f"--device {name}: no CUDA GPU is visible (CUDA_VISIBLE_DEVICES?); running on the CPU")
            return torch.device("cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise PainterlyError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) visible; use cuda:0")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise PainterlyError(f"--device {name}: MPS is not available here; use auto or cpu")
    return device


def configure(device: torch.device) -> None:
    """Speed settings that do not change results beyond float rounding."""
    if device.type == "cuda":
        # TF32 keeps fp32 range at tensor-core speed; style transfer does not need full mantissa.
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
