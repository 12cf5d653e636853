"""The losses of each stylized frame, and a stylize job's record of them, ``losses.json`` in
its chunk directory: each frame's loss curves and the device that made it, and how many
sub-chains the job advanced in one batch (painterly.video.chunk). Written frame by frame
as each finishes (so a killed job keeps those of its finished frames) and gathered into
one file when the chunk is done; its name keeps it out of the ``*.png`` glob that seams
and encoding read."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import PainterlyError
from ..media.io import atomic_path

CHUNK_RECORD = "losses.json"
FRAME_RECORD_SUFFIX = ".losses.json"


def frame_record_path(image_path) -> Path:
    return Path(image_path).with_suffix(FRAME_RECORD_SUFFIX)


def write_frame_record(image_path, device: str, losses: list[list[float]]) -> None:
    """The record of the frame to be written at ``image_path``: its loss after every
    iteration, one list per pyramid level, and the device that made it."""
    with atomic_path(frame_record_path(image_path)) as tmp:
        tmp.write_text(json.dumps({"device": device, "losses": losses}))


def gather_frame_records(chunk_dir, sub_chains: int = 1) -> None:
    """Gather the frame records under ``chunk_dir`` (lead-in/ included) into its
    CHUNK_RECORD, frames in order, with the number of sub-chains the job advanced in one
    batch (painterly.video.chunk), and remove them."""
    chunk_dir = Path(chunk_dir)
    files = sorted(chunk_dir.rglob("*" + FRAME_RECORD_SUFFIX), key=lambda path: path.name)
    if not files and (chunk_dir / CHUNK_RECORD).is_file():
        return  # gathered by a try that was killed before it finished: keep what it gathered
    frames = []
    for path in files:
        record = json.loads(path.read_text())
        frame = path.name.removesuffix(FRAME_RECORD_SUFFIX) + ".png"
        frames.append({"frame": frame, "lead_in": path.parent != chunk_dir, **record})
    with atomic_path(chunk_dir / CHUNK_RECORD) as tmp:
        devices = sorted({frame["device"] for frame in frames})
        tmp.write_text(json.dumps({"devices": devices, "sub_chains": sub_chains, "frames": frames}) + "\n")
    for path in files:
        path.unlink()


def read_chunk_record(chunk_dir) -> dict:
    path = Path(chunk_dir) / CHUNK_RECORD
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        raise PainterlyError(f"{path}: missing or unreadable; an older painterly made this chunk, rerun it "
                             "(snakemake --forcerun stylize_frames)") from None
