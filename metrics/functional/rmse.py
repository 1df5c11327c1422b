"""RMSE as VIFB computes it: the root of the summed squared error divided by H W, mean of the two sources."""

from __future__ import annotations

import torch

from ._checks import check_inputs, to_255

__all__ = ["vifb_rmse"]


def vifb_rmse(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """RMSE = (M(VIS, F) + M(IR, F)) / 2 with M(S, F) = sqrt(sum((v_S - v_F)^2)) / (H W), 0-255 scale.

    VIFB's ``metricsRmse.m`` quirk: M divides the *root* of the sum of squares by the
    number of pixels, so M = RMSE / sqrt(H W), not the root mean squared error; the
    value shrinks with the image size (a 1000 x 1000 image scores 1000 times lower than
    its RMSE). VIFB's PSNR reuses M as its "MSE". Lower is better; 0 when F equals both
    sources. Symmetric in IR and VIS.

    Shape:
        fused, ir, vis: N x 1 x H x W in [0, 1]; returns N values (float64 on CPU).

    Example:
        >>> import torch
        >>> x = torch.zeros(1, 1, 2, 2)
        >>> vifb_rmse(x, x, torch.ones_like(x))
        tensor([63.7500], dtype=torch.float64)
    """
    check_inputs(fused, ir, vis)
    f, a, b = to_255(fused), to_255(ir), to_255(vis)
    pixels = f.shape[-2] * f.shape[-1]
    m_vis = torch.sqrt((b - f).pow(2).flatten(1).sum(dim=1)) / pixels
    m_ir = torch.sqrt((a - f).pow(2).flatten(1).sum(dim=1)) / pixels
    return (m_vis + m_ir) / 2
