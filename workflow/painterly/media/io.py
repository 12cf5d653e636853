"""Image files in and out: any mode PIL opens becomes RGB; every write is atomic."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import PainterlyError

# Modes holding more than 8 bits per sample; PIL's convert("RGB") would clip them.
_WIDE_MODES = {"I;16": 65535.0, "I;16B": 65535.0, "I;16L": 65535.0, "I;16N": 65535.0, "I": 65535.0}


# Callers that read user files pass their own cap (the max_input_pixels setting) and
# check it from the header, before decoding; PIL's own bomb check would end in a traceback.
Image.MAX_IMAGE_PIXELS = None


def load_image(path: str | Path, max_pixels: int | None = None) -> Image.Image:
    """Open ``path`` as an 8-bit RGB image, or raise a one-line error naming it; with
    ``max_pixels``, refuse a larger image before decoding it."""
    path = Path(path)
    if not path.is_file():
        raise PainterlyError(f"{path}: no such image file; check the path")
    if path.stat().st_size == 0:
        raise PainterlyError(f"{path}: the file is empty; replace it with a real image")
    try:
        with Image.open(path) as opened:
            if max_pixels is not None:
                check_pixels(path, opened.size, max_pixels)
            opened.load()
            image = ImageOps.exif_transpose(opened)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise PainterlyError(f"{path}: not a readable image ({error.__class__.__name__}); give a PNG, JPEG or other image PIL opens") from None
    return to_rgb(image)


def is_video(path: str | Path) -> bool:
    """Whether ``path`` is a video, judged by its content, never its name.

    A still picture PIL can decode is an image; an animated GIF, PNG or WebP is a video.
    Anything PIL does not recognise counts as a video too, so a file that is neither
    reaches the video probe, whose error says in one line what is wrong with it
    (cut short, audio only, not media at all).
    """
    try:
        with Image.open(path) as image:
            # An empty tile list: PIL knows the header but has no decoder (MPEG video).
            return not image.tile or getattr(image, "is_animated", False)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return True


def check_pixels(path, size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise PainterlyError(
            f"{path}: {width}x{height} is {width * height / 1e6:.0f} megapixels, over the cap of "
            f"{max_pixels / 1e6:.0f}; downscale it, or raise max_input_pixels if you have the memory"
        )


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to RGB: 16-bit scaled down, alpha composited over white."""
    if image.mode in _WIDE_MODES or image.mode == "F":
        values = np.asarray(image, dtype=np.float32)
        peak = _WIDE_MODES.get(image.mode) or max(float(values.max()), 1.0)
        gray = np.clip(values / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def fit_long_side(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """(width, height) scaled so the longer side is ``long_side``, aspect kept, sides >= 1."""
    width, height = size
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize_long_side(image: Image.Image, long_side: int) -> Image.Image:
    target = fit_long_side(image.size, long_side)
    return image if target == image.size else image.resize(target, Image.Resampling.LANCZOS)


def image_to_tensor(image: Image.Image):
    """RGB PIL image -> float tensor (1, 3, H, W) in [0, 1]."""
    import torch  # here, not at the top: reading and writing frames needs no torch import (seconds)

    array = np.asarray(image, dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous()


def as_saved(tensor):
    """An image tensor in [0, 1] exactly as its 8-bit file holds it, where it is (a device):
    a chain resumed from its files continues as it would have from its tensors."""
    return tensor.detach().float().clamp(0, 1).mul(255).round().div(255)


def tensor_to_image(tensor) -> Image.Image:
    array = as_saved(tensor).mul(255).round().byte().squeeze(0).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(np.ascontiguousarray(array))


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    A reader (or Snakemake) never sees a half-written file under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _disk_full_is_one_line(path):
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the result should read like any new file
    try:
        with _disk_full_is_one_line(path):
            yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_dir(path: str | Path):
    """Yield an empty temporary directory beside ``path``; it replaces ``path`` whole if
    the block succeeds, and vanishes if it fails. Its permissions follow the umask. One
    writer per path (Snakemake runs one job per output), so a temporary directory already
    there is a killed try's, and is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.tmp-*"):  # left by a killed earlier try
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        with _disk_full_is_one_line(path):
            yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


@contextlib.contextmanager
def _disk_full_is_one_line(path: Path):
    """A full disk (or quota) while writing ``path`` is one line naming it and the fix; what
    was written before stays (a stylize job keeps its finished frames for the rerun)."""
    try:
        yield
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise PainterlyError(f"{path}: no space left on the device (or over quota) while writing it; free some "
                             "space and run again: finished frames are kept") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_image(tensor, path: str | Path, png_compress_level: int = 6) -> None:
    """Write a (1, 3, H, W) [0, 1] tensor; the format follows the extension. A PNG's
    compression level changes its size and the time to write it, never its pixels."""
    path = Path(path)
    image_format = Image.registered_extensions().get(path.suffix.lower())
    if image_format is None:
        raise PainterlyError(f"{path}: unknown image extension {path.suffix!r}; use .png or .jpg")
    options = {"compress_level": png_compress_level} if image_format == "PNG" else {}
    with atomic_path(path) as tmp:
        tensor_to_image(tensor).save(tmp, format=image_format, **options)


@dataclass(frozen=True)
class DecodedFrame:
    """A video frame decoded into memory (painterly.media.extract.decode_frames), named as its
    extracted file would be (``000123.png``)."""

    name: str
    picture: np.ndarray


def frame_image(frame) -> Image.Image:
    """A frame as an RGB image: a DecodedFrame's picture, or the image file at a path."""
    return Image.fromarray(frame.picture) if isinstance(frame, DecodedFrame) else load_image(frame)


def load_frame(path: str | Path) -> np.ndarray:
    import cv2  # here: the workflow imports this module while Snakemake parses

    frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if frame is None:
        raise PainterlyError(f"{path}: not a readable frame; delete it and run again")
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def picture_digest(picture: np.ndarray) -> str:
    """SHA-256 of a decoded frame's pixels (and shape): equal exactly when the pictures are."""
    return hashlib.sha256(str(picture.shape).encode() + picture.tobytes()).hexdigest()
