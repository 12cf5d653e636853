"""Stylizing a run of consecutive video frames (a chunk) in one process.

One process and one network load serve a whole chunk of frames: a fresh Python process
that imports torch and loads VGG-19 costs seconds, more than a warm GPU needs per frame.
In temporal mode the chunk is one chain (painterly.video.chains) that starts afresh at its
first frame: the chunk's lead-in frames, if it has any (painterly.video.shots), then its own;
or, continuing the chunks before it in its shot, that goes on from their results of the
lead-in frames.

Asked for (the ``sub_chains`` setting), a chunk is split as a long shot is split into
chunks: into sub-chains advanced in one batch (frame t of each is one batch), each after
the first leading in over the last frames of the one before, the two cross-faded over those
frames as chunks are (painterly.video.seams). The chunk's own lead-in stays with the first
sub-chain. By default a chunk stays one chain, on every device.

A killed job loses no finished frame. Frames are written, as they finish, into a hidden
directory beside the output that records what they were made from; the rerun keeps them
when that record matches the job exactly, resumes every sub-chain from the last frame all
of them had finished (each from its own result's file, so every batch holds the same
sub-chains as in a run that was not killed), and only the finished directory, its frames
packed into lossless segment files (painterly.media.segments), takes the output's name.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from ..engine.device import describe_device
from ..engine.settings import Settings
from ..engine.style_targets import StyleTargets
from ..engine.stylize import Stylizer
from ..errors import PainterlyError
from ..media.io import (
    DecodedFrame,
    image_to_tensor,
    load_frame,
    load_image,
    picture_digest,
    sha256_file,
    tensor_to_image,
)
from ..media.segments import FrameRef, load_frames, segment_names, segment_path, write_segment
from .chains import Anchor, Chain, anchor_positions, flow_pixels, stylize_chains
from .loss_records import frame_record_path, gather_frame_records
from .seams import LEAD_IN, OWN_FRAMES, SEAM_FRAMES, fade_files
from .shots import Chunk, split_evenly

RECORD = "made-from.json"
# A chunk's segment of its chain's anchors (``temporal_anchor``, ``temporal_keyframes``): each
# one's content frame and result, named by how many frames before the chunk's end it is.
ANCHOR = "anchor"
ANCHOR_KINDS = ("content", "result")
# Where a sub-chain's lead-in (LATER) and the previous sub-chain's results of the same
# frames (EARLIER) wait to be faded: hidden from the output's *.png glob, removed before
# the directory takes the output's name.
SUB_CHAIN_SEAMS = ".sub-chain-seams"
EARLIER, LATER = "earlier", "later"

def choose_sub_chains(settings: Settings, frames: int) -> int:
    """How many sub-chains a job advances in one batch over a chunk of ``frames`` own frames:
    ``settings.sub_chains`` (at most one per frame), or one where it is 0. One by default:
    on an H200 at 512x384 a batch of 8 iterated no faster per frame than one frame with
    CUDA graphs (34.2 against 8 x 3.8 ms), and a job of 8 sub-chains made 4.8 frames/s
    against one chain's 7.2 (benchmarks/RESULTS.md, GPU)."""
    return max(1, min(settings.sub_chains or 1, frames))


def split_into_sub_chains(frame_count: int, lead_in: int, sub_chains: int, seam_frames: int) -> list[Chunk]:
    """A chunk's frames (positions 0..frame_count, the first ``lead_in`` its lead-in) as
    sub-chains: its own frames split evenly, the first sub-chain with the chunk's lead-in,
    each later one leading in over the previous one's last ``seam_frames`` (fewer where the
    sub-chains are shorter, so every seam fades between two neighbours)."""
    seam = min(seam_frames, (frame_count - lead_in) // sub_chains)
    parts = split_evenly(lead_in, frame_count, sub_chains, seam)
    return [dataclasses.replace(parts[0], lead_in=lead_in), *parts[1:]]


def stylize_frames(frames, targets_path, out_dir, settings: Settings, progress=True, lead_in: int = 0,
                   seam_frames: int = SEAM_FRAMES, compiled: bool = False, earlier_chunks=()) -> None:
    """Stylize consecutive ``frames`` (in order: image files, or DecodedFrames from the
    source, painterly.media.extract.decode_frames) into ``out_dir``: the chunk's own
    frames as the segment ``frames.mkv``, the first ``lead_in`` of them (a chain's run-up,
    see painterly.video.seams) as ``lead-in.mkv`` (painterly.media.segments, frames named as their
    inputs); each frame's loss curves and device into ``out_dir/losses.json``
    (painterly.video.loss_records). Until the chunk is done its frames are PNGs in a hidden
    directory beside ``out_dir``.

    In temporal mode the flows between the frames are computed here, on the job's CPU
    threads ahead of the device, and never stored. ``seam_frames``: the lead-in of each
    sub-chain after the first (frames independent, without temporal mode: none).

    ``earlier_chunks`` (finished chunks' directories, whose own frames include the lead-in's):
    the chunk continues their chain instead of starting afresh; the lead-in frames are not
    stylized but held to as that chain's results, so the chunks are one chain. With
    ``temporal_anchor`` a chunk also keeps the anchors of the chain its last frames belong to
    (content frames and results) as the segment ``anchor.mkv``: the chain's later frames are
    held to them, so a chunk that continues it reads them from there.
    """
    frames, out_dir = [frame if isinstance(frame, DecodedFrame) else Path(frame) for frame in frames], Path(out_dir)
    history, anchors = [], []
    anchored = settings.temporal and settings.temporal_anchor
    if earlier_chunks:
        history = list(zip(frames[:lead_in], _earlier_results(earlier_chunks, frames[:lead_in])))
        frames, lead_in = frames[lead_in:], 0
        anchors = _earlier_anchors(earlier_chunks[-1], history[0][1].shape) if anchored else []
    partial = out_dir.parent / f".{out_dir.name}.partial"
    stylizer = Stylizer(settings, compiled=compiled)
    # Always in the job's log (also with --quiet): which device a job really used.
    print(f"device: {describe_device(stylizer.device)}", file=sys.stderr, flush=True)
    seam_frames = seam_frames if settings.temporal else 0
    count = choose_sub_chains(settings, len(frames) - lead_in)
    parts = split_into_sub_chains(len(frames), lead_in, count, seam_frames)
    record = {
        "settings": settings.to_dict(),
        "targets": sha256_file(targets_path),
        "frames": [frame_digest(frame) for frame in frames],
        "lead_in": lead_in,
        "sub_chains": count,
        "seam_frames": seam_frames,
        "continues": [sha256_file(segment_path(chunk, OWN_FRAMES)) for chunk in earlier_chunks],
        "anchor": sha256_file(segment_path(earlier_chunks[-1], ANCHOR)) if anchors else None,
    }
    _reuse_or_clear(partial, record)
    outputs = [[_output_dir(partial, parts, index, position) / frames[position].name
                for position in range(part.chain_first, part.end)] for index, part in enumerate(parts)]
    chains = _unfinished_chains(frames, parts, outputs, settings, history, anchors)
    if chains:
        stylize_chains(stylizer, StyleTargets.load(targets_path), chains, progress)
    if anchored:
        # The chain the chunk ends with: the one a chunk continuing it continues.
        length = parts[-1].end - parts[-1].chain_first
        last = _finished_anchors(frames, parts[-1], outputs[-1], settings, anchors if len(parts) == 1 else [], length)
        pictures = [picture for anchor in last
                    for picture in (flow_pixels(anchor.frame, settings), np.asarray(tensor_to_image(anchor.result)))]
        names = [f"{kind}-{length - anchor.position}" for anchor in last for kind in ANCHOR_KINDS]
        write_segment(segment_path(partial, ANCHOR), pictures, names)
    _fade_sub_chain_seams(partial, frames, parts)
    gather_frame_records(partial, sub_chains=count)
    _pack(partial, frames[:lead_in], partial / LEAD_IN, LEAD_IN)
    _pack(partial, frames[lead_in:], partial, OWN_FRAMES)
    (partial / RECORD).unlink()
    shutil.rmtree(partial / SUB_CHAIN_SEAMS, ignore_errors=True)
    shutil.rmtree(partial / LEAD_IN, ignore_errors=True)
    for frame in partial.glob("*.png"):
        frame.unlink()
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(partial, out_dir)


def frame_digest(frame) -> str:
    """What a content frame is, for the partial directory's record: its pixels' digest
    (painterly.media.io.picture_digest) or its file's."""
    if isinstance(frame, DecodedFrame):
        return picture_digest(frame.picture)
    return sha256_file(frame)


def _pack(partial: Path, frames: list[Path], directory: Path, part: str) -> None:
    """The finished PNGs of ``frames`` in ``directory`` as the segment ``part`` of the chunk
    (none for no frames); the PNGs stay until the chunk takes its name, so a kill while
    packing leaves a job that packs again."""
    if frames:
        names = [frame.name for frame in frames]
        write_segment(segment_path(partial, part), (load_frame(directory / name) for name in names), names)


def _output_dir(partial: Path, parts: list[Chunk], index: int, position: int) -> Path:
    """Where sub-chain ``index`` writes its frame at ``position``: the chunk's lead-in in
    lead-in/, a later sub-chain's lead-in and the frames it leads in over aside until
    faded, every other frame in the chunk's own place."""
    if position < parts[index].first:
        return partial / LEAD_IN if index == 0 else partial / SUB_CHAIN_SEAMS / LATER
    if index + 1 < len(parts) and position >= parts[index + 1].chain_first:
        return partial / SUB_CHAIN_SEAMS / EARLIER
    return partial


def _unfinished_chains(frames: list[Path], parts: list[Chunk], outputs: list[list[Path]], settings: Settings,
                       history: list, anchors: list[Anchor]) -> list[Chain]:
    """The sub-chains from the last step all of them had finished (0: a fresh job), each
    continuing from its own results of the steps before (as many as ``temporal_frames``
    reaches back) and held to its anchors so far; the first after ``history``, an earlier
    chunk's (frame, result) pairs, and held to ``anchors``, that chain's anchors, too."""
    done = min(next((i for i, output in enumerate(paths) if not output.is_file()), len(paths)) for paths in outputs)
    if done:  # in the job's log (also with --quiet): an earlier try's frames were kept
        print(f"resuming after {done} finished frames per chain, kept from an earlier try", file=sys.stderr, flush=True)
    chains, reach = [], settings.temporal_reach
    for index, (part, paths) in enumerate(zip(parts, outputs)):
        own = frames[part.chain_first:part.end]
        if done < len(own):
            # Resumed: the finished results the next frames are held to, read back exactly.
            finished = [(own[i], image_to_tensor(load_image(paths[i]))) for i in range(max(0, done - reach), done)]
            held = (history if index == 0 else []) + finished
            before = _finished_anchors(frames, part, paths, settings, anchors if index == 0 else [], done)
            chains.append(Chain(own[done:], paths[done:], history=held[max(0, len(held) - reach):], records=True,
                                anchors=[dataclasses.replace(anchor, position=anchor.position - done)
                                         for anchor in before]))
    return chains


def _finished_anchors(frames: list, part: Chunk, paths: list[Path], settings: Settings, earlier: list[Anchor],
                      done: int) -> list[Anchor]:
    """A sub-chain's anchors among its first ``done`` frames (finished: results read from
    ``paths``), after ``earlier``, the anchors it continues from."""
    own = frames[part.chain_first:part.end]
    return earlier + [Anchor(own[p], image_to_tensor(load_image(paths[p])), p)
                      for p in anchor_positions(settings, earlier, done)]


def _earlier_anchors(chunk, shape) -> list[Anchor]:
    """The anchors an earlier chunk kept: its chain's (content as decoded frames, results of
    ``shape`` like the chain's other results), positioned from the chunk's end."""
    path = segment_path(chunk, ANCHOR)
    rerun = f"yet the next chunk continues its chain; rerun it (snakemake --forcerun {chunk})"
    if not path.is_file():
        raise PainterlyError(f"{chunk}: no {path.name}, {rerun}")
    names = segment_names(path)
    backs = [name.partition("-")[2] for name in names[::2]]
    if not names or names != [f"{kind}-{back}" for back in backs for kind in ANCHOR_KINDS] \
            or not all(back.isdigit() and int(back) > 0 for back in backs):
        raise PainterlyError(f"{path}: not a chain's anchors (content and result each), {rerun}")
    pictures = list(load_frames([FrameRef(name, path, position) for position, name in enumerate(names)]))
    anchors = [Anchor(DecodedFrame(name, content), image_to_tensor(Image.fromarray(result)), -int(back))
               for name, back, content, result in zip(names[::2], backs, pictures[::2], pictures[1::2])]
    for anchor in anchors:
        if anchor.result.shape != shape:
            size = f"{anchor.result.shape[-1]}x{anchor.result.shape[-2]}"
            raise PainterlyError(f"{path}: {size}, not the size of the chain's frames, {rerun}")
    return anchors


def _earlier_results(earlier_chunks, frames) -> list:
    """The earlier chunks' results of ``frames`` (their last ones), as tensors (1, 3, H, W)."""
    files = [segment_path(chunk, OWN_FRAMES) for chunk in earlier_chunks]
    refs = {name: FrameRef(name, path, position) for path in files for position, name in enumerate(segment_names(path))}
    missing = [frame.name for frame in frames if frame.name not in refs]
    if missing:
        raise PainterlyError(f"{', '.join(map(str, files))}: no frame {missing[0]}, yet the next chunk continues "
                             "from them; rerun these chunks")
    return [image_to_tensor(Image.fromarray(result)) for result in load_frames([refs[frame.name] for frame in frames])]


def _fade_sub_chain_seams(partial: Path, frames: list[Path], parts: list[Chunk]) -> None:
    """Cross-fade each later sub-chain's lead-in with the previous one's results of the same
    frames into the chunk's own frames; those keep the previous sub-chain's loss records.
    Fading reads only the set-aside results, so after a kill it is simply done again."""
    aside = partial / SUB_CHAIN_SEAMS
    for part in parts[1:]:
        names = [frame.name for frame in frames[part.chain_first:part.first]]
        fade_files([aside / EARLIER / name for name in names], [aside / LATER / name for name in names],
                   [partial / name for name in names])
        for name in names:
            earlier_record = frame_record_path(aside / EARLIER / name)
            if earlier_record.is_file():
                os.replace(earlier_record, frame_record_path(partial / name))
            frame_record_path(aside / LATER / name).unlink(missing_ok=True)


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
