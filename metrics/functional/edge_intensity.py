"""EI: edge intensity of the fused image, the mean Sobel gradient magnitude (0-255 scale)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._checks import check_inputs, to_255

__all__ = ["edge_intensity"]


def edge_intensity(fused: torch.Tensor, ir: torch.Tensor | None = None,
                   vis: torch.Tensor | None = None) -> torch.Tensor:
    """EI = mean over all H x W pixels of sqrt(gx^2 + gy^2) of v = 255 F.

    VIFB's ``metricsEdge_intensity.m``: MATLAB ``imfilter(v, fspecial('sobel'), 'replicate')``
    (a correlation with [1 2 1; 0 0 0; -1 -2 -1] and with its transpose, the border
    replicated). Only the fused image enters; ``ir`` and ``vis`` are checked when given.
    Range [0, 4 sqrt(2) 255]; 0 for a constant image.

    Shape:
        fused, ir, vis: N x 1 x H x W in [0, 1]; returns N values (float64 on CPU).

    Example:
        >>> import torch
        >>> edge_intensity(torch.zeros(1, 1, 4, 4))
        tensor([0.], dtype=torch.float64)
    """
    check_inputs(fused, ir, vis)
    v = F.pad(to_255(fused), (1, 1, 1, 1), mode="replicate")
    sobel = torch.tensor([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]], dtype=v.dtype, device=v.device)
    g = F.conv2d(v, torch.stack([sobel, sobel.T]).unsqueeze(1))  # conv2d correlates, like imfilter
    return torch.sqrt(g.pow(2).sum(dim=1)).flatten(1).mean(dim=1)
