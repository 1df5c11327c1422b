"""MSE and PSNR of the fused image against the two sources (0-255 scale)."""

from __future__ import annotations

import warnings

import torch

from ._checks import check_inputs, to_255

__all__ = ["mean_squared_error", "peak_signal_noise_ratio"]


def _mse(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    f, a, b = to_255(fused), to_255(ir), to_255(vis)
    return ((f - a).pow(2).flatten(1).mean(dim=1) + (f - b).pow(2).flatten(1).mean(dim=1)) / 2


def mean_squared_error(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """MSE = (MSE(F, IR) + MSE(F, VIS)) / 2 on the 0-255 scale (lower is better).

    Range [0, 255^2] squared gray levels; symmetric in IR and VIS.

    Shape:
        fused, ir, vis: N x 1 x H x W in [0, 1]; returns N values (float64 on CPU).

    Example:
        >>> import torch
        >>> x = torch.zeros(1, 1, 2, 2)
        >>> mean_squared_error(x, x, torch.ones_like(x))
        tensor([32512.5000], dtype=torch.float64)
    """
    check_inputs(fused, ir, vis)
    return _mse(fused, ir, vis)


def peak_signal_noise_ratio(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """PSNR = 10 log10(255^2 / MSE) in dB, MSE as in :func:`mean_squared_error`.

    Where MSE = 0 (F equal to both sources) PSNR is +inf, with a warning.

    Shape:
        fused, ir, vis: N x 1 x H x W in [0, 1]; returns N values (float64 on CPU).

    Example:
        >>> import torch
        >>> x = torch.zeros(1, 1, 2, 2)
        >>> peak_signal_noise_ratio(x, x, torch.ones_like(x))
        tensor([3.0103], dtype=torch.float64)
    """
    check_inputs(fused, ir, vis)
    mse = _mse(fused, ir, vis)
    if (mse == 0).any():
        warnings.warn(f"PSNR: the fused image equals both sources (MSE = 0) in {int((mse == 0).sum())} image(s): "
                      "PSNR = inf", RuntimeWarning, stacklevel=2)
    return 10 * torch.log10(255.0**2 / mse)
