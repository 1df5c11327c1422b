"""SD: population standard deviation of the fused image, in gray levels (0-255 scale)."""

from __future__ import annotations

import torch

from ._checks import check_inputs, to_255

__all__ = ["standard_deviation"]


def standard_deviation(fused: torch.Tensor, ir: torch.Tensor | None = None,
                       vis: torch.Tensor | None = None) -> torch.Tensor:
    """SD = sqrt(mean((v - mean(v))^2)), v = 255 F (population form, divisor H W).

    Only the fused image enters; ``ir`` and ``vis`` are checked when given. A constant
    image has SD = 0.

    Shape:
        fused, ir, vis: N x 1 x H x W in [0, 1]; returns N values (float64 on CPU).

    Example:
        >>> import torch
        >>> standard_deviation(torch.tensor([0.0, 0.0, 1.0, 1.0]).view(1, 1, 2, 2))
        tensor([127.5000], dtype=torch.float64)
    """
    check_inputs(fused, ir, vis)
    # One image at a time: torch's std reduction of an N x (H W) batch is not the per-image one bit for bit.
    return torch.cat([image.std(dim=1, correction=0) for image in to_255(fused).flatten(1).split(1)])
