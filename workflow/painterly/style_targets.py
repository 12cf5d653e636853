"""Style targets as an artifact: the blended Gram matrices of a style set at every pyramid size.

Computed once per (styles, size, network, layers) and saved as a small file, so a video's
frames all reuse one computation instead of re-running VGG on the style per frame.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from . import color
from .errors import PainterlyError
from .io import atomic_path, image_to_tensor, resize_long_side
from .losses import gram_matrix
from .settings import Settings

FORMAT_VERSION = 1
# The settings a target file depends on; a run with other values must not reuse it.
_SETTINGS_KEYS = ("weights", "pooling", "style_layers", "style_scale", "preserve_colors")


@dataclass
class StyleTargets:
    grams: dict[int, dict[str, torch.Tensor]]
    """Pyramid long side -> style layer -> blended Gram (C, C)."""
    meta: dict
    source: str = "style targets"
    """Where these targets came from, for error messages."""

    def at(self, size: int, device) -> dict[str, torch.Tensor]:
        return {layer: gram.to(device) for layer, gram in self.grams[size].items()}

    def check(self, settings: Settings) -> None:
        """Raise a one-line error if these targets were made for other settings."""
        source = self.source
        for key in _SETTINGS_KEYS:
            if _jsonable(getattr(settings, key)) != self.meta[key]:
                raise PainterlyError(
                    f"{source}: made with {key}={self.meta[key]!r}, this run uses {getattr(settings, key)!r}; "
                    "recompute them with `painterly targets`"
                )
        missing = [size for size in settings.pyramid_sizes() if size not in self.grams]
        if missing:
            raise PainterlyError(
                f"{source}: no targets for size {missing[0]} (have {sorted(self.grams)}); "
                f"recompute them with `painterly targets --size {settings.size}`"
            )

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


def _jsonable(value):
    return list(value) if isinstance(value, tuple) else value


def blend_weights(settings: Settings, count: int) -> list[float]:
    blend = settings.style_blend or (1.0,) * count
    if len(blend) != count or any(w < 0 for w in blend) or sum(blend) <= 0:
        raise PainterlyError(
            f"--style-blend needs {count} non-negative weights (one per style), got {list(blend)}"
        )
    return [w / sum(blend) for w in blend]


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
    meta = {key: _jsonable(getattr(settings, key)) for key in _SETTINGS_KEYS}
    meta.update(
        blend=blend,
        sizes=settings.pyramid_sizes(),
        styles=[str(n) for n in names],
        style_sha256=[hashlib.sha256(style.tobytes()).hexdigest() for style in styles],
    )
    return StyleTargets(grams, meta)
