"""Temporal consistency of a stylized video: the warp error of Lai et al. 2018."""

from __future__ import annotations

import itertools

import numpy as np

from .flow import reliable_flow, warp
from .io import atomic_path


def warp_error(frames, method: str = "dis") -> list[float]:
    """Lai et al. 2018, per consecutive pair t: sum M*||V_t - warp(V_t+1)||^2 / sum M.

    ``frames`` yields (input frame, stylized frame) pairs of RGB uint8 arrays, lazily if
    wanted; V is in [0, 1]. Flow and mask M come from the *input* frames, so the metric
    does not depend on how the stylized video was made.
    """
    errors = []
    for (input_t, styled_t), (input_next, styled_next) in itertools.pairwise(frames):
        forward, mask = reliable_flow(input_t, input_next, method)
        following = warp(styled_next.astype(np.float32) / 255, forward)
        squared = ((styled_t.astype(np.float32) / 255 - following) ** 2).sum(-1)
        errors.append(float((mask * squared).sum() / max(mask.sum(), 1.0)))
    return errors


def write_warp_error_table(source, extraction: dict, stylized, output, method: str = "dis") -> float:
    """Per-pair warp error of a video, and their mean on the last line, as TSV: its input
    frames read from ``source`` (painterly.extract.scan_video with ``extraction``), its
    ``stylized`` frames (painterly.seams.final_frames) in the same order."""
    from .extract import scan_video
    from .seams import load_frames

    with scan_video(source, **extraction) as scan:
        pairs = zip((picture for _, picture in scan), load_frames(stylized), strict=True)
        errors = warp_error(pairs, method)
    mean = float(np.mean(errors)) if errors else 0.0
    lines = ["pair\twarp_error"] + [f"{t}-{t + 1}\t{e:.6g}" for t, e in enumerate(errors)] + [f"mean\t{mean:.6g}"]
    with atomic_path(output) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return mean
