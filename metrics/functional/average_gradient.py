"""AG: average gradient of the fused image (0-255 scale), MATLAB ``gradient`` differences."""

from __future__ import annotations

import warnings

import torch

from ._checks import check_inputs, to_255

__all__ = ["average_gradient", "matlab_gradient"]


def matlab_gradient(v: torch.Tensor, dim: int) -> torch.Tensor:
    """MATLAB ``gradient`` along ``dim``: central differences (x[i+1] - x[i-1]) / 2 inside,
    one-sided differences at the two borders, 0 along a dimension of size 1. Same shape as ``v``."""
    size = v.shape[dim]
    if size == 1:
        return torch.zeros_like(v)
    first = v.narrow(dim, 1, 1) - v.narrow(dim, 0, 1)
    last = v.narrow(dim, size - 1, 1) - v.narrow(dim, size - 2, 1)
    inside = (v.narrow(dim, 2, size - 2) - v.narrow(dim, 0, size - 2)) / 2
    return torch.cat([first, inside, last], dim=dim)


def average_gradient(fused: torch.Tensor, ir: torch.Tensor | None = None,
                     vis: torch.Tensor | None = None) -> torch.Tensor:
    """AG = sum over all H x W pixels of sqrt((gx^2 + gy^2) / 2), divided by (H - 1)(W - 1).

    gx, gy: MATLAB ``gradient`` of v = 255 F (:func:`matlab_gradient`). The divisor
    (H - 1)(W - 1), not H W, is the one that reproduces the DIDFuse paper's Table 4.
    Undefined for an image one pixel wide or high: NaN with a warning.

    Shape:
        fused, ir, vis: N x 1 x H x W in [0, 1]; returns N values (float64 on CPU).

    Example:
        >>> import torch
        >>> average_gradient(torch.tensor([0.0, 1.0, 0.0, 1.0]).view(1, 1, 2, 2))
        tensor([721.2489], dtype=torch.float64)
    """
    check_inputs(fused, ir, vis)
    v = to_255(fused)
    height, width = v.shape[-2:]
    if height < 2 or width < 2:
        warnings.warn(f"AG is undefined for a {height} x {width} image (divisor (H-1)(W-1) = 0): NaN",
                      RuntimeWarning, stacklevel=2)
        return v.new_full((v.shape[0],), float("nan"))
    gx = matlab_gradient(v, -1)
    gy = matlab_gradient(v, -2)
    s = torch.sqrt((gx.pow(2) + gy.pow(2)) / 2)
    return s.flatten(1).sum(dim=1) / ((height - 1) * (width - 1))
