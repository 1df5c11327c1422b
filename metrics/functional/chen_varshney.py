"""Qcv: Chen and Varshney's human-perception fusion quality (regional saliency x CSF-filtered error)."""

from __future__ import annotations

import functools
import math
import warnings

import torch
import torch.nn.functional as F

from ._checks import check_inputs, to_255
from .chen_blum import frequency_filter, frequency_radius, normalize_to_levels, stretch_undefined

__all__ = ["chen_varshney"]

_WINDOW = 16  # local regions of 16 x 16 pixels
_CSF_DIVISOR = 8  # MATLAB: u = (W / 8) u, v = (H / 8) v ("length 3")


def _block_sums(x: torch.Tensor) -> torch.Tensor:
    """Sums over the 16 x 16 blocks of each image, zero-padding the last row / column of blocks.

    MATLAB ``blkproc(x, [16 16], [0 0], fun)`` pads ``x`` with zeros to whole blocks, so a
    partial block is a 16 x 16 block with zeros. One reshape for the whole batch.

    Shape:
        x: N x 1 x H x W; returns N x ceil(H / 16) x ceil(W / 16).
    """
    height, width = x.shape[-2:]
    x = F.pad(x, (0, -width % _WINDOW, 0, -height % _WINDOW))
    n, _, padded_h, padded_w = x.shape
    blocks = x.reshape(n, padded_h // _WINDOW, _WINDOW, padded_w // _WINDOW, _WINDOW)
    return blocks.sum(dim=(2, 4))


def _sobel_squared_magnitude(x: torch.Tensor) -> torch.Tensor:
    """gx^2 + gy^2, MATLAB ``filter2`` (correlation, zero padding, 'same') with
    [-1 0 1; -2 0 2; -1 0 1] (gx) and [-1 -2 -1; 0 0 0; 1 2 1] (gy).

    Separable: a central difference along one axis, then [1 2 1] along the other
    (exact on integer levels, and much faster than a float64 ``conv2d`` on CPU).
    """
    p = F.pad(x, (1, 1, 1, 1))
    across = p[..., :, 2:] - p[..., :, :-2]  # H + 2 x W
    gx = torch.add(across[..., :-2, :], across[..., 2:, :]).add_(across[..., 1:-1, :], alpha=2)
    down = p[..., 2:, :] - p[..., :-2, :]  # H x W + 2
    gy = torch.add(down[..., :, :-2], down[..., :, 2:]).add_(down[..., :, 1:-1], alpha=2)
    return gx.mul_(gx).addcmul_(gy, gy)


@functools.lru_cache(maxsize=16)
def _mannos_sakrison_csf(height: int, width: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The Mannos-Sakrison CSF 2.6 (0.0192 + 0.144 r) exp(-(0.144 r)^1.1) on ``rfft2``'s half grid (cached per size)."""
    r = frequency_radius(height, width, _CSF_DIVISOR, dtype=dtype, device=device)[:, : width // 2 + 1]
    return (2.6 * (0.0192 + 0.144 * r) * torch.exp(-(0.144 * r).pow(1.1))).contiguous()


def chen_varshney(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """Qcv: Chen and Varshney (2007) fusion quality, as VIFB's ``metricsQcv.m`` (Z. Liu's ``metricChen.m``).

    1. Each image is min-max stretched to integer levels 0..255 (as Qcb).
    2. Saliency of each 16 x 16 region: lambda_S = sum over the region of g_S^5, g_S the
       Sobel gradient magnitude of source S.
    3. Errors e_S = I_S - I_F filtered with the Mannos-Sakrison CSF
       2.6 (0.0192 + 0.144 r) exp(-(0.144 r)^1.1), r from
       :func:`~metrics.functional.chen_blum.frequency_radius` with divisor 8, and per region
       D_S = mean of the filtered error squared over the 16 x 16 region.
    4. Qcv = sum over regions of (lambda_IR D_IR + lambda_VIS D_VIS) / sum(lambda_IR + lambda_VIS).

    Lower is better (a weighted perceptual squared error on the 0-255 scale); 0 when F
    equals both sources; symmetric in IR and VIS. Quirks kept: ``blkproc`` zero-pads
    partial regions at the right and bottom edges and their D still divides by 256;
    MATLAB's result is complex (float noise from ``ifft2``) and VIFB reports it as is: the
    real part is returned here. NaN with a warning when both sources are constant (no
    saliency) or an image is constant and nonzero (the 0 / 0 stretch).

    The regions are a reshape, not a loop: the whole batch is processed at once.

    Shape:
        fused, ir, vis: N x 1 x H x W in [0, 1]; returns N values (float64 on CPU).

    Example:
        >>> import torch
        >>> x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> chen_varshney(x, x, x)
        tensor([0.], dtype=torch.float64)
    """
    check_inputs(fused, ir, vis)
    n = fused.shape[0]
    levels = torch.cat([to_255(ir), to_255(vis), to_255(fused)]).round_()  # the reference reads uint8 images
    images = normalize_to_levels(levels)
    sources, fused_levels = images[: 2 * n], images[2 * n:]
    g_sq = _sobel_squared_magnitude(sources)
    saliency = _block_sums(torch.sqrt(g_sq).mul_(g_sq).mul_(g_sq))  # g^alpha, alpha = 5
    height, width = images.shape[-2:]
    errors = (sources.view(2, n, 1, height, width) - fused_levels).view(2 * n, 1, height, width)
    filtered = frequency_filter(errors, _mannos_sakrison_csf(height, width, images.dtype, images.device))
    distortion = _block_sums(filtered.mul_(filtered)) / _WINDOW**2
    lambda_ir, lambda_vis = saliency.split(n)
    d_ir, d_vis = distortion.split(n)
    numerator = (lambda_ir * d_ir + lambda_vis * d_vis).flatten(1).sum(dim=1)
    denominator = (lambda_ir + lambda_vis).flatten(1).sum(dim=1)
    values = torch.where(stretch_undefined(images, n), math.nan, numerator / denominator)
    if torch.isnan(values).any():
        warnings.warn(f"Qcv: undefined (constant sources, or a constant nonzero image) in "
                      f"{int(torch.isnan(values).sum())} image(s): NaN", RuntimeWarning, stacklevel=2)
    return values
