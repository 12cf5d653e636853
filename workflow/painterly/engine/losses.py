"""The objective: alpha * content + beta * style + TV, each term scale-free.

Why the normalisations: the seed report's weights "had very little effect" because its
terms differed by orders of magnitude and grew with image size. Here

* content loss is the feature MSE divided by the mean squared target feature;
* each style layer's loss is the Gram MSE divided by the mean squared target Gram, with
  Grams normalised by C*H*W;
* total variation is the mean squared difference of neighbouring pixels in [0, 1];
* the temporal term (video) is the squared difference to the warped earlier results,
  weighted by how many of them the optical flow vouches for at each pixel, over the count
  of pixels held.

Every term is a mean, so each pixel's gradient share does not depend on the image size:
the same weights give the same look at 128 px and 1024 px, and content and style terms
are both relative errors of order 1, so beta/alpha reads directly as their balance.
"""

from __future__ import annotations

import torch


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, C), normalised by C*H*W; always computed in fp32, also under
    bf16 autocast: a Gram sums H*W products, more than bf16's 8-bit mantissa can carry."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w).float()
    with torch.autocast(flat.device.type, enabled=False):
        return flat @ flat.transpose(1, 2) / (c * h * w)


def _per_image_mean(values: torch.Tensor) -> torch.Tensor:
    return values.flatten(1).mean(1)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Per image of the batch: mean squared difference of neighbouring pixels, (N,)."""
    dy = image[..., 1:, :] - image[..., :-1, :]
    dx = image[..., :, 1:] - image[..., :, :-1]
    return _per_image_mean(dy.pow(2)) + _per_image_mean(dx.pow(2))


def temporal_difference(image: torch.Tensor, held: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Per image: squared difference to what the frame is held to, weighted per pixel, over the
    count of held pixels (weight > 0), (N,). With weights 0 and 1 (held where the flow is
    reliable): the mean squared difference over the reliable pixels."""
    squared = ((image - held).pow(2) * weight).flatten(1).sum(1)
    return squared / (image.shape[1] * (weight > 0).flatten(1).sum(1).clamp_min(1))


def relative_mse(value: torch.Tensor, target: torch.Tensor, target_power: torch.Tensor) -> torch.Tensor:
    """Per image: MSE of ``value`` to ``target`` over the target's mean square, (N,)."""
    return _per_image_mean((value.float() - target).pow(2)) / target_power


class Objective:
    """The loss of a batch of images, image b against content image b and shared style Grams.

    Every term is per image, (N,): the images are independent problems (one per video
    chain) that share the network's kernel launches. ``style_grams`` maps layer -> target
    Gram (C, C); ``style_layer_weights`` maps layer -> weight (summing to 1); ``temporal``
    is (warped previous results, reliability masks) or None.
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
        self.content_target, self.content_power = self._content_target(content)
        # Its own copies: refill() writes the next frame's into them, never into the targets'.
        self.style_grams = {layer: gram.clone() for layer, gram in style_grams.items()}
        self.style_power = {layer: gram.pow(2).mean().clamp_min(1e-12) for layer, gram in style_grams.items()}

    @torch.no_grad()
    def _content_target(self, content: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        target = self.vgg(content)[self.content_layer].float()
        return target, _per_image_mean(target.pow(2)).clamp_min(1e-12)

    @torch.no_grad()
    def refill(self, content: torch.Tensor, style_grams, temporal=None) -> None:
        """Take other frames of the same shape, written into the tensors this objective
        already holds: a CUDA graph captured reading them stays valid."""
        pairs = [*zip((self.content_target, self.content_power), self._content_target(content)),
                 *zip(self.temporal or (), temporal or ())]
        for layer, gram in style_grams.items():
            pairs += [(self.style_grams[layer], gram), (self.style_power[layer], gram.pow(2).mean().clamp_min(1e-12))]
        for mine, new in pairs:
            mine.copy_(new)

    def terms(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """The unweighted terms for ``image``, each (N,)."""
        features = self.vgg(image)
        content = relative_mse(features[self.content_layer], self.content_target, self.content_power)
        style = sum(
            weight * relative_mse(gram_matrix(features[layer]), self.style_grams[layer], self.style_power[layer])
            for layer, weight in self.style_layer_weights.items()
        )
        terms = {"content": content, "style": style, "tv": total_variation(image.float())}
        if self.temporal is not None:
            terms["temporal"] = temporal_difference(image.float(), *self.temporal)
        return terms

    def __call__(self, image: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The weighted total per image, (N,), and the terms."""
        terms = self.terms(image)
        total = sum(self.weights[name] * value for name, value in terms.items())
        return total, terms
