"""Separable 'valid' filtering by shift-and-add: exact, differentiable and fast in float64.

``torch.nn.functional.conv2d`` has no fast float64 path on CPU (an 11 x 11 float64
convolution of a 768 x 576 image takes seconds); a separable kernel applied as a few
shifted, weighted slices of the image is ~20x faster, runs unchanged on CUDA and keeps
autograd. Used by SSIM / MS-SSIM (Gaussian windows) and Qabf (Sobel).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

__all__ = ["correlate_valid", "gaussian_taps", "separable_correlate_valid"]


def gaussian_taps(size: int, sigma: float) -> list[float]:
    """1-D Gaussian window of ``size`` taps, summing to 1 (MATLAB ``fspecial('gaussian')`` is its outer product)."""
    half = (size - 1) / 2
    weights = [math.exp(-((i - half) ** 2) / (2 * sigma**2)) for i in range(size)]
    total = sum(weights)
    return [w / total for w in weights]


def correlate_valid(x: torch.Tensor, taps: Sequence[float], dim: int) -> torch.Tensor:
    """'valid' correlation of ``x`` with a 1-D kernel along ``dim``: out[i] = sum_j taps[j] x[i + j].

    Shape:
        x: any tensor with ``x.shape[dim] >= len(taps)``; the output has
        ``x.shape[dim] - len(taps) + 1`` along ``dim``.
    """
    size = x.shape[dim] - len(taps) + 1
    out = x.narrow(dim, 0, size) * taps[0]
    for j in range(1, len(taps)):
        if taps[j] != 0:
            out.add_(x.narrow(dim, j, size), alpha=taps[j])
    return out


def separable_correlate_valid(x: torch.Tensor, rows: Sequence[float], columns: Sequence[float]) -> torch.Tensor:
    """'valid' 2-D correlation with the kernel ``outer(rows, columns)`` (``rows`` runs down H, ``columns`` along W).

    Equals ``scipy.signal.correlate2d(x, outer(rows, columns), 'valid')`` and MATLAB
    ``filter2(outer(rows, columns), x, 'valid')`` per image.

    Shape:
        x: ... x H x W; returns ... x (H - len(rows) + 1) x (W - len(columns) + 1).
    """
    return correlate_valid(correlate_valid(x, rows, -2), columns, -1)
