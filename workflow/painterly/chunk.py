"""Stylizing a run of consecutive video frames (a chunk) in one process.

One process and one network load serve a whole chunk of frames: a fresh Python process
that imports torch and loads VGG-19 costs seconds, more than a warm GPU needs per frame.
In temporal mode the chunk is one chain (painterly.chains) that starts afresh at its
first frame: the chunk's lead-in frames, if it has any (painterly.shots), then its own.

A killed job loses no finished frame. Frames are written, as they finish, into a hidden
directory beside the output that records what they were made from; the rerun keeps them
when that record matches the job exactly, resumes the chain from the last finished
frame's file, and only the finished directory takes the output's name.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from .chains import Chain, stylize_chains
from .device import describe_device
from .extract import frame_index
from .io import image_to_tensor, load_image, sha256_file
from .provenance import gather_frame_records
from .seams import LEAD_IN
from .settings import Settings
from .style_targets import StyleTargets
from .stylize import Stylizer

RECORD = "made-from.json"


def stylize_frames(frames, targets_path, out_dir, settings: Settings, progress=True, flow_dir=None,
                   lead_in: int = 0) -> None:
    """Stylize consecutive ``frames`` (PNG paths, in order) into ``out_dir``, same names;
    the first ``lead_in`` of them (a chain's run-up, see painterly.seams) into ``out_dir/lead-in``;
    each frame's loss curves and device into ``out_dir/losses.json`` (painterly.provenance).

    ``flow_dir`` holds the chunk's precomputed flows (``optical_flow`` rule); without it,
    temporal mode computes them here.
    """
    frames, out_dir = [Path(frame) for frame in frames], Path(out_dir)
    partial = out_dir.parent / f".{out_dir.name}.partial"
    record = {
        "settings": settings.to_dict(),
        "targets": sha256_file(targets_path),
        "frames": [sha256_file(frame) for frame in frames],
        "lead_in": lead_in,
    }
    _reuse_or_clear(partial, record)
    outputs = [partial / LEAD_IN / frame.name if i < lead_in else partial / frame.name for i, frame in enumerate(frames)]
    done = next((i for i, output in enumerate(outputs) if not output.is_file()), len(outputs))
    if done < len(frames):
        resumed = {}
        if done and settings.temporal:
            resumed = dict(previous=image_to_tensor(load_image(outputs[done - 1])), before=frames[done - 1])
        chain = Chain(frames[done:], outputs[done:], flow_dir, frame_index(frames[done]), records=True, **resumed)
        stylizer = Stylizer(settings)
        # Always in the job's log (also with --quiet): which device a job really used.
        print(f"device: {describe_device(stylizer.device)}", file=sys.stderr, flush=True)
        stylize_chains(stylizer, StyleTargets.load(targets_path), [chain], progress)
    gather_frame_records(partial)
    (partial / RECORD).unlink()
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(partial, out_dir)


def _reuse_or_clear(partial: Path, record: dict) -> None:
    """Keep ``partial`` if an earlier try of this same job left it; else start it empty."""
    try:
        if json.loads((partial / RECORD).read_text()) == record:
            for unfinished in partial.rglob(".*.tmp"):  # a write the kill interrupted
                unfinished.unlink()
            return
    except (OSError, ValueError):
        pass
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    (partial / RECORD).write_text(json.dumps(record))
