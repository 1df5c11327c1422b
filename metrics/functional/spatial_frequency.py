"""SF: spatial frequency of the fused image (0-255 scale)."""

from __future__ import annotations

import torch

from ._checks import check_inputs, to_255

__all__ = ["spatial_frequency"]


def _mean_square(diff: torch.Tensor) -> torch.Tensor:
    """Per-image mean of squared differences; 0 where there are none (a 1-pixel-wide direction)."""
    if diff.numel() == 0:
        return diff.new_zeros(diff.shape[0])
    return diff.pow(2).flatten(1).mean(dim=1)


def spatial_frequency(fused: torch.Tensor, ir: torch.Tensor | None = None,
                      vis: torch.Tensor | None = None) -> torch.Tensor:
    """SF = sqrt(RF^2 + CF^2) of v = 255 F.

    RF^2 is the mean of the H x (W - 1) squared horizontal differences, CF^2 the mean of
    the (H - 1) x W squared vertical ones. A direction with no pixel pairs (an image one
    pixel wide or high) contributes 0, so SF of a 1 x W image is its RF and SF of a
    1 x 1 image is 0 (the value of a sum of squares over no terms).

    Shape:
        fused, ir, vis: N x 1 x H x W in [0, 1]; returns N values (float64 on CPU).

    Example:
        >>> import torch
        >>> spatial_frequency(torch.tensor([0.0, 1.0, 0.0, 1.0]).view(1, 1, 2, 2))
        tensor([255.], dtype=torch.float64)
    """
    check_inputs(fused, ir, vis)
    v = to_255(fused)
    row = _mean_square(v[..., :, 1:] - v[..., :, :-1])
    column = _mean_square(v[..., 1:, :] - v[..., :-1, :])
    return torch.sqrt(row + column)
