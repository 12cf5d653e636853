"""Real media for tests: small clips encoded by the real ffmpeg, and probes of what came out."""

from __future__ import annotations

import subprocess

import numpy as np
import yaml

from painterly.extract import ffmpeg_exe


def frame_pixels(index: int, width: int = 64, height: int = 48, variant: int = 0) -> np.ndarray:
    """A textured frame with a square that moves 3 px per frame; ``variant`` recolours it."""
    y, x = np.mgrid[0:height, 0:width]
    frame = np.stack([(x * 4) % 256, (y * 5) % 256, np.full_like(x, 90 + 40 * variant)], axis=-1).astype(np.uint8)
    left = 5 + 3 * index
    frame[12:30, left:left + 16] = (230, 200 - 60 * variant, 40)
    return frame


def second_shot_pixels(index: int, width: int = 64, height: int = 48) -> np.ndarray:
    """Another scene (a cut away from frame_pixels): dark random blocks panning left."""
    blocks = np.random.default_rng(7).integers(0, 60, (height // 4, width // 4 + 8, 3), dtype=np.uint8)
    texture = np.kron(blocks, np.ones((4, 4, 1), dtype=np.uint8))
    return np.ascontiguousarray(texture[:, 2 * index : 2 * index + width])


def write_clip(path, frames: int = 6, fps: int = 10, audio: bool = True, changed=(), extra_args=(),
               cut_at: int | None = None) -> None:
    """A lossless FFV1 clip (with a 440 Hz sine track); frames in ``changed`` get another
    colour; from frame ``cut_at`` on, another scene (second_shot_pixels)."""
    height, width = frame_pixels(0).shape[:2]
    command = [ffmpeg_exe(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
               "-r", str(fps), "-i", "-"]
    if audio:
        command += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={frames / fps}", "-c:a", "flac"]
    command += ["-c:v", "ffv1", "-pix_fmt", "bgr0", *extra_args, str(path)]
    data = b"".join((second_shot_pixels(i) if cut_at is not None and i >= cut_at else
                     frame_pixels(i, variant=int(i in changed))).tobytes() for i in range(frames))
    subprocess.run(command, input=data, check=True)


def probe_output(path) -> dict:
    """fps, decoded frame count and stream kinds of a media file, from the real ffmpeg."""
    info = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    count = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v:0", "-f", "framemd5", "-"],
        capture_output=True, text=True, check=True,
    ).stdout
    video = next(line for line in info.splitlines() if "Video:" in line)
    return {
        "frames": sum(1 for line in count.splitlines() if line and not line.startswith("#")),
        "fps": float(video.split(" fps")[0].split(", ")[-1]),
        "video": video,
        "audio": "Audio:" in info,
    }


def workflow_config(chunk_frames: int, presets: dict | None = None, seam_frames: int = 0, **preset) -> str:
    """config.yaml for a tiny run: sheet jobs.tsv, results/, preset `tiny` of ``preset``
    (the rows' default) and any other ``presets``."""
    config = {
        "jobs": "jobs.tsv", "results": "results", "preset": "tiny", "presets": {"tiny": preset, **(presets or {})},
        "chunk_frames": chunk_frames, "seam_frames": seam_frames, "cut_threshold": 0.35, "extraction": {"fps": None},
        "stylize": {"threads": 1, "mem_mb": 1000, "runtime": 10, "gpu": 1},
    }
    return yaml.safe_dump(config, sort_keys=False)
