"""Stylizing a run of consecutive video frames (a chunk) in one process.

One process and one network load serve a whole chunk of frames: a fresh Python process
that imports torch and loads VGG-19 costs seconds, more than a warm GPU needs per frame.
In temporal mode the chunk is one chain (painterly.chains); its first frame starts afresh.
"""

from __future__ import annotations

from pathlib import Path

from .chains import Chain, stylize_chains
from .extract import frame_index
from .io import atomic_dir
from .settings import Settings
from .style_targets import StyleTargets
from .stylize import Stylizer


def stylize_frames(frames, targets_path, out_dir, settings: Settings, progress=True, flow_dir=None) -> None:
    """Stylize consecutive ``frames`` (PNG paths, in order) into ``out_dir``, same names.

    ``flow_dir`` holds the chunk's precomputed flows (``optical_flow`` rule); without it,
    temporal mode computes them here. ``out_dir`` appears only when the whole chunk is done.
    """
    frames = [Path(frame) for frame in frames]
    targets = StyleTargets.load(targets_path)
    stylizer = Stylizer(settings)
    with atomic_dir(out_dir) as tmp:
        outputs = [tmp / frame.name for frame in frames]
        stylize_chains(stylizer, targets, [Chain(frames, outputs, flow_dir, frame_index(frames[0]))], progress)
