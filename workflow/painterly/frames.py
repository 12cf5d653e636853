"""Stylizing a run of consecutive video frames in one process.

One process and one network load serve a whole chunk of frames: a fresh Python process
that imports torch and loads VGG-19 costs seconds, more than a warm GPU needs per frame.
In temporal mode the chunk is one chain: each frame starts from the previous result
warped by optical flow (Ruder et al.); the chunk's first frame starts afresh.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from .flow import flow_file, load_flow, load_frame, reliable_flow, warp
from .io import atomic_dir, load_image, save_image
from .settings import Settings
from .style_targets import StyleTargets
from .stylize import Stylizer
from .video import FRAME_PATTERN, frame_paths


def stylize_frames(frames_dir, first: int, count: int, targets_path, out_dir, settings: Settings,
                   progress=True, flow_dir=None) -> None:
    """Stylize frames ``first .. first+count-1`` of ``frames_dir`` into ``out_dir`` (same names).

    ``flow_dir`` holds the chunk's precomputed flows (``optical_flow`` rule); without it,
    temporal mode computes them here. ``out_dir`` appears only when the whole chunk is done.
    """
    targets = StyleTargets.load(targets_path)
    stylizer = Stylizer(settings)
    paths = frame_paths(frames_dir, first, count)
    previous_result = None
    with atomic_dir(out_dir) as tmp:
        for offset, path in enumerate(tqdm(paths, desc="frames", disable=not progress)):
            prior = None
            if settings.temporal and previous_result is not None:
                if flow_dir:
                    backward, reliable = load_flow(flow_file(flow_dir, first + offset))
                else:
                    backward, reliable = reliable_flow(load_frame(path), load_frame(paths[offset - 1]), settings.flow_method)
                prior = (_tensor(warp(previous_result, backward)), torch.from_numpy(reliable)[None, None])
            result = stylizer.stylize(load_image(path), targets, progress=False, previous=prior)
            save_image(result.image, tmp / FRAME_PATTERN.format(first + offset))
            previous_result = result.image[0].permute(1, 2, 0).numpy()


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]
