"""Temporal consistency of a stylized video: the warp error of Lai et al. 2018."""

from __future__ import annotations

import collections

import numpy as np

from ..media.io import atomic_path
from .flow import reliable_flow, warp

# The frame distances the workflow's warp_error.tsv measures: neighbours (flicker), and
# frames 10 apart (texture that swims over about half a second).
DISTANCES = (1, 10)


def warp_errors(frames, distances=(1,), method: str = "dis") -> dict[int, list[tuple[float, float]]]:
    """Lai et al. 2018 at each frame distance k: per pair (t, t+k), sum M*||V_t - warp(V_t+k)||^2 / sum M
    for the stylized frames V, and beside it the same for the input frames (what the scene's
    own changes, lighting and flow errors contribute; a stylized video is steady when its
    error is near its source's).

    ``frames`` yields (input frame, stylized frame) pairs of RGB uint8 arrays, lazily if
    wanted (the last max(distances) are held); V is in [0, 1]. Flow (t -> t+k, direct) and
    mask M come from the *input* frames, so the metric does not depend on how the stylized
    video was made.
    """
    recent = collections.deque(maxlen=max(distances))
    errors = {distance: [] for distance in distances}
    for later in frames:
        for distance in distances:
            if len(recent) >= distance:
                earlier = recent[-distance]
                forward, mask = reliable_flow(earlier[0], later[0], method)
                errors[distance].append(tuple(_masked_error(earlier[i], later[i], forward, mask) for i in (1, 0)))
        recent.append(later)
    return errors


def warp_error(frames, method: str = "dis") -> list[float]:
    """The stylized frames' warp error per consecutive pair (warp_errors at distance 1)."""
    return [styled for styled, _ in warp_errors(frames, (1,), method)[1]]


def _masked_error(frame: np.ndarray, later: np.ndarray, forward: np.ndarray, mask: np.ndarray) -> float:
    following = warp(later.astype(np.float32) / 255, forward)
    squared = ((frame.astype(np.float32) / 255 - following) ** 2).sum(-1)
    return float((mask * squared).sum() / max(mask.sum(), 1.0))


def write_warp_error_table(source, extraction: dict, stylized, output, method: str = "dis") -> None:
    """The warp error of a video as TSV, at each of DISTANCES: per pair (t, t+k) and their
    mean (``nan`` without pairs), the stylized frames' and the source's. Its input frames
    are read from ``source`` (painterly.media.extract.scan_video with ``extraction``), its
    ``stylized`` frames (painterly.video.seams.final_frames) in the same order."""
    from ..media.extract import scan_video
    from ..media.segments import load_frames

    with scan_video(source, **extraction) as scan:
        pairs = zip((picture for _, picture in scan), load_frames(stylized), strict=True)
        errors = warp_errors(pairs, DISTANCES, method)
    lines = ["distance\tpair\twarp_error\tsource_warp_error"]
    for distance, rows in errors.items():
        lines += [f"{distance}\t{t}-{t + distance}\t{e:.6g}\t{s:.6g}" for t, (e, s) in enumerate(rows)]
        means = np.mean(rows, axis=0) if rows else (float("nan"),) * 2
        lines.append(f"{distance}\tmean\t{means[0]:.6g}\t{means[1]:.6g}")
    with atomic_path(output) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
