"""Style targets as an artifact: the blended Gram matrices of a style set at every pyramid size.

Computed once per key -- the style images' pixels, their blend, and every setting the Grams
depend on -- and saved as a small file, so a video's frames all reuse one computation
instead of re-running VGG on the style per frame. The workflow names the file by the key's
hash, so rows with equal keys share it and any change makes a new one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import PainterlyError
from ..media.io import atomic_path, image_to_tensor, resize_long_side
from . import color
from .losses import gram_matrix
from .settings import Settings
from .style_key import blend_weights, targets_key

FORMAT_VERSION = 2


@dataclass
class StyleTargets:
    grams: dict[int, dict[str, torch.Tensor]]
    """Pyramid long side -> style layer -> blended Gram (C, C)."""
    meta: dict
    source: str = "style targets"
    """Where these targets came from, for error messages."""
    _on_device: dict = field(default_factory=dict, repr=False, compare=False)

    def at(self, size: int, device) -> dict[str, torch.Tensor]:
        """The Grams of pyramid size ``size`` on ``device``: copied there once, not per frame
        (a copy from host memory waits for the device to finish its queued work)."""
        key = (size, str(device))
        if key not in self._on_device:
            self._on_device[key] = {layer: gram.to(device) for layer, gram in self.grams[size].items()}
        return self._on_device[key]

    def check(self, settings: Settings, styles=None) -> None:
        """Raise a one-line error if these targets were made for other settings or, given
        the PIL ``styles``, from other style images."""
        made = self.meta["key"]
        expected = targets_key(settings, styles if styles is not None else [None] * len(made["style_sha256"]))
        for name, value in expected.items():
            if name == "style_sha256":
                if None not in value and value != made[name]:
                    raise PainterlyError(f"{self.source}: made from other style images than these; "
                                         "recompute them with `painterly targets`")
            elif value != made[name]:
                raise PainterlyError(f"{self.source}: made with {name}={made[name]!r}, this run uses {value!r}; "
                                     "recompute them with `painterly targets`")

    def save(self, path: str | Path) -> None:
        grams = {str(size): {layer: g.cpu() for layer, g in layers.items()} for size, layers in self.grams.items()}
        with atomic_path(path) as tmp:
            torch.save({"format": FORMAT_VERSION, "meta": self.meta, "grams": grams}, tmp)

    @classmethod
    def load(cls, path: str | Path) -> "StyleTargets":
        path = Path(path)
        if not path.is_file():
            raise PainterlyError(f"{path}: style targets file not found; make it with `painterly targets`")
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
            if data.get("format") != FORMAT_VERSION:
                raise ValueError("format")
            grams = {int(size): layers for size, layers in data["grams"].items()}
            return cls(grams, data["meta"], str(path))
        except Exception:
            raise PainterlyError(f"{path}: not a painterly style targets file; recompute it with `painterly targets`") from None


def compute_style_targets(vgg, styles, settings: Settings, device, names=()) -> StyleTargets:
    """Blended Gram targets of PIL ``styles`` for every pyramid size of ``settings``.

    Each style is resized so its long side is ``style_scale`` times the content's at that
    level, so strokes keep their size relative to the picture across levels.
    """
    blend = blend_weights(settings, len(styles))
    grams: dict[int, dict[str, torch.Tensor]] = {}
    for size in settings.pyramid_sizes():
        level = {layer: 0.0 for layer in settings.style_layers}
        for style, weight in zip(styles, blend):
            image = image_to_tensor(resize_long_side(style, max(16, round(size * settings.style_scale)))).to(device)
            if settings.preserve_colors:
                image = color.luminance(image)
            with torch.no_grad():
                features = vgg(image)
            for layer in settings.style_layers:
                level[layer] = level[layer] + weight * gram_matrix(features[layer])[0]
        grams[size] = {layer: g.cpu() for layer, g in level.items()}
    return StyleTargets(grams, {"key": targets_key(settings, styles), "styles": [str(n) for n in names]})
