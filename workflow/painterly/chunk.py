"""Stylizing a run of consecutive video frames (a chunk) in one process.

One process and one network load serve a whole chunk of frames: a fresh Python process
that imports torch and loads VGG-19 costs seconds, more than a warm GPU needs per frame.
In temporal mode the chunk is one chain (painterly.chains); its first frame starts afresh.
"""

from __future__ import annotations

import sys

from .chains import Chain, stylize_chains
from .device import describe
from .io import atomic_dir
from .settings import Settings
from .style_targets import StyleTargets
from .stylize import Stylizer
from .extract import FRAME_PATTERN, frame_paths


def stylize_frames(frames_dir, first: int, count: int, targets_path, out_dir, settings: Settings,
                   progress=True, flow_dir=None) -> None:
    """Stylize frames ``first .. first+count-1`` of ``frames_dir`` into ``out_dir`` (same names).

    ``flow_dir`` holds the chunk's precomputed flows (``optical_flow`` rule); without it,
    temporal mode computes them here. ``out_dir`` appears only when the whole chunk is done.
    """
    targets = StyleTargets.load(targets_path)
    stylizer = Stylizer(settings)
    # Always in the job's log (also with --quiet): which device a job really used.
    print(f"device: {describe(stylizer.device)}", file=sys.stderr, flush=True)
    frames = frame_paths(frames_dir, first, count)
    with atomic_dir(out_dir) as tmp:
        outputs = [tmp / FRAME_PATTERN.format(first + offset) for offset in range(count)]
        stylize_chains(stylizer, targets, [Chain(frames, outputs, flow_dir, first)], progress)
