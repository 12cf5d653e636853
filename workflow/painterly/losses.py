"""The objective: alpha * content + beta * style + TV, each term scale-free.

Why the normalisations: the seed report's weights "had very little effect" because its
terms differed by orders of magnitude and grew with image size. Here

* content loss is the feature MSE divided by the mean squared target feature;
* each style layer's loss is the Gram MSE divided by the mean squared target Gram, with
  Grams normalised by C*H*W;
* total variation is the mean squared difference of neighbouring pixels in [0, 1];
* the temporal term (video) is the mean squared difference to the warped previous
  result over the pixels the optical flow vouches for.

Every term is a mean, so each pixel's gradient share does not depend on the image size:
the same weights give the same look at 128 px and 1024 px, and content and style terms
are both relative errors of order 1, so beta/alpha reads directly as their balance.
"""

from __future__ import annotations

import torch


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, C), normalised by C*H*W; always computed in fp32."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w).float()
    return flat @ flat.transpose(1, 2) / (c * h * w)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    dy = image[..., 1:, :] - image[..., :-1, :]
    dx = image[..., :, 1:] - image[..., :, :-1]
    return dy.pow(2).mean() + dx.pow(2).mean()


def temporal_difference(image: torch.Tensor, warped_previous: torch.Tensor, reliable: torch.Tensor) -> torch.Tensor:
    """Mean squared difference to the warped previous frame over the reliable pixels only."""
    squared = (image - warped_previous).pow(2) * reliable
    return squared.sum() / (image.shape[1] * reliable.sum().clamp_min(1.0))


def relative_mse(value: torch.Tensor, target: torch.Tensor, target_power: torch.Tensor) -> torch.Tensor:
    return (value.float() - target).pow(2).mean() / target_power


class Objective:
    """The loss of an image against one content image and one set of style Grams.

    ``style_grams`` maps layer -> target Gram (C, C); ``style_layer_weights`` maps layer ->
    weight (summing to 1).
    """

    def __init__(
        self, vgg, content, style_grams, content_layer, style_layer_weights, content_weight, style_weight, tv_weight,
        temporal=None, temporal_weight=0.0,
    ):
        self.vgg = vgg
        self.content_layer = content_layer
        self.style_layer_weights = style_layer_weights
        self.weights = {"content": content_weight, "style": style_weight, "tv": tv_weight, "temporal": temporal_weight}
        self.temporal = temporal
        with torch.no_grad():
            target = vgg(content)[content_layer].float()
        self.content_target = target
        self.content_power = target.pow(2).mean().clamp_min(1e-12)
        self.style_grams = style_grams
        self.style_power = {layer: gram.pow(2).mean().clamp_min(1e-12) for layer, gram in style_grams.items()}

    def terms(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """The unweighted terms for ``image``."""
        features = self.vgg(image)
        content = relative_mse(features[self.content_layer], self.content_target, self.content_power)
        style = sum(
            weight * relative_mse(gram_matrix(features[layer])[0], self.style_grams[layer], self.style_power[layer])
            for layer, weight in self.style_layer_weights.items()
        )
        terms = {"content": content, "style": style, "tv": total_variation(image.float())}
        if self.temporal is not None:
            terms["temporal"] = temporal_difference(image.float(), *self.temporal)
        return terms

    def __call__(self, image: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        terms = self.terms(image)
        total = sum(self.weights[name] * value for name, value in terms.items())
        return total, terms
