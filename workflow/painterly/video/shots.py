"""Shots and chunks: where a video cuts, and how its frames are split into stylize jobs.

A cut is a frame the previous one does not explain: after warping the previous frame onto
it by optical flow, few pixels match. There the temporal chain must restart (the warped
previous result is wrong everywhere), so cuts are also the best chunk borders: a border
at a cut is invisible. Shots longer than ``chunk_frames`` are split evenly, and each such
border inside a shot gets a lead-in: either the later chunk continues the earlier chunk's
chain, held to its results of the lead-in frames (as far back as ``temporal_frames``
reaches), or it starts ``seam_frames`` frames early and the ``seam`` step cross-fades the two
chains over those frames (painterly.video.seams).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Frames are compared at this long side: cuts are global changes, and DIS is ~1 ms here.
CUT_PROBE_SIZE = 96
# A pixel is explained when its warped grey level is within this many levels (of 255).
MATCH_LEVELS = 24


def explained_fraction(previous: np.ndarray, frame: np.ndarray) -> float:
    """The fraction of ``frame``'s pixels that ``previous`` (RGB uint8), warped onto it by
    DIS optical flow, reproduces: near 1 within a shot, low across a cut."""
    import cv2  # here: the workflow imports this module (plan_chunks) while Snakemake parses

    from .flow import warp

    scale = CUT_PROBE_SIZE / max(frame.shape[:2])
    size = (max(8, round(frame.shape[1] * scale)), max(8, round(frame.shape[0] * scale)))
    a, b = (cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA)
            for image in (frame, previous))
    solver = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
    backward = solver.calc(a, b, None)
    difference = np.abs(warp(b, backward).astype(np.int16) - a.astype(np.int16))
    return float((difference <= MATCH_LEVELS).mean())


@dataclass(frozen=True)
class Chunk:
    first: int
    """The chunk's first own frame."""
    end: int
    """One past its last frame."""
    lead_in: int
    """Frames before ``first`` the chain starts with (0 at a cut or the video's start)."""
    continues: bool = False
    """The lead-in frames are the earlier chunks' results, held to (one chain across the
    border), not a run-up stylized afresh and cross-faded (a seam)."""

    @property
    def run_up(self) -> int:
        """Lead-in frames the chunk stylizes itself, to be faded by a seam (none where it
        continues the chain before it)."""
        return 0 if self.continues else self.lead_in

    @property
    def chain_first(self) -> int:
        """The chain's first frame: its lead-in's first, or ``first``."""
        return self.first - self.lead_in


def plan_chunks(frame_count: int, cuts, chunk_frames: int, seam_frames: int, continues: bool = False) -> list[Chunk]:
    """Chunks of at most ``chunk_frames`` own frames with a border at every cut; a shot
    longer than that is split into equal parts, and each part after its shot's first gets
    a lead-in of ``seam_frames`` frames (never reaching back over the cut), which
    ``continues`` the chain before it or is faded."""
    starts = sorted({0, *(c for c in cuts if 0 < c < frame_count)})
    chunks = []
    for shot_start, shot_end in zip(starts, [*starts[1:], frame_count]):
        parts = math.ceil((shot_end - shot_start) / chunk_frames)
        chunks += split_evenly(shot_start, shot_end, parts, seam_frames, continues)
    return chunks


def split_evenly(start: int, end: int, parts: int, seam_frames: int, continues: bool = False) -> list[Chunk]:
    """Frames start..end as ``parts`` chunks whose lengths differ by at most one, each but
    the first with a lead-in of ``seam_frames`` frames, never reaching back before ``start``;
    and, unless it ``continues`` the chain (whose results it reads from every chunk it
    reaches into), not before the previous chunk either: a seam fades into that one alone."""
    borders = [start + round(i * (end - start) / parts) for i in range(parts + 1)]
    chunks = []
    for before, first, last in zip([start, *borders], borders, borders[1:]):
        lead_in = min(seam_frames, first - (start if continues else before))
        chunks.append(Chunk(first, last, lead_in, continues and lead_in > 0))
    return chunks


def plan_video(source, extraction: dict, threshold: float, chunk_frames: int, seam_frames: int, plan_path,
               meta_path, chunk_sources_dir, continues: bool = False) -> dict:
    """Read the frames a row uses of ``source`` once (painterly.media.extract.FrameScan, with
    ``extraction``: size, and fps, start, end if set) and write what every later rule reads:
    the video's metadata (``meta_path``, JSON), one record per chunk of where its frames
    are in the source and their digest (``chunk_sources_dir/<chunk>.json``,
    extract.chunk_source), and the chunk plan (``plan_path``, JSON): its cuts -- frames
    whose explained fraction is below ``threshold`` (0 finds none), every pair's fraction
    beside them -- and the chunks plan_chunks puts around them (``continues``: see there)."""
    from ..media.extract import chunk_source, scan_video, write_meta
    from ..media.io import atomic_dir, atomic_path, picture_digest

    explained, digests, previous = [], [], None
    with scan_video(source, **extraction) as scan:
        for _, picture in scan:
            digests.append(picture_digest(picture))
            if previous is not None:
                explained.append(round(explained_fraction(previous, picture), 4))
            previous = picture
        meta = scan.meta
        cuts = [t + 1 for t, fraction in enumerate(explained) if fraction < threshold]
        chunks = plan_chunks(len(digests), cuts, chunk_frames, seam_frames, continues)
        with atomic_dir(chunk_sources_dir) as tmp:
            for index, chunk in enumerate(chunks):
                record = chunk_source(scan, chunk.chain_first, chunk.end, digests)
                (tmp / f"{index:04d}.json").write_text(json.dumps(record) + "\n")
    write_meta(meta, meta_path)
    plan = {"frame_count": len(digests), "cuts": cuts, "chunks": [dataclasses.asdict(chunk) for chunk in chunks],
            "explained": explained}
    with atomic_path(plan_path) as tmp:
        tmp.write_text(json.dumps(plan) + "\n")
    return plan


def read_chunk_plan(path) -> tuple[list[Chunk], list[int]]:
    """A video's chunks and cuts, as plan_video wrote them."""
    plan = json.loads(Path(path).read_text())
    return [Chunk(**chunk) for chunk in plan["chunks"]], plan["cuts"]
