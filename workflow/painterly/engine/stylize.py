"""The optimization: coarse-to-fine Gatys style transfer with L-BFGS or Adam."""

from __future__ import annotations

import contextlib
import functools
import gc
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..errors import PainterlyError
from ..media.io import fit_long_side, image_to_tensor, load_image, resize_long_side
from . import color
from .device import configure, resolve_device
from .lbfgs import BatchLBFGS
from .losses import Objective
from .settings import Settings
from .style_targets import StyleTargets, compute_style_targets
from .vgg import VGGFeatures, load_vgg

EARLY_STOP_WINDOW = 10
# The host reads the losses (NaN check, "all converged?") once per this many iterations;
# between reads it queues work without waiting for the device.
CHECK_EVERY = 10
LBFGS_HISTORY = 50
# A level whose last loss is this many times the lowest it reached has diverged: a fixed
# step without a line search, from an unlucky start, can climb and not come back (and the
# early stop, which sees no fall, then freezes it there). It delivers its best iterate.
DIVERGED = 1.5


@dataclass
class Stylized:
    image: torch.Tensor
    """RGB (1, 3, H, W) in [0, 1]: on the CPU from ``stylize``, on the device from ``stylize_batch``."""
    losses: list[list[float]]
    """The loss after every iteration, one list per pyramid level (and per restart of a
    chain's first frame, video.chains)."""


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
    loaded and moved to the device once, and (video) the optimization state of a frame
    size is kept too: on CUDA each iteration of a later frame is captured once as a CUDA
    graph and replayed for every frame after it.
    """

    def __init__(self, settings: Settings, vgg: VGGFeatures | None = None, cuda_graphs: bool = True,
                 compiled: bool = False):
        self.settings = settings
        self.device = resolve_device(settings.device)
        configure(self.device, settings.deterministic)
        self.channels_last = self.device.type == "cuda"
        layout = torch.channels_last if self.channels_last else torch.contiguous_format
        self.vgg = (vgg or network_for(settings)).to(self.device, memory_format=layout)
        self.layer_weights = style_layer_weights(settings)
        self.cuda_graphs = cuda_graphs and self.device.type == "cuda" and settings.optimizer == "lbfgs"
        self.bf16 = settings.precision == "bf16" and self.device.type == "cuda"
        # torch.compile fuses what surrounds the convolutions (bias, ReLU and their gradients,
        # Gram and loss epilogues). Asked for only: on an H200 it made later frames 1.32x
        # faster (fp32, one chain) but compiling took 160 s per process and variant, more than
        # a chunk of a few thousand frames gains (benchmarks/RESULTS.md, GPU section).
        self.compiled = compiled
        self._compile_worked = False
        self._levels: dict[tuple, _Level] = {}

    def autocast(self):
        return _autocast(self.device, self.bf16)

    def loss_and_gradient(self, objective: Objective, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each problem's total loss (B,) and the gradient of their sum with respect to ``image``:
        through the compiled objective, or eagerly where compiling is off or failed."""
        if self.compiled:
            try:
                total = _compiled_total()(objective, image, self.bf16)
                grad = torch.autograd.grad(total.sum(), image)[0]
                self._compile_worked = True
                return total, grad
            except (torch.cuda.OutOfMemoryError, PainterlyError):
                raise
            except Exception as error:  # a platform torch.compile does not support: same math, eagerly
                if self._compile_worked:
                    raise
                warnings.warn(f"torch.compile failed ({_first_line(error)}); running the objective eagerly")
                self.compiled = False
        total = _objective_total(objective, image, self.bf16)
        return total, torch.autograd.grad(total.sum(), image)[0]

    def _to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        tensor = tensor.to(self.device)
        return tensor.contiguous(memory_format=torch.channels_last) if self.channels_last else tensor

    def targets(self, styles, names=()) -> StyleTargets:
        with self.autocast():
            return compute_style_targets(self.vgg, styles, self.settings, self.device, names)

    def initial_image(self, content: torch.Tensor) -> torch.Tensor:
        init = self.settings.init
        if init == "content":
            return content.clone()
        if init == "noise":
            generator = torch.Generator().manual_seed(self.settings.seed)
            return torch.rand(content.shape, generator=generator).to(content)
        image = image_to_tensor(load_image(init).resize((content.shape[-1], content.shape[-2])))
        return self._to_device(image).expand_as(content)

    def stylize(self, content_image, targets: StyleTargets, progress: bool = True, previous=None) -> Stylized:
        """Stylize a PIL content image at ``settings.size``; the result is on the CPU.

        ``previous`` is as for ``stylize_batch``, for a batch of one.
        """
        content = image_to_tensor(resize_long_side(content_image, self.settings.size))
        (result,) = self.stylize_batch(content, targets, progress, previous)
        return Stylized(result.image.float().cpu(), result.losses)

    def stylize_batch(self, content: torch.Tensor, targets: StyleTargets, progress: bool = False,
                      previous=None, start: torch.Tensor | None = None) -> list[Stylized]:
        """Stylize a batch of content images (B, 3, H, W) in [0, 1]: B independent problems
        (one frame of each of B video chains) that share every kernel launch.

        ``previous`` (video, temporal mode) is (what each frame is held to: earlier results
        warped into it, per-pixel weights of that hold, 0 where no flow is reliable),
        (B, 3, H, W) and (B, 1, H, W) at the content's size: the optimization then starts
        from the held image (the content where the weight is 0), runs ``frame_iterations``
        at full size only, and adds the temporal term. ``start`` (B, 3, H, W): run
        ``frame_iterations`` at full size from these images instead, without a temporal term.
        """
        try:
            return self._stylize_batch(content, targets, progress, previous, start)
        except torch.cuda.OutOfMemoryError:
            # The optimization loop retries with checkpointing itself; what lands here ran
            # out before it (the objective's no-grad forwards of content and targets), where
            # recomputing activations would not help.
            pass
        # Outside the except block, so the failed attempt's tensors are already freed.
        raise self.out_of_memory(content.shape[-1], content.shape[-2])

    def _stylize_batch(self, content: torch.Tensor, targets: StyleTargets, progress: bool, previous,
                       start) -> list[Stylized]:
        settings = self.settings
        targets.check(settings)
        torch.manual_seed(settings.seed)
        content = self._to_device(content)
        work_content = color.luminance(content) if settings.preserve_colors else content
        sizes, schedule, image, temporal = settings.pyramid_sizes(), settings.iteration_schedule(), None, None
        if previous is not None:
            held, weight = (self._to_device(t) for t in previous)
            if settings.preserve_colors:
                held = color.luminance(held)
            sizes, schedule, temporal = sizes[-1:], [settings.frame_iterations], (held, weight)
            # Where no earlier result is reliable (uncovered, or just come into view) the frame
            # starts from the photo shifted to the painting's colours: from the photo as it is, 20
            # iterations left those pixels nearer the photo than the painting around them, and
            # they flickered (benchmarks/RESULTS.md, "Uncovered pixels start in the painting's colours").
            image = torch.where(weight > 0, held, color.mean_matched(work_content, held, weight > 0))
        elif start is not None:
            image = self._to_device(start)
            if settings.preserve_colors:
                image = color.luminance(image)
            sizes, schedule = sizes[-1:], [settings.frame_iterations]
        losses = [[] for _ in range(content.shape[0])]
        bar = tqdm(total=sum(schedule), desc="stylize", unit="it", disable=not progress, leave=False)
        with bar:
            for size, iterations in zip(sizes, schedule):
                width, height = fit_long_side((content.shape[-1], content.shape[-2]), size)
                level_content = _resize(work_content, height, width)
                image = self.initial_image(level_content) if image is None else _resize(image, height, width)
                level = self._level(level_content, targets.at(size, self.device), temporal, image, iterations)
                image, level_losses = level.run(bar)
                for chain, chain_losses in zip(losses, level_losses):
                    chain.append(chain_losses)
        result = image.clamp(0, 1)
        if settings.preserve_colors:
            result = color.with_chroma_of(result, content)
        return [Stylized(result[b : b + 1], chain_losses) for b, chain_losses in enumerate(losses)]

    def _objective(self, content, style_grams, temporal) -> Objective:
        settings = self.settings
        return Objective(
            self.vgg, content, style_grams, settings.content_layer, self.layer_weights, settings.content_weight,
            settings.style_weight, settings.tv_weight, temporal, settings.temporal_weight,
        )

    def _level(self, content, style_grams, temporal, image, iterations) -> "_Level":
        """A level ready to run from ``image``. A video's later frames all have one shape and
        budget, and so does each pyramid level of every shot's first frame: their levels are
        kept and refilled, so their CUDA graphs are captured once and replayed. Without graphs
        only the later frames' level is kept (the others would only hold memory)."""
        if temporal is None and not self.cuda_graphs:
            return _Level(self, self._objective(content, style_grams, None), image, iterations)
        if temporal is None:
            # A first frame's temporal term over no reliable pixel: exactly zero, and the same
            # objective as a later frame's, so one compiled function serves both.
            temporal = (torch.zeros_like(content), torch.zeros_like(content[:, :1]))
        key = (tuple(image.shape), iterations)
        level = self._levels.get(key)
        if level is None:
            level = self._levels[key] = _Level(self, self._objective(content, style_grams, temporal), image, iterations)
            level.graphs = [] if self.cuda_graphs else None
        else:
            level.restart(content, style_grams, temporal, image)
        return level

    def use_checkpointing(self, width: int, height: int) -> None:
        """After a CUDA out-of-memory: recompute activations in the backward pass instead."""
        if self.vgg.checkpointing:
            raise self.out_of_memory(width, height, ", even recomputing activations")
        warnings.warn(f"{width}x{height} does not fit in GPU memory as is; recomputing activations in the backward "
                      "pass (about a third slower)")
        self._levels.clear()
        torch.cuda.empty_cache()
        self.vgg.checkpointing = True

    def out_of_memory(self, width: int, height: int, detail: str = "") -> PainterlyError:
        """The one-line error for a size that does not fit in GPU memory, naming what to lower."""
        remedy = f"lower --size (now {self.settings.size})"
        if self.settings.precision == "fp32":
            remedy += " or use --precision bf16"
        return PainterlyError(f"out of GPU memory stylizing {width}x{height} on {self.device}{detail}; {remedy}")


@contextlib.contextmanager
def _collector_paused():
    """No garbage collection while a graph is captured: a collection can free an earlier
    stylizer's graphs (levels and stylizer refer to each other, so only the collector frees
    them), and destroying a graph mid-capture is an illegal call that voids the capture
    (seen on an H200: the next shot ran without graphs)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Level:
    """One pyramid level's optimization of a batch, in tensors that stay put.

    The image being optimized, the optimizer's state and the loss record live in fixed
    tensors, so the same level can be refilled with the next frame and, on CUDA, each of
    its iterations captured once as a graph and replayed (``graphs`` is then a list).
    Early stop and the NaN check are decided on the device: a converged problem stops
    moving at once, and the host looks only every ``CHECK_EVERY`` iterations. Each problem's
    best iterate is kept on the device too, for a problem that diverges (DIVERGED).
    """

    def __init__(self, stylizer: Stylizer, objective: Objective, image: torch.Tensor, iterations: int):
        settings = stylizer.settings
        self.stylizer, self.objective, self.iterations = stylizer, objective, iterations
        self.start = image
        # Plain contiguous layout: the optimizer flattens the image per problem.
        self.x = image.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
        batch = image.shape[0]
        if settings.optimizer == "lbfgs":
            self.optimizer = BatchLBFGS(self.x, settings.step_size, min(LBFGS_HISTORY, iterations))
        else:
            self.optimizer = _Adam(self.x, settings.step_size)
        self.losses = torch.zeros(iterations, batch, device=image.device)
        # Each problem's lowest loss so far and the image that had it (the guard against divergence).
        self.best, self.best_loss = image.detach().clone(), torch.full((batch,), torch.inf, device=image.device)
        self.active = torch.ones(batch, dtype=torch.bool, device=image.device)
        self.lengths = torch.zeros(batch, dtype=torch.long, device=image.device)
        self.graphs: list | None = None
        self.pool = None

    @torch.no_grad()
    def restart(self, content, style_grams, temporal, image) -> None:
        self.objective.refill(content, style_grams, temporal)
        self.start = image
        self.x.copy_(image)
        self.best.copy_(image)
        self.best_loss.fill_(torch.inf)
        self.optimizer.restart()
        self.active.fill_(True)
        self.lengths.zero_()

    def iteration(self, k: int) -> None:
        total, grad = self.stylizer.loss_and_gradient(self.objective, self.x)
        with torch.no_grad():
            total = total.detach().float()
            self.losses[k].copy_(total)
            self.lengths.add_(self.active)
            better = total < self.best_loss
            self.best_loss.copy_(torch.where(better, total, self.best_loss))
            self.best.copy_(torch.where(better.view(-1, 1, 1, 1), self.x, self.best))
            self.optimizer.step(self.x, grad, self.active, k)
            tolerance = self.stylizer.settings.tolerance
            if tolerance > 0 and k >= EARLY_STOP_WINDOW:
                fell = self.losses[k - EARLY_STOP_WINDOW] - total
                self.active &= fell > tolerance * total.abs()

    def _replay(self, k: int) -> None:
        """Iteration k as a CUDA graph: captured on the frame after the level's first (whose
        eager run, on a side stream, warmed up cuDNN and the allocator), then replayed."""
        if k == len(self.graphs):
            graph = torch.cuda.CUDAGraph()
            self.pool = self.pool or torch.cuda.graph_pool_handle()
            with _collector_paused(), torch.cuda.graph(graph, pool=self.pool):
                self.iteration(k)
            self.graphs.append(graph)
        self.graphs[k].replay()

    def _step(self, k: int, replay: bool) -> None:
        if replay and self.graphs is not None:
            try:
                return self._replay(k)
            except torch.cuda.OutOfMemoryError:
                raise
            except RuntimeError as error:  # capturing failed (nothing ran): the same iteration, uncaptured
                if k < len(self.graphs):
                    raise
                warnings.warn(f"capturing a CUDA graph failed ({_first_line(error)}); running without graphs")
                self.graphs, self.stylizer.cuda_graphs = None, False
        self.iteration(k)

    def run(self, bar) -> tuple[torch.Tensor, list[list[float]]]:
        """Optimize; return the image (B, 3, H, W) and each problem's losses until it stopped."""
        width, height = self.x.shape[-1], self.x.shape[-2]
        replay = self.graphs is not None and self.pool is not None
        side = torch.cuda.Stream(self.x.device) if self.graphs is not None and not replay else None
        try:
            with torch.cuda.stream(side) if side is not None else contextlib.nullcontext():
                if side is not None:
                    side.wait_stream(torch.cuda.current_stream(self.x.device))
                losses = self._iterate(bar, replay, width, height)
            if side is not None:
                torch.cuda.current_stream(self.x.device).wait_stream(side)
                self.pool = torch.cuda.graph_pool_handle()  # warmed up: later frames capture
            return self._delivered(losses, width, height), losses
        except torch.cuda.OutOfMemoryError:
            pass
        # Outside the except block, so the failed attempt's tensors are already freed.
        self.stylizer.use_checkpointing(width, height)
        return _Level(self.stylizer, self.objective, self.start, self.iterations).run(bar)

    def _delivered(self, losses: list[list[float]], width: int, height: int) -> torch.Tensor:
        """The optimized images; a problem that diverged (DIVERGED) gets its best iterate."""
        image = self.x.detach().clone()
        for b, curve in enumerate(losses):
            if curve and curve[-1] > DIVERGED * min(curve):
                warnings.warn(f"the optimization diverged at {width}x{height} (loss {curve[-1]:.4g}, lowest "
                              f"{min(curve):.4g}): kept its best iterate; a lower --lr steadies it")
                image[b] = self.best[b]
        return image

    def _iterate(self, bar, replay: bool, width: int, height: int) -> list[list[float]]:
        reported = 0
        for k in range(self.iterations):
            self._step(k, replay)
            if (k + 1) % CHECK_EVERY and k + 1 < self.iterations:
                continue
            losses, active = self.losses[: k + 1].cpu(), self.active.cpu()
            bar.update(k + 1 - reported)
            reported = k + 1
            bad = (~torch.isfinite(losses)).nonzero()
            if len(bad):
                raise PainterlyError(
                    f"the loss became {float(losses[tuple(bad[0])])} at {width}x{height} after {int(bad[0][0])} "
                    "iterations; lower --style-weight or --lr, or use --optimizer adam"
                )
            bar.set_postfix(loss=f"{float(losses[-1].mean()):.4g}", size=f"{width}x{height}", refresh=False)
            if not bool(active.any()):
                break
        bar.update(self.iterations - reported)
        lengths = self.lengths.tolist()
        return [losses[:length, b].tolist() for b, length in enumerate(lengths)]


class _Adam:
    """torch's Adam behind BatchLBFGS's interface: pixels kept in [0, 1], stopped problems frozen."""

    def __init__(self, x: torch.Tensor, lr: float):
        self.x, self.lr = x, lr
        self.restart()

    def restart(self) -> None:
        self.adam = torch.optim.Adam([self.x], lr=self.lr)

    def step(self, x: torch.Tensor, grad: torch.Tensor, active: torch.Tensor, iteration: int) -> None:
        before = x.detach().clone()
        x.grad = grad
        self.adam.step()
        x.grad = None
        x.clamp_(0, 1)
        x.copy_(torch.where(active.view(-1, 1, 1, 1), x, before))


def _autocast(device: torch.device, bf16: bool):
    """bf16 autocast where asked (Grams stay fp32, losses.py); no weight-cast cache: it would
    hold tensors across CUDA graph captures."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16, cache_enabled=False)


def _objective_total(objective: Objective, image: torch.Tensor, bf16: bool) -> torch.Tensor:
    """Each problem's total loss."""
    with _autocast(image.device, bf16):
        return objective(image)[0]


@functools.cache
def _compiled_total():
    """``_objective_total`` through torch.compile, made on first use: importing the compiler
    costs 2 s, which a job that does not compile should not pay."""
    # Each precision, batch of one or more, and checkpointing choice is one more compiled variant; a
    # process that runs many settings (a benchmark) must not fall back to eager after eight.
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
    # Dynamic shapes: one compilation serves every frame size, pyramid level and batch (chains
    # ending at different frames); the convolutions stay cuDNN's, and CUDA graphs capture the
    # kernels with their sizes fixed, so the dynamic code costs nothing on replay.
    return torch.compile(_objective_total, dynamic=True)


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"


def _resize(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    if tuple(image.shape[-2:]) == (height, width):
        return image
    return F.interpolate(image, size=(height, width), mode="bilinear", align_corners=False, antialias=True)
