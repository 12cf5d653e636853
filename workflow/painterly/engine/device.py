"""Choosing the compute device and the per-device speed settings."""

from __future__ import annotations

import fcntl
import os
import tempfile
import warnings
from pathlib import Path

import torch

from ..errors import PainterlyError


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then the CPU; an explicit name must be usable."""
    if name == "auto":
        if torch.cuda.is_available():
            count = torch.cuda.device_count()
            return torch.device("cuda", claim_gpu(count) if count > 1 else 0)
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        granted = os.environ.get("CUDA_VISIBLE_DEVICES", "")
        if granted not in ("", "-1", "NoDevFiles"):
            # A scheduler (SLURM) granted a GPU this process cannot use: say so, keep going.
            warnings.warn(f"CUDA_VISIBLE_DEVICES={granted} but no CUDA GPU is usable here; running on the CPU")
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


_held_locks = []


def claim_gpu(count: int, lock_dir: Path | None = None) -> int:
    """Pick a GPU no other painterly process on this node holds, and hold it until exit.

    Snakemake does not set CUDA_VISIBLE_DEVICES, so concurrent local jobs would all
    take GPU 0; an exclusive lock file per GPU gives each job its own. With more jobs
    than GPUs the extra ones share, spread by process id.
    """
    lock_dir = lock_dir or Path(tempfile.gettempdir()) / f"painterly-gpu-locks-{os.getuid()}"
    lock_dir.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        handle = open(lock_dir / f"gpu{index}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        _held_locks.append(handle)
        return index
    return os.getpid() % count


def describe_device(device: torch.device) -> str:
    """The device as a provenance record and a job's log name it: its kind, and for CUDA the
    GPU model (not its index, which says nothing about the result)."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def configure(device: torch.device, deterministic: bool = False) -> None:
    """Speed settings that do not change results beyond float rounding; ``deterministic``
    gives up those that make two runs on one GPU model round differently."""
    if device.type == "cuda":
        # TF32 keeps fp32 range at tensor-core speed; style transfer does not need full mantissa.
        # It is deterministic: it rounds the same way every run.
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        # cuDNN's benchmark mode times candidate algorithms and keeps the fastest: timing noise
        # can pick another algorithm, with other rounding, in the next run.
        torch.backends.cudnn.benchmark = not deterministic
        torch.backends.cudnn.deterministic = deterministic
        # cuBLAS reduces in a fixed order only with a fixed workspace (read when its handle is made).
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        # Inductor likewise times kernel variants that reduce in other orders.
        import torch._inductor.config as inductor

        inductor.deterministic = deterministic
