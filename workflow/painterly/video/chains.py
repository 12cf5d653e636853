"""Temporal chains of video frames, several advanced in lockstep on one device.

A chain is a run of consecutive frames in which each frame starts from the previous
result warped by optical flow (Ruder et al.) and is held to the earlier results the
``temporal_frames`` setting names, each warped into it by its own flow: the previous one
keeps neighbours alike, the farther ones keep a texture from swimming over seconds. With
``temporal_anchor`` every later frame is also held to the chain's first result: held only
to results that were themselves held to results, what stays in view is repainted a little
every frame and drifts over hundreds of frames; the first result is a fixed point. Every
``temporal_keyframes`` frames a result becomes one more anchor, for what the first one does
not show (what its passers-by hid, what came into view since): each pixel is held to the
first anchor that showed it.
Chains are independent of each other
(chunks of one video, or several videos of one size), so frame t of every chain goes
into one batch: the device stays busy even at sizes where a single frame would leave it
idle. Frames and flows are read (or flows computed) on background threads ahead of the
device, and results are written on them too.
"""

from __future__ import annotations

import collections
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..engine.device import describe_device
from ..engine.settings import MAX_ANCHORS, Settings
from ..engine.style_targets import StyleTargets
from ..engine.stylize import Stylized, Stylizer
from ..media.io import DecodedFrame, as_saved, frame_image, image_to_tensor, resize_long_side, save_image
from .flow import matching_flow, reliable_flow, with_still_pixels
from .loss_records import write_frame_record


@dataclass
class Chain:
    frames: list[Path | DecodedFrame]
    """The content frames, in order: image files or frames decoded into memory."""
    outputs: list[Path]
    """Where each result is written."""
    history: list[tuple[Path | DecodedFrame, torch.Tensor]] = field(default_factory=list)
    """A chain resumed mid-way: the frames before ``frames[0]`` with their results (1, 3, H, W),
    oldest first, as far back as ``temporal_frames`` reaches (the flows into the frames
    that follow are computed from these contents)."""
    records: bool = False
    """Write each frame's record (loss_records.write_frame_record) beside its output, before
    the image, so every finished frame has one."""
    anchors: list[Anchor] = field(default_factory=list)
    """A chain resumed mid-way: its anchors so far (``temporal_anchor``, ``temporal_keyframes``),
    oldest first; a chain starting afresh makes them from its own frames."""


@dataclass
class Anchor:
    frame: Path | DecodedFrame
    """The content frame."""
    result: torch.Tensor
    """Its result (1, 3, H, W)."""
    position: int
    """Where the frame is in the chain, counted from the chain's ``frames[0]`` (negative:
    before it, in a resumed chain)."""


def anchor_positions(settings: Settings, anchors: list[Anchor], length: int) -> list[int]:
    """The positions (0 .. length-1, counted like ``Anchor.position``) whose results become
    anchors after ``anchors``: the chain's first frame, then every ``temporal_keyframes``
    frames after the newest anchor, up to MAX_ANCHORS. Fixed by positions alone, so frames
    read ahead of the device know their anchors, and a resumed chain picks the same ones."""
    if not (settings.temporal and settings.temporal_anchor):
        return []
    positions, newest = [], anchors[-1].position if anchors else None
    while len(anchors) + len(positions) < MAX_ANCHORS and (newest is None or settings.temporal_keyframes):
        newest = 0 if newest is None else newest + settings.temporal_keyframes
        if newest >= length:
            break
        positions.append(newest)
    return positions


# A chain's frames wait as PNGs only until their chunk is packed into its segment: the
# fastest zlib level writes them 4-5x faster (a 512x384 frame: 15 against 71 ms of a core,
# 13% larger), and a GPU job's flows and writes share its CPU threads.
PENDING_PNG_LEVEL = 1


def stylize_chains(stylizer: Stylizer, targets: StyleTargets, chains: list[Chain], progress: bool = True,
                   workers: int | None = None) -> None:
    """Stylize every frame of every chain; frame t of all chains that have one is one batch
    (two: chains starting afresh, and chains continuing from their previous result)."""
    settings = stylizer.settings
    device = describe_device(stylizer.device)
    # The CPUs this job may use (a SLURM job's cpuset, not the whole node's): reads and flows.
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = workers or min(16, usable)
    length = max(len(chain.frames) for chain in chains)
    # Each chain's latest results, newest last: the ones its next frames are held to.
    earlier = {index: collections.deque((result for _, result in chain.history), maxlen=settings.temporal_reach)
               for index, chain in enumerate(chains)}
    # Each chain's anchors' results, on the device once, and where its own frames become anchors.
    anchors = {index: [anchor.result.to(stylizer.device) for anchor in chain.anchors]
               for index, chain in enumerate(chains)}
    keyframes = [anchor_positions(settings, chain.anchors, len(chain.frames)) for chain in chains]
    # Each chain's frames as the flows see them, resized once: a frame is compared with up
    # to len(temporal_frames) later frames, and a keyframe with every later one (resizing a
    # 1080p frame to 512 px takes 30 ms of a core, a flow about 100).
    resized = {index: {} for index in range(len(chains))}
    with ThreadPoolExecutor(workers) as pool:
        ahead: dict[int, dict[int, Future]] = {}
        writes = []
        for t in tqdm(range(length), desc="frames", disable=not progress):
            for later in range(t, min(t + workers, length)):
                if later not in ahead:
                    ahead[later] = {index: pool.submit(_read, chain, later, settings, keyframes[index], resized[index])
                                    for index, chain in enumerate(chains) if later < len(chain.frames)}
            inputs = {index: future.result() for index, future in ahead.pop(t).items()}
            continuing = [index for index in inputs if settings.temporal and earlier[index]]
            fresh = [index for index in inputs if index not in continuing]
            for group in (fresh, continuing):
                if not group:
                    continue
                content = torch.stack([inputs[index][0] for index in group])
                prior = None
                if group is continuing:
                    held = [held_target(earlier[index], inputs[index][1], stylizer.device, settings.temporal_hold,
                                        list(zip(anchors[index], inputs[index][2])), settings.temporal_anchor_weight)
                            for index in group]
                    prior = (torch.cat([target for target, _ in held]), torch.cat([mask for _, mask in held]))
                results = stylizer.stylize_batch(content, targets, previous=prior)
                if prior is None and settings.temporal:
                    results = _restarted(stylizer, targets, content, results)
                for index, result in zip(group, results):
                    image = as_saved(result.image)
                    earlier[index].append(image)
                    if t in keyframes[index]:
                        anchors[index].append(image)
                    if chains[index].records:
                        write_frame_record(chains[index].outputs[t], device, result.losses)
                    writes.append(pool.submit(save_image, image.cpu(), chains[index].outputs[t], PENDING_PNG_LEVEL))
            for index in inputs:
                if t - settings.temporal_reach not in keyframes[index]:
                    resized[index].pop(t - settings.temporal_reach, None)  # no frame read after t reaches it
            for write in [write for write in writes if write.done()]:
                write.result()  # a failed write (a full disk) stops the job now, not at its end
        for write in writes:
            write.result()


def _restarted(stylizer: Stylizer, targets: StyleTargets, content: torch.Tensor, results: list[Stylized]):
    """Chains' first frames run ``frame_iterations`` ``first_frame_restarts`` times more, each
    from the result as saved. Every later frame starts so, and a chain that starts from a
    clamped result paints on where one long run had stopped: unrestarted, a shot's first
    result was its least stylized (style distance 0.160 on the bundled clip, the frames after
    it 0.14-0.15), and every later frame is held to it (``temporal_anchor``)."""
    for _ in range(stylizer.settings.first_frame_restarts):
        start = torch.cat([as_saved(result.image) for result in results])
        again = stylizer.stylize_batch(content, targets, start=start)
        results = [Stylized(later.image, result.losses + later.losses) for result, later in zip(results, again)]
    return results


def _read(chain: Chain, t: int, settings: Settings, keyframes: list[int], resized: dict[int, np.ndarray]):
    """Frame t of a chain as a tensor (3, H, W) at the output size, and (temporal mode) for
    each distance k of ``temporal_frames`` that reaches a frame of the chain, the backward
    flow from frame t into frame t - k (1, H, W, 2) with its reliability mask (1, 1, H, W);
    and the same into each anchor before t, oldest first: the chain's ``anchors``, then its
    frames at the positions ``keyframes``. ``resized``: the chain's frames as flow_pixels
    gives them, by position, where already read (frame t's is added)."""
    frame = resize_long_side(frame_image(chain.frames[t]), settings.size)
    tensor, pixels = image_to_tensor(frame)[0], np.asarray(frame)
    resized[t] = pixels

    def pixels_at(position):
        if position < 0:
            return flow_pixels(chain.history[position][0], settings)
        cached = resized.get(position)  # another thread may be reading it: then resized twice
        return flow_pixels(chain.frames[position], settings) if cached is None else cached

    flows = {}
    for k in settings.temporal_frames if settings.temporal else ():
        if t - k < -len(chain.history):
            continue  # before the chain: not held to it
        flows[k] = _held_flow(pixels, pixels_at(t - k), settings)
    # Also where an anchor is k back: then held twice, as the loss's sum of terms says.
    before = [flow_pixels(anchor.frame, settings) for anchor in chain.anchors]
    before += [pixels_at(p) for p in keyframes if p < t]
    return tensor, flows, [_held_flow(pixels, anchor, settings, matching=True) for anchor in before]


def _held_flow(pixels: np.ndarray, earlier: np.ndarray, settings: Settings, matching: bool = False):
    """The backward flow (1, H, W, 2) from ``pixels`` into an earlier frame (``earlier``, as
    flow_pixels gives it), and where it is reliable (1, 1, H, W); ``matching``: only where
    the contents match too (flow.matching_flow), for a frame however far back."""
    backward, reliable = reliable_flow(pixels, earlier, settings.flow_method)
    if settings.temporal_still:
        backward, reliable = with_still_pixels(pixels, earlier, backward, reliable)
    if matching:
        reliable = matching_flow(pixels, earlier, backward, reliable)
    return torch.from_numpy(backward)[None], torch.from_numpy(np.ascontiguousarray(reliable))[None, None]


def flow_pixels(frame, settings: Settings) -> np.ndarray:
    """A frame as the flows see it: RGB uint8 at the output size."""
    return np.asarray(resize_long_side(frame_image(frame), settings.size))


# Flow (pixels) under which an anchor is seen in place. Frames 1-20 apart of a still camera
# (vtest): 97-99% of the reliable pixels' flow is under 0.25 px at 192 px, 94-98% at 512,
# 88-94% at 768 (flow noise grows with size; the rest are held one term, as a moved anchor);
# the benchmark's slow pan moves 0.5 px a frame at 192 px.
IN_PLACE = 0.25


def held_target(earlier, flows: dict, device, hold: str, anchors=(), anchor_weight: float = 1.0
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """What a frame is held to, and how firmly per pixel: the results ``earlier`` (newest
    last) that ``flows`` (distance -> backward flow, reliability) reach, and ``anchors`` (the
    chain's anchors' results, oldest first, each with its flow and reliability), each warped
    into the frame. Ruder et al.'s terms sum_k c_k (x - w_k)^2 are one quadratic, (sum_k c_k)
    (x - target)^2 up to a constant, with target = sum_k c_k w_k / sum_k c_k. ``hold`` "sum"
    keeps their weight, the count of results reliable at the pixel (a still pixel is held by
    all and hardest); "average" weighs the target like one term wherever any is reliable.
    A pixel is held to the oldest anchor reliable there (a later anchor was itself held to
    the older ones there, and adds only its own departure): ``anchor_weight`` terms' worth
    where the anchor is seen in place (flow under IN_PLACE pixels: a still camera's
    background), one term where it moved (resampled, a painting is softer than a fresh one,
    and held harder a slow pan kept that softness: 3% style distance)."""
    warped = [(warp_tensor(image.to(device), flow.to(device)), reliable.to(device).float())
              for image, (flow, reliable) in [(earlier[-k], flows[k]) for k in sorted(flows)]]
    unheld = 1.0
    for image, (flow, reliable) in anchors:
        flow, reliable = flow.to(device), reliable.to(device).float() * unheld
        unheld = unheld * (1 - reliable)
        in_place = flow.norm(dim=-1)[:, None] < IN_PLACE
        warped.append((warp_tensor(image.to(device), flow), torch.where(in_place, anchor_weight, 1.0) * reliable))
    total = sum(reliable for _, reliable in warped)
    target = sum(reliable * image for image, reliable in warped) / total.clamp_min(1e-6)
    # Where none is reliable the term is off; the previous result is still where a frame starts.
    target = torch.where(total > 0, target, warped[0][0])
    return target, total if hold == "sum" else (total > 0).float()


def warp_tensor(image: torch.Tensor, displacement: torch.Tensor) -> torch.Tensor:
    """Sample images (B, C, H, W) in [0, 1] at x + displacement(x), displacement (B, H, W, 2) in
    pixels: bicubic, edges replicated. Bicubic, unlike flow.warp's bilinear: a result warped
    again every frame of a pan is low-pass filtered every time, and held hard (``held_target``)
    the blur stays (bilinear cost a slow pan 4% style distance). For tensors on the device,
    where the previous results already are (flow.warp serves the torch-free flow and metric code)."""
    _, _, height, width = image.shape
    ys, xs = torch.meshgrid(torch.arange(height, device=image.device, dtype=torch.float32),
                            torch.arange(width, device=image.device, dtype=torch.float32), indexing="ij")
    x = (xs + displacement[..., 0]) * (2 / max(width - 1, 1)) - 1
    y = (ys + displacement[..., 1]) * (2 / max(height - 1, 1)) - 1
    return F.grid_sample(image.float(), torch.stack([x, y], dim=-1), mode="bicubic", padding_mode="border",
                         align_corners=True).clamp(0, 1)
