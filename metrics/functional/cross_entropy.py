"""CE: cross entropy (relative entropy) of each source's gray-level histogram to the fused one, in bits."""

from __future__ import annotations

import torch

from ._checks import check_inputs, compute_dtype
from .entropy import gray_levels, level_histograms

__all__ = ["cross_entropy", "histogram_cross_entropy"]


def histogram_cross_entropy(source: torch.Tensor, fused: torch.Tensor) -> torch.Tensor:
    """CE(S, F) = sum_l p_S(l) log2(p_S(l) / p_F(l)) over the levels l where both p_S and p_F are nonzero.

    ``p`` are the 256-bin histograms of round(255 x), normalised by H W. The sum
    skips a level where either histogram is empty (VIFB ``metricsCross_entropy.m``),
    so CE is finite (it is not a true Kullback-Leibler divergence, which would be
    +inf where p_F = 0 < p_S, and it can be negative).

    Shape:
        source, fused: N x 1 x H x W in [0, 1] (not checked here); returns N values in bits.
    """
    dtype = compute_dtype(fused.device)
    p_s = level_histograms(gray_levels(source)).to(dtype)
    p_f = level_histograms(gray_levels(fused)).to(dtype)
    p_s = p_s / p_s.sum(dim=1, keepdim=True)
    p_f = p_f / p_f.sum(dim=1, keepdim=True)
    both = (p_s > 0) & (p_f > 0)
    ratio = torch.where(both, p_s / torch.where(both, p_f, torch.ones_like(p_f)), torch.ones_like(p_s))
    return (p_s * torch.log2(ratio)).sum(dim=1)


def cross_entropy(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """CE = (CE(VIS, F) + CE(IR, F)) / 2, histogram cross entropy in bits (lower is better).

    VIFB's definition (``metricsCross_entropy.m``, after Bulanon et al. 2009): per source
    sum_l p_S(l) log2(p_S(l) / p_F(l)) over the 8-bit levels where both histograms are
    nonzero (:func:`histogram_cross_entropy`), the mean of the two sources. Symmetric in
    IR and VIS; 0 when F has the histogram of both sources.

    Shape:
        fused, ir, vis: N x 1 x H x W in [0, 1]; returns N values (float64 on CPU).

    Example:
        >>> import torch
        >>> x = torch.tensor([0.0, 0.0, 1.0, 1.0]).view(1, 1, 2, 2)
        >>> cross_entropy(x, x, x)
        tensor([0.], dtype=torch.float64)
    """
    check_inputs(fused, ir, vis)
    return (histogram_cross_entropy(vis, fused) + histogram_cross_entropy(ir, fused)) / 2
