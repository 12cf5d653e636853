"""Every knob of a stylization, with its default: the one place the CLI and workflow read them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .errors import PainterlyError

# The seed report's layers, in its Keras naming (post-ReLU; see painterly.vgg).
CONTENT_LAYER = "block5_conv2"
STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")


@dataclass(frozen=True)
class Settings:
    size: int = 512
    """Long side of the output in pixels."""
    iterations: int = 300
    """Optimizer iterations summed over the coarse-to-fine pyramid."""
    optimizer: str = "lbfgs"
    lr: float | None = None
    """Step size; None means 1.0 for L-BFGS and 0.02 for Adam (pixels in [0, 1])."""
    init: str = "content"
    """content, noise, or the path of an image."""
    content_weight: float = 1.0
    style_weight: float = 3.0
    tv_weight: float = 1.0
    content_layer: str = CONTENT_LAYER
    style_layers: tuple[str, ...] = STYLE_LAYERS
    style_layer_weights: tuple[float, ...] | None = None
    """Relative weight per style layer; None means equal."""
    style_blend: tuple[float, ...] | None = None
    """Relative weight per style image; None means equal."""
    style_scale: float = 1.0
    """Style image long side as a multiple of the content's."""
    preserve_colors: bool = False
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    """fp32, or bf16 autocast on CUDA."""
    weights: str = "caffe"
    pooling: str = "max"
    pyramid_min_size: int = 128
    """The coarsest pyramid level's long side; halving stops before going below it."""
    tolerance: float = 1e-3
    """Early stop when the loss fell by less than this fraction over the last 10 iterations."""
    temporal: bool = True
    """Video: start each frame from the previous result warped by optical flow, and keep it
    close to that where the flow is reliable (Ruder et al.). False: frames independent."""
    temporal_weight: float = 50.0
    """gamma: weight of the temporal term, mean squared difference on reliable pixels."""
    frame_iterations: int = 40
    """Video, temporal mode: iterations for each frame after a chunk's first (which gets
    ``iterations``); they start from the warped previous result at full size."""
    flow_method: str = "dis"
    """dis, farneback, or the path of a local torchvision RAFT (small or large) state dict."""

    def __post_init__(self):
        choices = {
            "optimizer": ("lbfgs", "adam"),
            "precision": ("fp32", "bf16"),
            "pooling": ("max", "avg"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise PainterlyError(f"{name} {getattr(self, name)!r} is not one of {', '.join(allowed)}")
        if self.flow_method not in ("dis", "farneback") and not self.flow_method.endswith((".pth", ".pt")):
            raise PainterlyError(f"flow_method {self.flow_method!r}: use dis, farneback, or a RAFT weights .pth file")
        for name in ("size", "iterations", "pyramid_min_size", "frame_iterations"):
            if getattr(self, name) < 1:
                raise PainterlyError(f"{name} must be a positive whole number, not {getattr(self, name)}")
        for name in ("content_weight", "style_weight", "tv_weight", "style_scale", "tolerance", "temporal_weight"):
            if not getattr(self, name) >= 0:
                raise PainterlyError(f"{name} must be >= 0, not {getattr(self, name)}")

    @classmethod
    def from_dict(cls, values: dict) -> "Settings":
        """Settings from JSON-like values (lists for tuples); unknown keys are an error."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - fields)
        if unknown:
            raise PainterlyError(f"unknown setting {unknown[0]!r}; known: {', '.join(sorted(fields))}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)

    @property
    def step_size(self) -> float:
        if self.lr is not None:
            return self.lr
        return 1.0 if self.optimizer == "lbfgs" else 0.02

    def pyramid_sizes(self) -> list[int]:
        """Long sides from coarse to fine, halving from ``size`` while >= ``pyramid_min_size``."""
        sizes = [self.size]
        while sizes[0] // 2 >= self.pyramid_min_size:
            sizes.insert(0, sizes[0] // 2)
        return sizes

    def iteration_schedule(self) -> list[int]:
        """Iterations per pyramid level: each finer level gets half of the one before, so most
        iterations run on few pixels and the finest level refines an upsampled result."""
        levels = len(self.pyramid_sizes())
        shares = [2.0 ** (levels - 1 - k) for k in range(levels)]
        counts = [max(1, int(self.iterations * s / sum(shares))) for s in shares]
        counts[0] += self.iterations - sum(counts)
        return counts
