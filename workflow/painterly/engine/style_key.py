"""What a style targets file depends on, as a key and its digest: torch-free, because the
workflow names every targets file by it while Snakemake parses (painterly.engine.style_targets
computes the file)."""

from __future__ import annotations

import hashlib
import json

from ..errors import PainterlyError
from .settings import Settings
from .weights import weights_identity


def targets_key(settings: Settings, styles) -> dict:
    """Everything a targets file depends on: the target settings (a weights file by its
    content), the normalized blend, and each PIL style image's pixels (None: not known)."""
    key = settings.target_values()
    key["weights"] = weights_identity(settings.weights)
    key["style_blend"] = blend_weights(settings, len(styles))
    key["style_sha256"] = [style_fingerprint(style) if style is not None else None for style in styles]
    return key


def key_digest(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]


def style_fingerprint(style) -> str:
    return hashlib.sha256(f"{style.mode}{style.size}".encode() + style.tobytes()).hexdigest()


def blend_weights(settings: Settings, count: int) -> list[float]:
    blend = settings.style_blend or (1.0,) * count
    if len(blend) != count or any(w < 0 for w in blend) or sum(blend) <= 0:
        raise PainterlyError(
            f"style_blend needs {count} non-negative weights (one per style), got {list(blend)}"
        )
    return [w / sum(blend) for w in blend]
