"""Video in through ffmpeg: probing a source and deterministic PNG frame extraction.

ffmpeg comes from the ``imageio-ffmpeg`` wheel (a static build with libx264 and AAC), or
from ``$PAINTERLY_FFMPEG`` / the system when set, so nothing needs a system install.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import PainterlyError
from .io import atomic_dir, atomic_path, fit_long_side, sha256_file

FRAME_PATTERN = "{:06d}.png"
VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".gif"}


def ffmpeg_exe() -> str:
    override = os.environ.get("PAINTERLY_FFMPEG")
    if override:
        return override
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        system = shutil.which("ffmpeg")
        if system:
            return system
    raise PainterlyError("no ffmpeg found; run: pip install imageio-ffmpeg (or install ffmpeg)")


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def probe(path: str | Path) -> dict:
    """Stream facts from ``ffmpeg -i``: fps, width and height as displayed (rotation applied), audio."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise PainterlyError(f"{path}: video file missing or empty; check the path in the sheet")
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    video = re.search(r"Stream #\S+.*?: Video: (.*)", result.stderr)
    if not video:
        raise PainterlyError(f"{path}: no video stream ffmpeg can read; give an MP4, MOV, AVI or MKV file")
    size = re.search(r", (\d{2,5})x(\d{2,5})", video.group(1))
    fps = re.search(r"([\d.]+) fps", video.group(1)) or re.search(r"([\d.]+) tbr", video.group(1))
    rotation = re.search(r"rotation of (-?[\d.]+) degrees", result.stderr)
    width, height = int(size.group(1)), int(size.group(2))
    if rotation and round(float(rotation.group(1))) % 180:
        width, height = height, width
    return {
        "fps": float(fps.group(1)) if fps else 25.0,
        "width": width,
        "height": height,
        "has_audio": bool(re.search(r"Stream #\S+.*?: Audio:", result.stderr)),
    }


def extract_frames(source, frames_dir, meta_path, size: int, fps: float | None = None, start: int = 0, end: int | None = None) -> dict:
    """Decode ``source`` into lossless PNGs ``frames_dir/000000.png`` ... at long side ``size``.

    ffmpeg applies rotation metadata. ``start``/``end`` select source frames [start, end);
    ``fps`` subsamples to that rate (never above the source's). Same source, same
    arguments -> byte-identical frames. The directory appears whole or not at all.
    """
    source, frames_dir = Path(source), Path(frames_dir)
    info = probe(source)
    width, height = fit_long_side((info["width"], info["height"]), size)
    step = max(1.0, info["fps"] / fps) if fps else 1.0
    command = [ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(source), "-map", "0:v:0",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    frame_bytes = info["width"] * info["height"] * 3
    written = 0
    with atomic_dir(frames_dir) as tmp:
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as decoder:
            index, next_pick = 0, float(start)
            while end is None or index < end:
                buffer = decoder.stdout.read(frame_bytes)
                if len(buffer) < frame_bytes:
                    break
                if index >= start and index >= round(next_pick):
                    frame = np.frombuffer(buffer, np.uint8).reshape(info["height"], info["width"], 3)
                    image = Image.fromarray(frame).resize((width, height), Image.Resampling.LANCZOS)
                    image.save(tmp / FRAME_PATTERN.format(written), optimize=False)
                    written += 1
                    next_pick += step
                index += 1
            decoder.stdout.close()
            decoder.kill()
        if written == 0:
            raise PainterlyError(f"{source}: no frames decoded in range [{start}, {end}); check start/end in the sheet")
    meta = {
        "source": str(source),
        "source_sha256": sha256_file(source),
        "fps": info["fps"] / step,
        "frame_count": written,
        "width": width,
        "height": height,
        "has_audio": info["has_audio"],
        "start_seconds": start / info["fps"],
    }
    with atomic_path(meta_path) as meta_tmp:
        meta_tmp.write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def frame_paths(frames_dir, first: int, count: int) -> list[Path]:
    return [Path(frames_dir) / FRAME_PATTERN.format(i) for i in range(first, first + count)]


def frame_index(path: str | Path) -> int:
    """A frame's position in its video, from its name (FRAME_PATTERN)."""
    try:
        return int(Path(path).stem)
    except ValueError:
        raise PainterlyError(f"{path}: not an extracted frame (000123.png); pass the frames extract_frames wrote") from None
