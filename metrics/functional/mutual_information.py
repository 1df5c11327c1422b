"""MI: mutual information between the fused image and each source, in bits, summed."""

from __future__ import annotations

import torch

from ._checks import check_inputs, compute_dtype
from .entropy import gray_levels

__all__ = ["mutual_information", "pairwise_mutual_information"]


def _joint_histograms(levels_a: torch.Tensor, levels_b: torch.Tensor) -> torch.Tensor:
    """Exact 256 x 256 joint histograms of two level images, one ``bincount`` for the batch.

    Shape:
        levels_a, levels_b: int64 N x P (0..255); returns int64 counts N x 256 x 256
        (rows: levels of a, columns: levels of b).
    """
    n = levels_a.shape[0]
    offsets = torch.arange(n, device=levels_a.device).unsqueeze(1) * 65536
    codes = (offsets + levels_a * 256 + levels_b).flatten()
    return torch.bincount(codes, minlength=n * 65536).view(n, 256, 256)


def pairwise_mutual_information(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """MI(a, b) in bits from the exact joint histogram of round(255 a) and round(255 b).

    MI = sum_ij p_ij log2(p_ij / (p_i p_j)); symmetric; MI(x, x) = EN(x).

    Shape:
        a, b: N x 1 x H x W in [0, 1] (not checked here); returns N values.
    """
    dtype = compute_dtype(a.device)
    joint = _joint_histograms(gray_levels(a), gray_levels(b)).to(dtype)
    joint = joint / joint.sum(dim=(1, 2), keepdim=True)
    outer = joint.sum(dim=2, keepdim=True) * joint.sum(dim=1, keepdim=True)
    nonzero = joint > 0
    ratio = torch.where(nonzero, joint / torch.where(nonzero, outer, torch.ones_like(outer)), torch.ones_like(joint))
    return (joint * torch.log2(ratio)).sum(dim=(1, 2))


def mutual_information(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """MI = MI(F, IR) + MI(F, VIS), each in bits (log2), from exact 256 x 256 joint histograms.

    Histograms of the integer levels round(255 x) (round half to even). Symmetric in
    IR and VIS; range [0, 16] bits.

    Shape:
        fused, ir, vis: N x 1 x H x W in [0, 1]; returns N values (float64 on CPU).

    Example:
        >>> import torch
        >>> x = torch.tensor([0.0, 0.0, 1.0, 1.0]).view(1, 1, 2, 2)
        >>> mutual_information(x, x, torch.zeros_like(x))
        tensor([1.], dtype=torch.float64)
    """
    check_inputs(fused, ir, vis)
    return pairwise_mutual_information(fused, ir) + pairwise_mutual_information(fused, vis)
