"""Real media for tests: small clips encoded by the real ffmpeg, and probes of what came out."""

from __future__ import annotations

import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import yaml
from imageio_ffmpeg import get_ffmpeg_exe
from PIL import Image

# Frame durations of the variable-frame-rate test clip, in 1/25 s: 15 frames over 3.0 s, the
# last shown from 2.6 s to the end.
VFR_TICKS = (2, 8, 4, 6, 5, 3, 9, 2, 7, 4, 6, 3, 5, 1, 10)


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
    command = [get_ffmpeg_exe(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
               "-r", str(fps), "-i", "-"]
    if audio:
        command += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={frames / fps}", "-c:a", "flac"]
    command += ["-c:v", "ffv1", "-pix_fmt", "bgr0", *extra_args, str(path)]
    data = b"".join((second_shot_pixels(i) if cut_at is not None and i >= cut_at else
                     frame_pixels(i, variant=int(i in changed))).tobytes() for i in range(frames))
    subprocess.run(command, input=data, check=True)


def write_vfr_clip(path, ticks=VFR_TICKS, audio: bool = True) -> None:
    """A variable-frame-rate H.264 clip: frame i shows for ticks[i] / 25 s, with a sine track
    as long as the picture. ffmpeg's concat demuxer of stills makes it; it times frames on a
    1/25 s grid and gives the last still 1/25 s whatever its duration: the video track ends
    early and the sound plays on, as in a phone clip whose last picture holds."""
    stills = Path(path).with_suffix(".stills")
    stills.mkdir()
    listing = ""
    for i, count in enumerate(ticks):
        Image.fromarray(frame_pixels(i)).save(stills / f"{i:03d}.png")
        listing += f"file {i:03d}.png\nduration {count / 25}\n"
    (stills / "list.txt").write_text(listing)
    command = [get_ffmpeg_exe(), "-v", "error", "-y", "-f", "concat", "-i", str(stills / "list.txt")]
    if audio:
        command += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={sum(ticks) / 25}", "-c:a", "aac"]
    command += ["-fps_mode", "passthrough", "-c:v", "libx264", "-bf", "0", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(command, check=True)
    shutil.rmtree(stills)


def probe_output(path) -> dict:
    """fps, decoded frame count, stream kinds and how long each stream lasts, from the real ffmpeg."""
    info = subprocess.run([get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    table = subprocess.run(
        [get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v:0", "-map", "0:a:0?", "-fps_mode", "passthrough",
         "-f", "framecrc", "-"],
        capture_output=True, text=True, check=True,
    ).stdout
    time_bases = {int(s): Fraction(tb) for s, tb in re.findall(r"^#tb (\d+): (\S+)", table, re.MULTILINE)}
    rows = [[int(field) for field in line.split(",")[:4]] for line in table.splitlines() if line and not line.startswith("#")]
    ends = {stream: float((pts + duration) * time_bases[stream]) for stream, _, pts, duration in rows}
    video = next(line for line in info.splitlines() if "Video:" in line)
    return {
        "frames": sum(1 for row in rows if row[0] == 0),
        "frame_times": [float(pts * time_bases[0]) for stream, _, pts, _ in rows if stream == 0],
        "fps": float(video.split(" fps")[0].split(", ")[-1]),
        "video": video,
        "audio": "Audio:" in info,
        "video_seconds": ends[0],
        "audio_seconds": ends.get(1),
    }


def read_first_frame(path) -> np.ndarray:
    """The first picture of a video as RGB, decoded by the real ffmpeg."""
    info = probe_output(path)["video"]
    width, height = map(int, re.search(r", (\d+)x(\d+)", info).groups())
    data = subprocess.run([get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-frames:v", "1", "-f", "rawvideo",
                           "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(data, np.uint8).reshape(height, width, 3)


def workflow_config(chunk_frames: int, presets: dict | None = None, seam_frames: int = 0, chunk_borders: str = "fade",
                    **preset) -> str:
    """config.yaml for a tiny run: sheet jobs.tsv, results/, preset `tiny` of ``preset``
    (the rows' default) and any other ``presets``; chunks of a shot independent unless
    ``chunk_borders`` is "continue"."""
    config = {
        "jobs": "jobs.tsv", "results": "results", "preset": "tiny", "presets": {"tiny": preset, **(presets or {})},
        "chunk_frames": chunk_frames, "seam_frames": seam_frames, "chunk_borders": chunk_borders,
        "cut_threshold": 0.35, "extraction": {"fps": None},
        "stylize": {"threads": 1, "mem_mb": 1000, "runtime": 10, "gpu": 1},
    }
    return yaml.safe_dump(config, sort_keys=False)
