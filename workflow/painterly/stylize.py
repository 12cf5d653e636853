"""The optimization: coarse-to-fine Gatys style transfer with L-BFGS or Adam."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import color
from .device import configure, resolve_device
from .errors import PainterlyError
from .io import fit_long_side, image_to_tensor, load_image, resize_long_side
from .losses import Objective
from .settings import Settings
from .style_targets import StyleTargets, compute_style_targets
from .vgg import VGGFeatures, load_vgg

EARLY_STOP_WINDOW = 10


@dataclass
class Stylized:
    image: torch.Tensor
    """RGB (1, 3, H, W) in [0, 1], on the CPU."""
    losses: list[list[float]]
    """The loss after every iteration, one list per pyramid level."""


def network_for(settings: Settings) -> VGGFeatures:
    layers = (settings.content_layer, *settings.style_layers)
    return load_vgg(settings.weights, layers, settings.pooling)


def style_layer_weights(settings: Settings) -> dict[str, float]:
    weights = settings.style_layer_weights or (1.0,) * len(settings.style_layers)
    if len(weights) != len(settings.style_layers) or sum(weights) <= 0:
        raise PainterlyError(
            f"--style-layer-weights needs {len(settings.style_layers)} weights, one per style layer, got {list(weights)}"
        )
    return {layer: w / sum(weights) for layer, w in zip(settings.style_layers, weights)}


class Stylizer:
    """A loaded network on a device, ready to stylize many images with one settings object.

    Keeping it alive across frames is what makes per-frame work cheap: the network is
    loaded and moved to the device once.
    """

    def __init__(self, settings: Settings, vgg: VGGFeatures | None = None):
        self.settings = settings
        self.device = resolve_device(settings.device)
        configure(self.device)
        self.vgg = (vgg or network_for(settings)).to(self.device)
        self.channels_last = self.device.type == "cuda"
        if self.channels_last:
            self.vgg = self.vgg.to(memory_format=torch.channels_last)
        self.layer_weights = style_layer_weights(settings)

    def _autocast(self):
        if self.settings.precision == "bf16" and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        tensor = tensor.to(self.device)
        return tensor.contiguous(memory_format=torch.channels_last) if self.channels_last else tensor

    def targets(self, styles, names=()) -> StyleTargets:
        with self._autocast():
            return compute_style_targets(self.vgg, styles, self.settings, self.device, names)

    def initial_image(self, content: torch.Tensor) -> torch.Tensor:
        init = self.settings.init
        if init == "content":
            return content.clone()
        if init == "noise":
            generator = torch.Generator().manual_seed(self.settings.seed)
            return torch.rand(content.shape, generator=generator).to(content)
        image = image_to_tensor(load_image(init).resize((content.shape[-1], content.shape[-2])))
        return self._to_device(image)

    def stylize(self, content_image, targets: StyleTargets, progress: bool = True, previous=None) -> Stylized:
        """Stylize a PIL content image at ``settings.size``.

        ``previous`` (video, temporal mode) is (warped previous result, reliability mask),
        tensors (1, 3, H, W) and (1, 1, H, W) at the output size: the optimization then
        starts from the warped result (the content where the flow is unreliable), runs
        ``frame_iterations`` at full size only, and adds the temporal term.
        """
        settings = self.settings
        targets.check(settings)
        torch.manual_seed(settings.seed)
        content = self._to_device(image_to_tensor(resize_long_side(content_image, settings.size)))
        work_content = color.luminance(content) if settings.preserve_colors else content
        sizes, schedule, image, temporal = settings.pyramid_sizes(), settings.iteration_schedule(), None, None
        if previous is not None:
            warped, reliable = (self._to_device(t) for t in previous)
            if settings.preserve_colors:
                warped = color.luminance(warped)
            sizes, schedule, temporal = sizes[-1:], [settings.frame_iterations], (warped, reliable)
            image = reliable * warped + (1 - reliable) * work_content
        losses = []
        bar = tqdm(total=sum(schedule), desc="stylize", unit="it", disable=not progress, leave=False)
        with bar:
            for size, iterations in zip(sizes, schedule):
                width, height = fit_long_side((content.shape[-1], content.shape[-2]), size)
                level_content = _resize(work_content, height, width)
                image = self.initial_image(level_content) if image is None else _resize(image, height, width)
                objective = Objective(
                    self.vgg,
                    level_content,
                    targets.at(size, self.device),
                    settings.content_layer,
                    self.layer_weights,
                    settings.content_weight,
                    settings.style_weight,
                    settings.tv_weight,
                    temporal,
                    settings.temporal_weight,
                )
                image, level_losses = self._optimize(image, objective, iterations, bar)
                losses.append(level_losses)
        result = image.detach().clamp(0, 1)
        if settings.preserve_colors:
            result = color.with_chroma_of(result, content)
        return Stylized(result.float().contiguous().cpu(), losses)

    def _optimize(self, image: torch.Tensor, objective: Objective, iterations: int, bar):
        settings = self.settings
        # Plain contiguous layout: L-BFGS flattens the gradient with view(-1).
        image = image.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
        height, width = image.shape[-2:]
        if settings.optimizer == "lbfgs":
            # One iteration per step() so we can report, check and stop early between them;
            # L-BFGS keeps its curvature history across calls. Tolerances are ours, relative.
            optimizer = torch.optim.LBFGS(
                [image], lr=settings.step_size, max_iter=1, history_size=50, tolerance_grad=0, tolerance_change=0
            )
        else:
            optimizer = torch.optim.Adam([image], lr=settings.step_size)
        losses: list[float] = []

        def closure():
            optimizer.zero_grad(set_to_none=True)
            with self._autocast():
                total, _ = objective(image)
            total.backward()
            return total.detach()

        try:
            for _ in range(iterations):
                loss = float(optimizer.step(closure))
                if not math.isfinite(loss):
                    raise PainterlyError(
                        f"the loss became {loss} at {width}x{height} after {len(losses)} iterations; "
                        "lower --style-weight or --lr, or use --optimizer adam"
                    )
                if settings.optimizer == "adam":
                    with torch.no_grad():
                        image.clamp_(0, 1)
                losses.append(loss)
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4g}", size=f"{width}x{height}", refresh=False)
                if _converged(losses, settings.tolerance):
                    bar.update(iterations - len(losses))
                    break
        except torch.cuda.OutOfMemoryError:
            raise PainterlyError(
                f"out of GPU memory stylizing {width}x{height} on {self.device}; lower --size (now {settings.size}) "
                "or use --precision bf16"
            ) from None
        return image.detach(), losses


def _converged(losses: list[float], tolerance: float) -> bool:
    if len(losses) <= EARLY_STOP_WINDOW or tolerance <= 0:
        return False
    before, now = losses[-EARLY_STOP_WINDOW - 1], losses[-1]
    return (before - now) <= tolerance * abs(now)


def _resize(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    if tuple(image.shape[-2:]) == (height, width):
        return image
    return F.interpolate(image, size=(height, width), mode="bilinear", align_corners=False, antialias=True)
