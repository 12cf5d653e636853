"""A run of stylized frames as one lossless video file: how a finished chunk is kept.

A chunk's frames as PNGs are one file per frame and compress each frame alone; consecutive
stylized frames are much alike, so an inter-frame lossless codec keeps them in about half
the bytes (benchmarks/RESULTS.md, film scale: H.264 lossless RGB 0.49x of the PNGs, VP9
0.48x at 7x the encode time, FFV1 0.83x). H.264's RGB mode with qp 0 is exact to the bit
(4:4:4, no colour conversion), so resume, seams and reruns stay byte-identical, and any
player reads it. The frames' names travel in the file's tags.

The writes are reproducible: a fixed thread count (x264's output is deterministic for a
given count) and bit-exact muxing (no random segment id, no date).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import PainterlyError
from .io import atomic_path, load_frame, picture_digest

SUFFIX = ".mkv"
NAMES_TAG = "PAINTERLY_FRAMES"
# Fixed, not the machine's core count: the encoder writes its thread count into the stream.
ENCODER_THREADS = 4


def write_segment(path, frames: Iterable[np.ndarray], names: list[str]) -> None:
    """Encode RGB uint8 ``frames`` (all one size), named ``names`` in order, into ``path``
    atomically."""
    import av  # here: the workflow imports this module while Snakemake parses

    frames = iter(frames)
    with atomic_path(path) as tmp:
        with av.open(str(tmp), "w", format="matroska", container_options={"fflags": "+bitexact"}) as container:
            container.metadata[NAMES_TAG] = " ".join(names)
            stream = None
            for count, frame in enumerate(frames, 1):
                if stream is None:
                    stream = container.add_stream("libx264rgb", rate=25, options={"qp": "0", "preset": "medium"})
                    stream.height, stream.width = frame.shape[:2]
                    stream.pix_fmt, stream.thread_count = "rgb24", ENCODER_THREADS
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            if stream is None or count != len(names):
                raise PainterlyError(f"{path}: {0 if stream is None else count} frames for {len(names)} names")
            container.mux(stream.encode())


def segment_names(path) -> list[str]:
    """The names of the frames in ``path``, in order, read from its tags only."""
    import av

    try:
        with av.open(str(path)) as container:
            return container.metadata[NAMES_TAG].split()
    except (OSError, KeyError, av.FFmpegError):
        raise PainterlyError(f"{path}: not a segment of stylized frames; rerun the job that wrote it") from None


def read_segment(path) -> Iterator[np.ndarray]:
    """The frames of ``path``, in order, as RGB uint8 arrays, decoded as they are read."""
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def frame_digests(path) -> list[str]:
    """io.picture_digest of each decoded frame of ``path``."""
    return [picture_digest(frame) for frame in read_segment(path)]


def segment_path(directory, part: str) -> Path:
    """The segment holding ``part`` (``frames``, ``lead-in``) of a chunk directory."""
    return Path(directory) / f"{part}{SUFFIX}"


@dataclass(frozen=True)
class FrameRef:
    """Where a frame of the final video is: a PNG file (``position`` None) or the frame at
    ``position`` in a segment file."""

    name: str
    path: Path
    position: int | None = None


def load_frames(refs) -> Iterator[np.ndarray]:
    """The frames ``refs`` (FrameRefs, or PNG paths) point to, in order, as RGB uint8 arrays.
    A segment's frames are decoded as far as needed, in one pass (``final_frames`` visits
    each segment once, positions rising), and only the current frame is held."""
    decoding, frames, position, frame = None, iter(()), -1, None
    for ref in refs:
        if not isinstance(ref, FrameRef) or ref.position is None:
            yield load_frame(ref.path if isinstance(ref, FrameRef) else ref)
            continue
        if ref.path != decoding or ref.position < position:
            decoding, frames, position = ref.path, read_segment(ref.path), -1
        while position < ref.position:
            frame, position = next(frames, None), position + 1
            if frame is None:
                raise PainterlyError(f"{ref.path}: ends before its frame {ref.name}; rerun the job that wrote it")
        yield frame
