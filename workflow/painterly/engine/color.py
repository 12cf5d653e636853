"""Colour preservation by luminance-only transfer (Gatys et al., "Preserving color in
neural artistic style transfer"): stylize the luma, keep the content's chroma. And one
image's colour means moved to another's."""

import torch

# ITU-R BT.601 full-range YCbCr, as JPEG uses; exact inverse pair.
_RGB_TO_YCBCR = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_YCBCR_TO_RGB = torch.linalg.inv(_RGB_TO_YCBCR)


def rgb_to_ycbcr(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> Y in [0, 1], Cb and Cr centred on 0."""
    return torch.einsum("ij,njhw->nihw", _RGB_TO_YCBCR.to(image), image)


def ycbcr_to_rgb(image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", _YCBCR_TO_RGB.to(image), image)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """The luma as a 3-channel grey image, so VGG sees it as a photo without colour."""
    return rgb_to_ycbcr(image)[:, :1].expand(-1, 3, -1, -1).contiguous()


def with_chroma_of(luma_image: torch.Tensor, colour_source: torch.Tensor) -> torch.Tensor:
    """Combine the luma of ``luma_image`` with the chroma of ``colour_source``."""
    ycbcr = rgb_to_ycbcr(colour_source)
    ycbcr = torch.cat([rgb_to_ycbcr(luma_image)[:, :1], ycbcr[:, 1:]], dim=1)
    return ycbcr_to_rgb(ycbcr).clamp(0, 1)


def mean_matched(image: torch.Tensor, reference: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """``image`` (B, 3, H, W) shifted so that each channel's mean over the pixels ``where``
    (B, 1, H, W, bool) is ``reference``'s there, clamped to [0, 1]; an image with no such
    pixel stays as it is. Its contrast stays: matching the spread too made the people clips
    3-8% steadier, but an animated one 2% further from its content and 8-10% less steady
    frames 5 and 10 apart (benchmarks/RESULTS.md)."""
    weight = where.to(image.dtype).expand_as(image)
    count = weight.sum((2, 3), keepdim=True)
    mean = (image * weight).sum((2, 3), keepdim=True) / count.clamp_min(1)
    reference_mean = (reference * weight).sum((2, 3), keepdim=True) / count.clamp_min(1)
    return torch.where(count > 0, (image - mean + reference_mean).clamp(0, 1), image)
