"""Temporal chains of video frames, several advanced in lockstep on one device.

A chain is a run of consecutive frames in which each frame starts from the previous
result warped by optical flow (Ruder et al.). Chains are independent of each other
(chunks of one video, or several videos of one size), so frame t of every chain goes
into one batch: the device stays busy even at sizes where a single frame would leave it
idle. Frames and flows are read (or flows computed) on background threads ahead of the
device, and results are written on them too.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .errors import PainterlyError
from .flow import reliable_flow
from .optical_flow import flow_file, load_flow
from .io import image_to_tensor, load_image, resize_long_side, save_image
from .settings import Settings
from .style_targets import StyleTargets
from .stylize import Stylizer


@dataclass
class Chain:
    frames: list[Path]
    """The content frames, in order."""
    outputs: list[Path]
    """Where each result is written."""
    flow_dir: Path | None = None
    """Precomputed flows into each frame but the first (``optical_flow`` rule), named by
    ``first + offset``; None: computed here, on the background threads."""
    first: int = 0


def stylize_chains(stylizer: Stylizer, targets: StyleTargets, chains: list[Chain], progress: bool = True,
                   workers: int | None = None) -> None:
    """Stylize every frame of every chain; frame t of all chains that have one is one batch."""
    settings = stylizer.settings
    workers = workers or min(16, os.cpu_count() or 1)
    length = max(len(chain.frames) for chain in chains)
    with ThreadPoolExecutor(workers) as pool:
        ahead: dict[int, list[Future]] = {}
        writes, previous, previous_chains = [], None, []
        for t in tqdm(range(length), desc="frames", disable=not progress):
            for later in range(t, min(t + workers, length)):
                if later not in ahead:
                    ahead[later] = [pool.submit(_read, chain, later, settings) for chain in chains if later < len(chain.frames)]
            inputs = [future.result() for future in ahead.pop(t)]
            live = [index for index, chain in enumerate(chains) if t < len(chain.frames)]
            content = torch.stack([frame for frame, _ in inputs])
            prior = None
            if settings.temporal and t > 0:
                rows = [previous_chains.index(index) for index in live]
                flows = torch.stack([flow for _, (flow, _) in inputs]).to(stylizer.device)
                reliable = torch.stack([mask for _, (_, mask) in inputs]).to(stylizer.device)
                prior = (warp_tensor(previous[rows], flows), reliable)
            previous = torch.cat([r.image for r in stylizer.stylize_batch(content, targets, previous=prior)])
            previous_chains = live
            host = previous.float().cpu()
            for row, index in enumerate(live):
                writes.append(pool.submit(save_image, host[row : row + 1], chains[index].outputs[t]))
        for write in writes:
            write.result()


def _read(chain: Chain, t: int, settings: Settings):
    """Frame t of a chain as a tensor (3, H, W) at the output size, and (temporal, t > 0) the
    backward flow into it (H, W, 2) with its reliability mask (1, H, W)."""
    frame = resize_long_side(load_image(chain.frames[t]), settings.size)
    tensor = image_to_tensor(frame)[0]
    if not settings.temporal or t == 0:
        return tensor, None
    if chain.flow_dir is not None:
        backward, reliable = load_flow(flow_file(chain.flow_dir, chain.first + t))
    else:
        before = resize_long_side(load_image(chain.frames[t - 1]), settings.size)
        backward, reliable = reliable_flow(np.asarray(frame), np.asarray(before), settings.flow_method)
    if backward.shape[:2] != tuple(tensor.shape[-2:]):
        raise PainterlyError(f"{chain.frames[t]}: its flow is {backward.shape[1]}x{backward.shape[0]}, the frame "
                             f"{tensor.shape[-1]}x{tensor.shape[-2]}; rerun optical_flow")
    return tensor, (torch.from_numpy(backward), torch.from_numpy(np.ascontiguousarray(reliable))[None])


def warp_tensor(image: torch.Tensor, displacement: torch.Tensor) -> torch.Tensor:
    """Sample images (B, C, H, W) at x + displacement(x), displacement (B, H, W, 2) in pixels:
    bilinear, edges replicated. flow.warp's twin for tensors on the device, where the
    previous results already are (flow.warp serves the torch-free flow and metric code)."""
    _, _, height, width = image.shape
    ys, xs = torch.meshgrid(torch.arange(height, device=image.device, dtype=torch.float32),
                            torch.arange(width, device=image.device, dtype=torch.float32), indexing="ij")
    x = (xs + displacement[..., 0]) * (2 / max(width - 1, 1)) - 1
    y = (ys + displacement[..., 1]) * (2 / max(height - 1, 1)) - 1
    return F.grid_sample(image.float(), torch.stack([x, y], dim=-1), mode="bilinear", padding_mode="border",
                         align_corners=True)
