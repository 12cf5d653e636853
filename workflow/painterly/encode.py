"""Video out through ffmpeg: stylized frames to H.264 MP4 with the source's audio."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from .errors import PainterlyError
from .extract import FRAME_PATTERN, ffmpeg_exe
from .io import atomic_path


def encode_video(frames, meta_path, output, audio_source=None, crf: int = 18) -> None:
    """Encode the stylized PNG ``frames`` (in order) to H.264 MP4 at the extraction's fps.

    Frames reach ffmpeg through one numbered pattern in a directory of links, never as
    arguments; the source's audio, trimmed to the extracted range, is muxed back.
    """
    meta = json.loads(Path(meta_path).read_text())
    output = Path(output)
    frames = [Path(frame) for frame in frames]
    if len(frames) != meta["frame_count"]:
        raise PainterlyError(f"{output}: {len(frames)} stylized frames for {meta['frame_count']} extracted; rerun the workflow")
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=".encode.") as links:
        for i, frame in enumerate(frames):
            os.symlink(frame.resolve(), Path(links) / FRAME_PATTERN.format(i))
        command = [ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-framerate", repr(meta["fps"]),
                   "-i", str(Path(links) / "%06d.png")]
        if audio_source and meta["has_audio"]:
            seconds = meta["frame_count"] / meta["fps"]
            command += ["-ss", repr(meta["start_seconds"]), "-t", repr(seconds), "-i", str(audio_source),
                        "-map", "0:v", "-map", "1:a:0", "-c:a", "aac", "-b:a", "160k"]
        # yuv420p needs even sides; pad by at most one pixel rather than rescale.
        command += ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    "-crf", str(crf), "-preset", "medium", "-movflags", "+faststart", "-f", "mp4"]
        with atomic_path(output) as tmp:
            result = subprocess.run([*command, str(tmp)], capture_output=True, text=True)
            if result.returncode != 0:
                raise PainterlyError(f"{output}: ffmpeg failed: {result.stderr.strip().splitlines()[-1:]}")
