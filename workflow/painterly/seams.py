"""Seams between chunks of one shot, and the frames a video is finally made of.

Chunks are independent chains, so at a border inside a shot the texture of chunk k-1 and
of chunk k differ: a visible jump, once per chunk. Chunk k therefore starts a few frames
early (its lead-in, written to ``<chunk>/lead-in/``); the seam step cross-fades, frame by
frame over those frames, from chunk k-1's own result to chunk k's lead-in. Both chains
are aligned to the same content frame, so the fade needs no warping, and each step of the
fade moves 1/(n+1) of the way: the jump is spread over n+1 frame pairs, its squared
warp error over them falls to about 1/(n+1) of one jump.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .errors import PainterlyError
from .io import atomic_dir, atomic_path

LEAD_IN = "lead-in"
# config.yaml's seam_frames, for the commands that take it.
SEAM_FRAMES = 16


def cross_fade(earlier_chunk, later_chunk, out_dir) -> None:
    """Blend ``later_chunk``'s lead-in frames with the same frames of ``earlier_chunk``,
    weight of the later rising linearly; write them, same names, to ``out_dir``."""
    lead_in = sorted((Path(later_chunk) / LEAD_IN).glob("*.png"))
    if not lead_in:
        raise PainterlyError(f"{later_chunk}: no lead-in frames to fade into; rerun its stylize_frames job")
    earlier = [Path(earlier_chunk) / frame.name for frame in lead_in]
    for frame, same_frame in zip(lead_in, earlier):
        if not same_frame.is_file():
            raise PainterlyError(f"{same_frame}: missing, yet {frame} leads into it; rerun both chunks")
    with atomic_dir(out_dir) as tmp:
        fade(earlier, lead_in, [tmp / frame.name for frame in lead_in])


def fade(earlier: list[Path], later: list[Path], outputs: list[Path]) -> None:
    """Cross-fade a run of frames from one chain's results (``earlier``) to another's of the
    same frames (``later``): the later's weight rises 1/(n+1), ..., n/(n+1). Each output
    is written atomically, so fading again after a kill gives the same bytes."""
    for position, (earlier_frame, later_frame, output) in enumerate(zip(earlier, later, outputs, strict=True), 1):
        weight = position / (len(outputs) + 1)
        a, b = (np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) for path in (earlier_frame, later_frame))
        with atomic_path(output) as tmp:
            Image.fromarray(np.round((1 - weight) * a + weight * b).astype(np.uint8)).save(tmp, format="PNG")


def final_frames(chunk_dirs, seam_dirs=()) -> list[Path]:
    """The video's stylized frames in order: each chunk's own frames, with a seam's
    cross-faded frame in place of the chunk frame of the same name."""
    frames = {path.name: path for directory in chunk_dirs for path in Path(directory).glob("*.png")}
    frames.update({path.name: path for directory in seam_dirs for path in Path(directory).glob("*.png")})
    return [frames[name] for name in sorted(frames)]
