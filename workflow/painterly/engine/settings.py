"""Every knob of a stylization, written once: its type, default, limits, help text, and
whether style targets depend on it.

The CLI flags, the presets of config.yaml, the sheet's override columns and the style
targets key are all read off these fields at run time, so they cannot disagree; values
are checked here, in one place, with one-line messages that say the fix.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from dataclasses import dataclass, field

from ..errors import PainterlyError

# The seed report's layers, in its Keras naming (post-ReLU; see painterly.engine.vgg).
CONTENT_LAYER = "block5_conv2"
STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
FLOW_METHODS = ("dis", "farneback")
# A chain's anchors (temporal_keyframes) at most: each is one more flow for every later
# frame on the job's CPU threads (at 512x384 about 0.1 s of a core, as each temporal_frames
# term); eight cover what a shot's first 7 seconds (30 frames/s) uncover.
MAX_ANCHORS = 8


def setting(default, help: str, *, minimum=None, above=None, choices=None, targets=False):
    """A Settings field. ``minimum``: value >= it; ``above``: value > it; ``choices``: allowed
    values; ``targets``: style targets depend on it (a change needs new targets)."""
    return field(default=default, metadata=dict(help=help, minimum=minimum, above=above, choices=choices,
                                                targets=targets))


# Read only by a video run (frame chains, optical flow, sub-chains): an image's record leaves them out.
VIDEO_ONLY = frozenset({"temporal", "temporal_weight", "temporal_frames", "temporal_hold", "temporal_still",
                        "temporal_anchor", "temporal_anchor_weight", "temporal_keyframes", "frame_iterations",
                        "first_frame_restarts", "sub_chains", "flow_method"})


@dataclass(frozen=True)
class Settings:
    size: int = setting(512, "long side of the output in pixels", minimum=16, targets=True)
    iterations: int = setting(300, "optimizer iterations summed over the coarse-to-fine pyramid", minimum=1)
    optimizer: str = setting("lbfgs", "optimization method", choices=("lbfgs", "adam"))
    lr: float | None = setting(None, "step size; none: 1.0 for lbfgs, 0.02 for adam (pixels in [0, 1])", above=0)
    init: str = setting("content", "start from: content, noise, or the path of an image")
    content_weight: float = setting(1.0, "alpha, the weight of the content term", minimum=0)
    style_weight: float = setting(3.0, "beta, the weight of the style term", minimum=0)
    tv_weight: float = setting(1.0, "weight of the total variation term", minimum=0)
    content_layer: str = setting(CONTENT_LAYER, "content layer (block5_conv2 = relu5_2)")
    style_layers: tuple[str, ...] = setting(
        STYLE_LAYERS, "style layers (Keras names are post-ReLU: block1_conv1 = relu1_1)", targets=True)
    style_layer_weights: tuple[float, ...] | None = setting(None, "relative weight per style layer; none: equal",
                                                            minimum=0)
    style_blend: tuple[float, ...] | None = setting(None, "relative weight per style image; none: equal", minimum=0,
                                                    targets=True)
    style_scale: float = setting(1.0, "style image long side as a multiple of the content's", above=0, targets=True)
    preserve_colors: bool = setting(False, "transfer luminance only; keep the content's colours", targets=True)
    seed: int = setting(0, "random seed (noise init)")
    device: str = setting("auto", "auto, cpu, cuda, cuda:N or mps")
    precision: str = setting("fp32", "fp32, or bf16 autocast on CUDA", choices=("fp32", "bf16"))
    deterministic: bool = setting(False, "CUDA: two runs on the same GPU model give byte-identical frames "
                                  "(deterministic kernels, fixed algorithms; slower). The CPU always is")
    weights: str = setting("caffe", "VGG-19 weights: caffe (offline), torchvision (downloads once), or a .pth file",
                           targets=True)
    pooling: str = setting("max", "VGG pooling layers", choices=("max", "avg"), targets=True)
    pyramid_min_size: int = setting(128, "long side of the coarsest pyramid level", minimum=16, targets=True)
    tolerance: float = setting(1e-3, "early stop when the loss fell by less than this fraction over 10 iterations",
                               minimum=0)
    temporal: bool = setting(True, "video: start each frame from the previous result warped by optical flow and "
                             "keep it close to that where the flow is reliable (Ruder et al.); false: frames independent")
    temporal_weight: float = setting(50.0, "gamma, the weight of the temporal term", minimum=0)
    temporal_frames: tuple[int, ...] = setting(
        (1, 5, 10, 20), "video, temporal mode: the earlier results each frame is held to, as frames back, each warped "
        "by its own flow where reliable (after Ruder et al.'s long-term loss): 1 is the previous frame; the farther "
        "ones keep texture from swimming over seconds", minimum=1)
    temporal_hold: str = setting(
        "sum", "video, temporal mode: how firmly a pixel is held to those results: sum, with the temporal weight "
        "for each one reliable there (Ruder et al.'s long-term loss: still pixels, reliable in all, are held "
        "hardest); average, with the weight of one term to their average (the method before)",
        choices=("sum", "average"))
    temporal_still: bool = setting(
        True, "video, temporal mode: a pixel whose neighbourhood matches the earlier frame's at the same place "
        "clearly better than where the flow points is held where it is (flow spreads a moving thing's motion over "
        "the still background beside it, which was dragged and repainted); false: the flow alone")
    temporal_anchor: bool = setting(
        True, "video, temporal mode: also hold every later frame to the result of its chain's first frame (a "
        "shot's, or a chunk's that starts afresh), warped by its own flow where reliable: what stays in view keeps "
        "that painting for the whole shot (held only to recent results, a still background slowly drifted); false: "
        "only temporal_frames")
    temporal_anchor_weight: float = setting(
        4.0, "video, temporal mode: how firmly a frame is held to its chain's anchors (temporal_anchor, "
        "temporal_keyframes) where it sees them in place (a still camera's background), as a multiple of the "
        "temporal weight: held like one more recent result, a background people crossed settled a few levels away "
        "from its first painting. Where an anchor moved it weighs one term (a resampled painting is softer, and held "
        "harder a slow pan kept that softness)", minimum=0)
    temporal_keyframes: int = setting(
        30, f"video, temporal mode: every this many frames a chain's result becomes one more anchor (at most "
        f"{MAX_ANCHORS} a chain, the first frame's included), for what no earlier anchor shows: each pixel is held "
        "to the first anchor that showed it (what the first frame's passers-by hid had no fixed point and drifted); "
        "0: the first frame only", minimum=0)
    frame_iterations: int = setting(40, "video, temporal mode: iterations of each frame after a chain's first "
                                    "(which gets `iterations`), at full size from the warped previous result", minimum=1)
    first_frame_restarts: int = setting(
        2, "video, temporal mode: a chain's first frame, after its `iterations`, runs `frame_iterations` at full "
        "size this many times more, each from its result as saved, as every later frame starts: without them it "
        "is less stylized than the frames after it, and later frames are held to it (temporal_anchor)", minimum=0)
    sub_chains: int = setting(0, "video: chains one stylize job advances in one batch (its chunk split like chunks "
                              "are, joined by seams in temporal mode); 0 or 1: one chain (several did not pay on an "
                              "H200: benchmarks/RESULTS.md)", minimum=0)
    flow_method: str = setting("dis", "dis, farneback, or the path of a local torchvision RAFT state dict (.pth)")
    max_input_pixels: int = setting(64_000_000, "refuse content and style images with more pixels than this, before "
                                    "decoding them (memory; decompression bombs)", minimum=1)

    def __post_init__(self):
        for item in dataclasses.fields(self):
            # Frozen, but the values are the caller's: lists become tuples, 3 becomes 3.0.
            object.__setattr__(self, item.name, _coerce(item, getattr(self, item.name)))
            _check(item, getattr(self, item.name))
        if 1 not in self.temporal_frames:
            raise PainterlyError(f"temporal_frames {list(self.temporal_frames)}: include 1, the previous frame, "
                                 "which each frame starts from")
        if self.flow_method not in FLOW_METHODS and not self.flow_method.endswith((".pth", ".pt")):
            raise PainterlyError(f"flow_method {self.flow_method!r}: use dis, farneback, or a RAFT weights .pth file")

    @classmethod
    def from_dict(cls, values: dict) -> "Settings":
        """Settings from JSON-like values (lists for tuples); unknown keys are an error."""
        for key in values:
            check_name(key)
        return cls(**values)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)

    def target_values(self) -> dict:
        """The settings style targets depend on."""
        return {name: value for name, value in self.to_dict().items() if FIELDS[name].metadata["targets"]}

    @property
    def temporal_reach(self) -> int:
        """How many of a chain's latest results its next frame can be held to (none without
        temporal mode: frames independent keep no results)."""
        return max(self.temporal_frames) if self.temporal else 0

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


FIELDS: dict[str, dataclasses.Field] = {item.name: item for item in dataclasses.fields(Settings)}
_TYPES = typing.get_type_hints(Settings)


def check_name(name: str) -> None:
    """A one-line error for a name that is not a setting, with the nearest one."""
    if name not in FIELDS:
        near = difflib.get_close_matches(name, FIELDS, n=1)
        hint = f"did you mean {near[0]!r}?" if near else f"known: {', '.join(FIELDS)}"
        raise PainterlyError(f"unknown setting {name!r}; {hint}")


def kind(name: str) -> tuple[type, bool, bool]:
    """(element type, is a comma list, may be none) of a setting."""
    hint = _TYPES[name]
    args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    optional = type(None) in typing.get_args(hint)
    if optional:
        hint = args[0]
    if typing.get_origin(hint) is tuple:
        return typing.get_args(hint)[0], True, optional
    return hint, False, optional


def parse(name: str, text: str):
    """A setting's value from text: numbers, true/false, comma lists, ``none``."""
    check_name(name)
    element, listed, optional = kind(name)
    text = str(text).strip()
    if optional and text.lower() in ("none", "null", ""):
        return None
    if listed:
        return tuple(_parse_one(name, element, part) for part in text.split(",") if part.strip())
    return _parse_one(name, element, text)


def _parse_one(name: str, element: type, text: str):
    text = text.strip()
    if element is bool:
        words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
        if text.lower() not in words:
            raise PainterlyError(f"{name} must be true or false, not {text!r}")
        return words[text.lower()]
    if element in (int, float):
        try:
            number = float(text)
        except ValueError:
            raise PainterlyError(f"{name} must be a number, not {text!r}") from None
        return _coerce_number(name, element, number)
    return text


def _coerce(item: dataclasses.Field, value):
    """JSON-like value to the field's type: lists to tuples, whole numbers to int where asked."""
    element, listed, optional = kind(item.name)
    if value is None and optional:
        return None
    if listed:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise PainterlyError(f"{item.name} must be a list, not {value!r}")
        return tuple(_coerce_scalar(item.name, element, v) for v in value)
    return _coerce_scalar(item.name, element, value)


def _coerce_scalar(name: str, element: type, value):
    if element is bool:
        if not isinstance(value, bool):
            raise PainterlyError(f"{name} must be true or false, not {value!r}")
        return value
    if element in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PainterlyError(f"{name} must be a number, not {value!r}")
        return _coerce_number(name, element, value)
    if not isinstance(value, str):
        raise PainterlyError(f"{name} must be text, not {value!r}")
    return value


def _coerce_number(name: str, element: type, number: float):
    if not math.isfinite(number):
        raise PainterlyError(f"{name} must be a finite number, not {number}")
    if element is int:
        if number != int(number):
            raise PainterlyError(f"{name} must be a whole number, not {number}")
        return int(number)
    return float(number)


def _check(item: dataclasses.Field, value) -> None:
    """Limits and choices of one field (its type was settled by _coerce)."""
    meta = item.metadata
    for one in value if isinstance(value, tuple) else (value,):
        if meta["choices"] and one not in meta["choices"]:
            raise PainterlyError(f"{item.name} {one!r} is not one of {', '.join(meta['choices'])}")
        if one is None or isinstance(one, (str, bool)):
            continue
        if meta["minimum"] is not None and not one >= meta["minimum"]:
            raise PainterlyError(f"{item.name} must be >= {meta['minimum']}, not {one}")
        if meta["above"] is not None and not one > meta["above"]:
            raise PainterlyError(f"{item.name} must be > {meta['above']}, not {one}")
