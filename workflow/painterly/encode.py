"""Video out: stylized frames, with the source's timing and audio, to MP4, MOV, WebM or GIF.

The timing travels exactly: PyAV muxes the frames as lossless PNGs into a MOV where
each frame keeps the source timestamp and duration extraction recorded, and
the ffmpeg binary of the ``imageio-ffmpeg`` wheel encodes that with ``-fps_mode
passthrough``, so a variable frame rate stays variable and the audio, trimmed to the
same span, stays in sync. (A numbered image sequence forces one rate; ffmpeg's concat
demuxer rounds times to 1/25 s and loses the last frame's duration.)
"""

from __future__ import annotations

import io
import json
import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import PainterlyError
from .io import atomic_path


@dataclass(frozen=True)
class OutputFormat:
    video: tuple[str, ...]  # ffmpeg arguments for the picture
    audio: tuple[str, ...] | None  # and for the sound; None: the format has none
    uneven: tuple[str, ...] = ()  # added when frame durations vary


# Output suffix -> encoding; each encoder is in the imageio-ffmpeg build. MOV is ProRes
# 422 HQ with PCM sound, what editors ask for; WebM is VP9 and Opus for the web.
FORMATS = {
    # The MP4 muxer ends a track at the last packet in decode order: with B-frames and uneven
    # durations that cuts the last frame short, so a variable rate goes without them.
    "mp4": OutputFormat(("-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18", "-preset", "medium",
                         "-movflags", "+faststart"), ("-c:a", "aac", "-b:a", "160k"), uneven=("-bf", "0")),
    "mov": OutputFormat(("-c:v", "prores_ks", "-profile:v", "hq", "-pix_fmt", "yuv422p10le"), ("-c:a", "pcm_s16le")),
    "webm": OutputFormat(("-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p", "-crf", "30", "-b:v", "0", "-row-mt", "1"),
                         ("-c:a", "libopus", "-b:a", "128k")),
    # One palette for the whole clip, computed from every frame.
    "gif": OutputFormat(("-vf", "split[frames][copy];[copy]palettegen[palette];[frames][palette]paletteuse"), None),
}


def output_format(path) -> str:
    """The format ``path`` asks for by its suffix, or a one-line error listing those there are."""
    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    if path.is_dir():
        raise PainterlyError(f"{path}: is a directory; give an output file name ending in {_suffixes()}")
    if kind not in FORMATS:
        raise PainterlyError(f"{path}: cannot write {path.suffix or 'a file without a suffix'}; end the name in {_suffixes()}")
    return kind


def _suffixes() -> str:
    return ", ".join(f".{kind}" for kind in FORMATS)


def encode_video(frames, meta_path, output, audio_source=None) -> None:
    """Encode the stylized ``frames`` (in order: PNG paths, or painterly.seams.final_frames)
    at the extraction's timestamps, in the format ``output``'s suffix names, with the
    source's audio over the extracted span."""
    from .extract import ffmpeg_exe  # here: the workflow imports FORMATS while Snakemake parses

    output = Path(output)
    kind = output_format(output)
    meta = json.loads(Path(meta_path).read_text())
    frames = list(frames)
    if len(frames) != meta["frame_count"]:
        raise PainterlyError(f"{output}: {len(frames)} stylized frames for {meta['frame_count']} extracted; rerun the workflow")
    size = (meta["width"], meta["height"])
    encoding = FORMATS[kind]
    pts = [*meta["frame_pts"], meta["end_pts"]]
    durations = [stop - start for start, stop in zip(pts, pts[1:])]
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=".encode.") as work:
        timed = Path(work) / "frames.mov"
        _mux_timed(frames, Fraction(meta["time_base"]), pts, size, timed)
        command = [ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-i", str(timed)]
        if audio_source and meta["has_audio"] and encoding.audio:
            command += ["-ss", repr(meta["start_seconds"]), "-t", repr(meta["duration_seconds"]), "-i", str(audio_source),
                        "-map", "0:v", "-map", "1:a:0", *encoding.audio]
        uneven = max(durations) - min(durations) > 1  # a tick apart is rounding, not a variable rate
        command += ["-fps_mode", "passthrough", *encoding.video, *(encoding.uneven if uneven else ()), "-f", kind]
        with atomic_path(output) as tmp:
            # run() collects stderr while ffmpeg writes it, so a chatty ffmpeg never blocks.
            result = subprocess.run([*command, str(tmp)], capture_output=True, text=True)
            if result.returncode != 0:
                last = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
                raise PainterlyError(f"{output}: ffmpeg failed to encode it ({last}); fix that and rerun")


def _mux_timed(frames: list, time_base: Fraction, pts: list[int], size: tuple[int, int], path: Path) -> None:
    """A MOV of the frames as lossless PNGs, frame i shown from pts[i] to pts[i + 1]."""
    import av

    from .seams import load_frames

    with av.open(str(path), "w", format="mov") as container:
        stream = container.add_stream("png")
        stream.width, stream.height = size
        stream.pix_fmt = "rgb24"
        stream.time_base = time_base
        for ref, frame, start, stop in zip(frames, load_frames(frames), pts, pts[1:]):
            if frame.shape[1::-1] != size:
                raise PainterlyError(f"{getattr(ref, 'path', ref)}: {frame.shape[1]}x{frame.shape[0]}, not the "
                                     f"extracted {size[0]}x{size[1]}; rerun the workflow")
            packet = av.Packet(_png_bytes(frame))
            packet.stream, packet.time_base = stream, time_base
            packet.pts = packet.dts = start
            packet.duration = stop - start
            packet.is_keyframe = True
            container.mux(packet)


def _png_bytes(frame: np.ndarray) -> bytes:
    # Fast deflate: the file is temporary, and ffmpeg reads it once.
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
