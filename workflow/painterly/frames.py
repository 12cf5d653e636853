"""Stylizing a run of consecutive video frames in one process.

One process and one network load serve a whole chunk of frames: a fresh Python process
that imports torch and loads VGG-19 costs seconds, more than a warm GPU needs per frame.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tqdm.auto import tqdm

from .io import load_image, save_image, temporary_dir_beside
from .settings import Settings
from .style_targets import StyleTargets
from .stylize import Stylizer
from .video import FRAME_PATTERN, frame_paths


def stylize_frames(frames_dir, first: int, count: int, targets_path, out_dir, settings: Settings, progress=True) -> None:
    """Stylize frames ``first .. first+count-1`` of ``frames_dir`` into ``out_dir`` (same names).

    ``out_dir`` appears only when every frame of the chunk is done.
    """
    out_dir = Path(out_dir)
    targets = StyleTargets.load(targets_path)
    stylizer = Stylizer(settings)
    targets.check(settings)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_dir_beside(out_dir)
    try:
        for index, path in enumerate(tqdm(frame_paths(frames_dir, first, count), desc="frames", disable=not progress)):
            result = stylizer.stylize(load_image(path), targets, progress=False)
            save_image(result.image, tmp / FRAME_PATTERN.format(first + index))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
