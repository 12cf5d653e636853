"""The optical_flow job: backward flows and their reliability for a chunk, one .npz per frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .extract import frame_index
from .flow import reliable_flow
from .io import atomic_dir, load_frame


def flow_file(flow_dir: str | Path, index: int) -> Path:
    return Path(flow_dir) / f"{index:06d}.npz"


def save_flow(path: Path, backward: np.ndarray, reliable: np.ndarray) -> None:
    np.savez_compressed(path, backward=backward.astype(np.float16), reliable=reliable.astype(np.uint8))


def load_flow(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as data:
        return data["backward"].astype(np.float32), data["reliable"].astype(np.float32)


def compute_chunk_flows(frames, out_dir, method: str = "dis") -> None:
    """Flows into every frame of a chunk (consecutive PNG paths) but its first: chunks are
    independent chains. Each file is named by the frame it leads into."""
    images = [load_frame(path) for path in frames]
    with atomic_dir(out_dir) as tmp:
        for offset in range(1, len(images)):
            backward = reliable_flow(images[offset], images[offset - 1], method)
            save_flow(flow_file(tmp, frame_index(frames[offset])), *backward)
