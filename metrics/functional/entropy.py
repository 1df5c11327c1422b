"""EN: Shannon entropy of the fused image's 256-bin gray-level histogram, in bits."""

from __future__ import annotations

import torch

from ._checks import check_inputs, compute_dtype, to_255

__all__ = ["entropy", "gray_levels", "level_histograms"]


def gray_levels(image: torch.Tensor) -> torch.Tensor:
    """Integer gray levels ``round(255 x)`` (0..255) of a [0, 1] image, flattened per image.

    ``torch.round`` rounds half to even; fused images are evaluated from their 8-bit
    values, for which the rounding only removes float noise.

    Shape:
        image: N x 1 x H x W in [0, 1]; returns int64 N x (H W).
    """
    from ._shared import shared

    return shared("gray_levels", lambda: torch.round(to_255(image)).long().flatten(1), (image,),
                  dtype=str(compute_dtype(image.device)))


def level_histograms(levels: torch.Tensor) -> torch.Tensor:
    """Per-image 256-bin histograms of gray levels, in one ``bincount`` for the whole batch.

    Shape:
        levels: int64 N x P with values 0..255; returns int64 counts N x 256.
    """
    n = levels.shape[0]
    offsets = torch.arange(n, device=levels.device).unsqueeze(1) * 256
    return torch.bincount((levels + offsets).flatten(), minlength=n * 256).view(n, 256)


def _entropy_bits(counts: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Entropy in bits of each row of a count table (N x B): -sum p log2 p, 0 log 0 = 0."""
    p = counts.to(dtype)
    p = p / p.sum(dim=1, keepdim=True)
    bits = -(p * torch.log2(torch.where(p > 0, p, torch.ones_like(p)))).sum(dim=1)
    return bits + 0.0  # a one-level histogram gives -0.0; report 0.0


def entropy(fused: torch.Tensor, ir: torch.Tensor | None = None, vis: torch.Tensor | None = None) -> torch.Tensor:
    """EN = -sum_l p(l) log2 p(l) over the 256-bin histogram of round(255 F).

    Only the fused image enters; ``ir`` and ``vis`` are checked when given.
    Range [0, 8] bits; a constant image has EN = 0.

    Shape:
        fused, ir, vis: N x 1 x H x W in [0, 1]; returns N values (float64 on CPU).

    Example:
        >>> import torch
        >>> entropy(torch.tensor([0.0, 0.0, 1.0, 1.0]).view(1, 1, 2, 2))
        tensor([1.], dtype=torch.float64)
    """
    check_inputs(fused, ir, vis)
    return _entropy_bits(level_histograms(gray_levels(fused)), compute_dtype(fused.device))
