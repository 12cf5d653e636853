"""Optical flow between video frames, its reliability, and warping (after Ruder et al. 2016).

Conventions: frames are RGB uint8 arrays (H, W, 3). ``flow(a, b)`` gives, for every pixel x
of frame a, the displacement w(x) with a(x) ~ b(x + w(x)). ``warp(b, w)`` pulls frame b
into frame a's pixel grid: warp(b, w)(x) = b(x + w(x)).
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import cv2
import numpy as np

from ..engine.settings import FLOW_METHODS
from ..errors import PainterlyError


def _gray(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def flow(a: np.ndarray, b: np.ndarray, method: str = "dis") -> np.ndarray:
    """Dense flow (H, W, 2) float32 from frame ``a`` to frame ``b``.

    ``method``: ``dis`` (OpenCV DIS, default), ``farneback``, or the path of a local
    torchvision RAFT state dict (raft_small or raft_large weights; never downloaded).
    """
    if method.endswith((".pth", ".pt")):
        return _raft_flow(a, b, method)
    if method == "dis":
        solver = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        return solver.calc(_gray(a), _gray(b), None)
    if method == "farneback":
        return cv2.calcOpticalFlowFarneback(_gray(a), _gray(b), None, 0.5, 4, 15, 3, 5, 1.2, 0)
    raise PainterlyError(f"unknown flow method {method!r}; use {', '.join(FLOW_METHODS)} or a RAFT .pth file")


# torchvision's RAFT keeps each call's correlation pyramid on the module, so two threads
# running the one cached model at once mix their pyramids (a stylize job computes flows on
# several threads): one call at a time (each already uses torch's intra-op threads).
_RAFT_LOCK = threading.Lock()


@functools.lru_cache(maxsize=2)
def _raft(path: str):
    import torch
    from torchvision.models.optical_flow import raft_large, raft_small

    if not Path(path).is_file():
        raise PainterlyError(f"{path}: RAFT weights file not found; give a raft_small/raft_large .pth or use dis")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        raise PainterlyError(f"{path}: not a loadable state dict; save one with torch.save(model.state_dict())") from None
    for build in (raft_small, raft_large):
        model = build(weights=None)
        try:
            model.load_state_dict(state)
        except (RuntimeError, TypeError, AttributeError):
            continue
        return model.eval()
    raise PainterlyError(f"{path}: not a torchvision RAFT state dict (raft_small or raft_large); use dis")


def _raft_flow(a: np.ndarray, b: np.ndarray, path: str) -> np.ndarray:
    """RAFT on frames resized to multiples of 8 and at least 128 px (its minimum), flow scaled back."""
    import torch
    import torch.nn.functional as F

    height, width = a.shape[:2]
    size = (max(128, -(-height // 8) * 8), max(128, -(-width // 8) * 8))

    def prepare(frame):
        tensor = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 127.5 - 1
        return F.interpolate(tensor, size=size, mode="bilinear", align_corners=False)

    with torch.no_grad(), _RAFT_LOCK:
        estimate = _raft(path)(prepare(a), prepare(b))[-1]
    estimate = F.interpolate(estimate, size=(height, width), mode="bilinear", align_corners=False)[0]
    estimate[0] *= width / size[1]
    estimate[1] *= height / size[0]
    return np.ascontiguousarray(estimate.permute(1, 2, 0).numpy(), dtype=np.float32)


def warp(image: np.ndarray, displacement: np.ndarray) -> np.ndarray:
    """Sample ``image`` at x + displacement(x) (bilinear, edges replicated)."""
    height, width = displacement.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(image, grid_x + displacement[..., 0], grid_y + displacement[..., 1],
                     interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def reliability(flow_ab: np.ndarray, flow_ba: np.ndarray) -> np.ndarray:
    """1.0 where a's pixel is reliably seen in b, 0.0 where not (Ruder et al., eq. 3-4).

    Unreliable: the forward-backward check fails (|w~ + w^|^2 > 0.01(|w~|^2 + |w^|^2) + 0.5,
    a disocclusion), or a motion boundary (|grad u|^2 + |grad v|^2 > 0.01|w^|^2 + 0.002).
    Here w^ = flow_ab and w~ = flow_ba carried back to a's grid.
    """
    w_hat = flow_ab
    w_tilde = warp(flow_ba, flow_ab)
    disoccluded = ((w_tilde + w_hat) ** 2).sum(-1) > 0.01 * ((w_tilde**2).sum(-1) + (w_hat**2).sum(-1)) + 0.5
    du_y, du_x = np.gradient(w_hat[..., 0])
    dv_y, dv_x = np.gradient(w_hat[..., 1])
    boundary = du_x**2 + du_y**2 + dv_x**2 + dv_y**2 > 0.01 * (w_hat**2).sum(-1) + 0.002
    return (~(disoccluded | boundary)).astype(np.float32)


def reliable_flow(a: np.ndarray, b: np.ndarray, method: str = "dis") -> tuple[np.ndarray, np.ndarray]:
    """The flow a -> b and, on a's grid, where it is reliable (both directions are computed).

    Frame t needs ``reliable_flow(frame_t, frame_t-1)`` to pull in the previous result.
    """
    forward = flow(a, b, method)
    return forward, reliability(forward, flow(b, a, method))


# Where a pixel stands still (with_still_pixels): the window its neighbourhood is compared
# in (px at the output size); the mean squared RGB difference (0-1 scale, summed over the
# channels) below which the frames agree there (compression noise, not change); and by how
# much the flow's match must be worse: over twice the still one's and by this much more, so
# that ties (a flat area, where a pan's flow fits as well as none; a flat-shaded moving
# shape, which matches itself either way) keep the flow.
STILL_WINDOW = 7
STILL_ERROR = 0.002
STILL_MARGIN = 0.0001


def with_still_pixels(a: np.ndarray, b: np.ndarray, flow_ab: np.ndarray, reliable: np.ndarray):
    """``flow_ab`` and its reliability with still pixels set to zero flow and reliable: those
    whose neighbourhood in frame ``a`` matches frame ``b`` at the same place within noise,
    and at most half as far off as where the flow points. DIS estimates flow on overlapping
    patches, so a moving thing's motion spreads over the still background beside it, which
    was then warped along (or marked unreliable) and repainted every frame it passed."""
    a, b = a.astype(np.float32) / 255, b.astype(np.float32) / 255
    still_error = _mismatch(a, b)
    still = (still_error < STILL_ERROR) & (_mismatch(a, warp(b, flow_ab)) > 2 * still_error + STILL_MARGIN)
    return np.where(still[..., None], 0, flow_ab).astype(np.float32), np.where(still, 1, reliable).astype(np.float32)


def _mismatch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How far two frames (float, 0-1) differ around each pixel: the squared RGB difference,
    summed over the channels, averaged over STILL_WINDOW."""
    return cv2.boxFilter(((a - b) ** 2).sum(-1), -1, (STILL_WINDOW, STILL_WINDOW))


# Where a far frame's content, warped by the flow, still matches (matching_flow): the mean
# squared RGB difference (0-1 scale, summed over the channels, in STILL_WINDOW) above which
# the flow is taken to point at something else (about 15 levels a channel).
MATCH_ERROR = 0.01


def matching_flow(a: np.ndarray, b: np.ndarray, flow_ab: np.ndarray, reliable: np.ndarray) -> np.ndarray:
    """``reliable`` where also frame ``a``'s neighbourhood matches frame ``b`` where ``flow_ab``
    points. The forward-backward check passes a flow both directions agree on, and across
    many frames of fast motion DIS can agree on a wrong one: held there, a frame was pulled
    towards another thing's painting."""
    a, b = a.astype(np.float32) / 255, b.astype(np.float32) / 255
    return np.where(_mismatch(a, warp(b, flow_ab)) < MATCH_ERROR, reliable, 0).astype(np.float32)
