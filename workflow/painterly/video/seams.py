"""Seams between chunks of one shot, and the frames a video is finally made of.

Chunks are independent chains, so at a border inside a shot the texture of chunk k-1 and
of chunk k differ: a visible jump, once per chunk. Chunk k therefore starts a few frames
early (its lead-in, kept as ``<chunk>/lead-in.mkv``, painterly.media.segments); the seam step cross-fades, frame by
frame over those frames, from chunk k-1's own result to chunk k's lead-in. Both chains
are aligned to the same content frame, so the fade needs no warping, and each step of the
fade moves 1/(n+1) of the way: the jump is spread over n+1 frame pairs, its squared
warp error over them falls to about 1/(n+1) of one jump.

A plain average of two differently painted textures is a double exposure: their strokes
partly cancel, and mid-fade the frame matched the style up to 1.2x worse than one chain at
96 px, 1.8x at 48 px (benchmarks/RESULTS.md). So the fade keeps the texture's contrast: the
blend's detail, what stands above its local mean, is scaled back to the local contrast
of the two frames, itself faded (a variance-preserving blend, as in Heitz & Neyret's
histogram-preserving texture blending).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import PainterlyError
from ..media.io import atomic_path, load_frame
from ..media.segments import FrameRef, load_frames, read_segment, segment_names, segment_path, write_segment

LEAD_IN = "lead-in"
# A finished chunk's own frames: segment_path(chunk_dir, OWN_FRAMES).
OWN_FRAMES = "frames"
# config.yaml's seam_frames, for the commands that take it.
SEAM_FRAMES = 16


def cross_fade(earlier_chunk, later_chunk, output) -> None:
    """Blend ``later_chunk``'s lead-in frames with the same frames of ``earlier_chunk``,
    weight of the later rising linearly; write them, same names, as the segment ``output``."""
    lead_in_file = segment_path(later_chunk, LEAD_IN)
    if not lead_in_file.is_file():
        raise PainterlyError(f"{later_chunk}: no lead-in frames to fade into; rerun its stylize_frames job")
    names, earlier_file = segment_names(lead_in_file), segment_path(earlier_chunk, OWN_FRAMES)
    positions = {name: position for position, name in enumerate(segment_names(earlier_file))}
    missing = [name for name in names if name not in positions]
    if missing:
        raise PainterlyError(f"{earlier_file}: has no frame {missing[0]}, yet {lead_in_file} leads into it; "
                             "rerun both chunks")
    # Only the faded frames are decoded and held, not the whole earlier chunk.
    earlier = list(load_frames([FrameRef(name, earlier_file, positions[name]) for name in names]))
    write_segment(output, fade(earlier, read_segment(lead_in_file)), names)


def fade(earlier: list[np.ndarray], later) -> list[np.ndarray]:
    """Cross-fade a run of frames from one chain's results (``earlier``) to another's of the
    same frames (``later``), RGB uint8 arrays: the later's weight rises 1/(n+1), ..., n/(n+1)."""
    return [blend_textures(a, b, position / (len(earlier) + 1))
            for position, (a, b) in enumerate(zip(earlier, later, strict=True), 1)]


# Gaussian sigmas (pixels at the output size): what lies below a local mean over
# DETAIL_SIGMA is texture; its contrast is measured over CONTRAST_SIGMA.
DETAIL_SIGMA, CONTRAST_SIGMA = 2.0, 4.0
# Detail is never weakened, and at most doubled (two textures cancelling exactly would
# otherwise amplify rounding noise).
MAX_GAIN = 2.0


def blend_textures(a: np.ndarray, b: np.ndarray, weight: float) -> np.ndarray:
    """``(1 - weight) * a + weight * b`` (RGB uint8 arrays of two paintings of one frame)
    with the blend's detail scaled back to the faded local contrast of ``a`` and ``b``."""
    import cv2  # here: the workflow imports this module while Snakemake parses

    def local_mean(image, sigma):
        return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)

    def detail(image):
        return image - local_mean(image, DETAIL_SIGMA)

    def contrast(detail):
        return np.sqrt(local_mean(detail**2, CONTRAST_SIGMA))

    a, b = a.astype(np.float32), b.astype(np.float32)
    blend = (1 - weight) * a + weight * b
    wanted = (1 - weight) * contrast(detail(a)) + weight * contrast(detail(b))
    blend_detail = detail(blend)
    gain = np.clip(wanted / (contrast(blend_detail) + 1e-3), 1.0, MAX_GAIN)
    return np.clip(np.round(blend - blend_detail + gain * blend_detail), 0, 255).astype(np.uint8)


def fade_files(earlier: list[Path], later: list[Path], outputs: list[Path]) -> None:
    """``fade`` from PNG files to PNG files; each output is written atomically, so fading
    again after a kill gives the same bytes."""
    for frame, output in zip(fade([load_frame(path) for path in earlier], [load_frame(path) for path in later]),
                             outputs, strict=True):
        with atomic_path(output) as tmp:
            Image.fromarray(frame).save(tmp, format="PNG")


def final_frames(chunk_dirs, seam_files=()) -> list[FrameRef]:
    """The video's stylized frames in order: each chunk's own frames, with a seam's
    cross-faded frame in place of the chunk frame of the same name. Reads only the
    segments' tags; ``load_frames`` decodes."""
    frames = {}
    for path in [segment_path(directory, OWN_FRAMES) for directory in chunk_dirs] + [Path(p) for p in seam_files]:
        frames.update({name: FrameRef(name, path, position) for position, name in enumerate(segment_names(path))})
    return [frames[name] for name in sorted(frames)]
