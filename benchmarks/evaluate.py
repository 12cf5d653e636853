"""One evaluator for every benchmark, independent of either tool's loss weights.

style distance: mean over block1..5_conv1 of ||G(x) - G(style)||^2 / ||G(style)||^2
content distance: ||F(x) - F(content)||^2 / ||F(content)||^2 at block4_conv2
Both on the caffe VGG-19, with every image at the output's size (style resized to the
output's long side). A video adds the warp error (Lai et al.; painterly.video.metrics).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from PIL import Image

from painterly.media.io import image_to_tensor, load_frame, load_image, resize_long_side
from painterly.engine.losses import gram_matrix
from painterly.video.metrics import warp_error
from painterly.media.segments import load_frames
from painterly.engine.vgg import load_vgg

STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
CONTENT_LAYER = "block4_conv2"


class Evaluator:
    def __init__(self, device="cpu"):
        self.device = device
        self.vgg = load_vgg("caffe", (*STYLE_LAYERS, CONTENT_LAYER)).to(device)

    @torch.no_grad()
    def features(self, image):
        tensor = image if isinstance(image, torch.Tensor) else image_to_tensor(image)
        return self.vgg(tensor.to(self.device))

    @torch.no_grad()
    def distances(self, output, content, style) -> tuple[float, float]:
        """(style distance, content distance) of PIL/tensor ``output`` to PIL ``content`` and ``style``."""
        out = self.features(output)
        height, width = output.shape[-2:] if isinstance(output, torch.Tensor) else output.size[::-1]
        content_features = self.features(content.resize((width, height), Image.Resampling.LANCZOS))
        style_features = self.features(resize_long_side(style, max(height, width)))
        style_d = sum(_relative(gram_matrix(out[l]), gram_matrix(style_features[l])) for l in STYLE_LAYERS) / len(STYLE_LAYERS)
        content_d = _relative(out[CONTENT_LAYER], content_features[CONTENT_LAYER])
        return float(style_d), float(content_d)


def video_quality(evaluator: Evaluator, frames: list[Path], styled: list, style) -> dict[str, float]:
    """Mean style and content distance over a stylized clip's frames (``styled``: PNG paths
    or painterly.video.seams.final_frames), and its mean warp error."""
    styled = list(load_frames(styled))
    error = float(np.mean(warp_error((load_frame(f), s) for f, s in zip(frames, styled))))
    distances = [evaluator.distances(Image.fromarray(s), load_image(f), style) for f, s in zip(frames, styled)]
    style_d, content_d = (float(np.mean(d)) for d in zip(*distances))
    return {"style": style_d, "content": content_d, "warp error": error}


def relative_gaps(measured: dict[str, float], reference: dict[str, float]) -> dict[str, float]:
    """|measured - reference| / |reference| for every key of ``reference``."""
    return {key: abs(measured[key] - value) / abs(value) for key, value in reference.items()}


def _relative(value, target):
    return (value - target).pow(2).sum() / target.pow(2).sum()
