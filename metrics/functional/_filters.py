"""Separable 'valid' filtering by shift-and-add: exact, differentiable and fast in float64.

``torch.nn.functional.conv2d`` has no fast float64 path on CPU (an 11 x 11 float64
convolution of a 768 x 576 image takes seconds); a separable kernel applied as a few
shifted, weighted slices of the image is ~20x faster, runs unchanged on CUDA and keeps
autograd. Used by SSIM / MS-SSIM (Gaussian windows), Qabf (Sobel), VIF and Piella's Q.

Every output value is ``taps[0] x[i]`` followed by one fused multiply-add per further
tap, in tap order (``Tensor.add_(..., alpha=)``), whatever the layout. So on CPU, outside
autograd, a large input is filtered in strips of rows that stay in the CPU cache
(2-3x faster), and a decimated output (``step=2``) is computed only where it is kept:
both give the whole-image result bit for bit. Where numba is installed the same
operations run as one compiled kernel (:mod:`._kernels`, another 3x, the same bits).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

from . import _kernels

__all__ = ["correlate_valid", "filter_planes", "filter_products", "gaussian_taps",
           "separable_correlate_valid"]


def gaussian_taps(size: int, sigma: float) -> list[float]:
    """1-D Gaussian window of ``size`` taps, summing to 1 (MATLAB ``fspecial('gaussian')`` is its outer product)."""
    half = (size - 1) / 2
    weights = [math.exp(-((i - half) ** 2) / (2 * sigma**2)) for i in range(size)]
    total = sum(weights)
    return [w / total for w in weights]


def _compiled_kernel(x: torch.Tensor) -> bool:
    """Use the numba filter (:mod:`._kernels`, the same bits) for this input?"""
    return x.device.type == "cpu" and x.dtype == torch.float64 and not x.requires_grad and _kernels.available()


#: Output elements per strip of the cache-blocked filter (x 8 bytes, a few arrays: within a 1-2 MB L2 cache).
_STRIP_ELEMENTS = 1 << 17


def _taken(x: torch.Tensor, dim: int, start: int, count: int, step: int) -> torch.Tensor:
    """``count`` slices of ``x`` along ``dim`` from ``start``, ``step`` apart (a view)."""
    if step == 1:
        return x.narrow(dim, start, count)
    index = [slice(None)] * x.ndim
    index[dim] = slice(start, start + step * (count - 1) + 1, step)
    return x[tuple(index)]


def correlate_valid(x: torch.Tensor, taps: Sequence[float], dim: int, step: int = 1) -> torch.Tensor:
    """'valid' correlation of ``x`` with a 1-D kernel along ``dim``: out[i] = sum_j taps[j] x[step i + j].

    Shape:
        x: any tensor with ``x.shape[dim] >= len(taps)``; the output has
        ``ceil((x.shape[dim] - len(taps) + 1) / step)`` along ``dim`` (``step=2``: every other output).
    """
    size = -(-(x.shape[dim] - len(taps) + 1) // step)
    out = _taken(x, dim, 0, size, step) * taps[0]
    for j in range(1, len(taps)):
        if taps[j] != 0:
            out.add_(_taken(x, dim, j, size, step), alpha=taps[j])
    return out


def separable_correlate_valid(x: torch.Tensor, rows: Sequence[float], columns: Sequence[float],
                              step: int = 1) -> torch.Tensor:
    """'valid' 2-D correlation with the kernel ``outer(rows, columns)`` (``rows`` runs down H, ``columns`` along W).

    Equals ``scipy.signal.correlate2d(x, outer(rows, columns), 'valid')`` and MATLAB
    ``filter2(outer(rows, columns), x, 'valid')`` per image; ``step=2`` returns only every
    other row and column of it (``[..., ::2, ::2]``), computed only there.

    Shape:
        x: ... x H x W; returns ... x (H - len(rows) + 1) x (W - len(columns) + 1) (``step=1``).
    """
    height = -(-(x.shape[-2] - len(rows) + 1) // step)
    width = -(-(x.shape[-1] - len(columns) + 1) // step)
    if height > 0 and width > 0 and _compiled_kernel(x):
        out = x.new_empty(*x.shape[:-2], height, width)
        _kernels.separable_valid(x, rows, columns, step, out)
        return out
    planes = x[..., 0, 0].numel()
    strip = max(1, _STRIP_ELEMENTS // max(1, planes * width))
    if x.device.type != "cpu" or x.requires_grad or height <= strip or height <= 0 or width <= 0:
        return correlate_valid(correlate_valid(x, rows, -2, step), columns, -1, step)
    out = x.new_empty(*x.shape[:-2], height, width)
    for top in range(0, height, strip):
        count = min(strip, height - top)
        part = x.narrow(-2, top * step, step * (count - 1) + len(rows))
        out.narrow(-2, top, count).copy_(correlate_valid(correlate_valid(part, rows, -2, step), columns, -1, step))
    return out



def filter_planes(make_planes: Callable[..., Sequence[torch.Tensor]], inputs: Sequence[torch.Tensor],
                  rows: Sequence[float], columns: Sequence[float], step: int = 1) -> torch.Tensor:
    """``separable_correlate_valid(torch.cat(make_planes(*inputs), dim=1), rows, columns, step)``, bit for bit.

    ``make_planes`` builds the planes to filter from the inputs by per-pixel arithmetic (e.g.
    ``lambda x, y: (x, y, x * x, y * y, x * y)`` for local moments). On CPU outside autograd
    the planes are built, filtered and written strip by strip, so that neither the stack nor
    the products ever exist at full size (each value is computed by the same operations: the
    same bits); elsewhere in one piece.

    Shape:
        inputs: each N x C_i x H x W; returns N x P x H' x W' (P: the planes' channels).
    """
    if inputs[0].device.type != "cpu" or any(x.requires_grad for x in inputs):
        return separable_correlate_valid(torch.cat(list(make_planes(*inputs)), dim=1), rows, columns, step)
    height = -(-(inputs[0].shape[-2] - len(rows) + 1) // step)
    width = -(-(inputs[0].shape[-1] - len(columns) + 1) // step)
    first = [p.narrow(-2, 0, min(len(rows), p.shape[-2])) for p in make_planes(*(x.narrow(-2, 0, 1) for x in inputs))]
    planes = sum(p.shape[1] for p in first)
    n = inputs[0].shape[0]
    out = inputs[0].new_empty(n, planes, max(height, 0), max(width, 0))
    if height <= 0 or width <= 0:
        return out
    strip = max(1, _STRIP_ELEMENTS // max(1, n * planes * width))
    kernel = _compiled_kernel(inputs[0])
    for top in range(0, height, strip):
        count = min(strip, height - top)
        part = [x.narrow(-2, top * step, step * (count - 1) + len(rows)) for x in inputs]
        stacked = torch.cat(list(make_planes(*part)), dim=1)
        target = out.narrow(-2, top, count)
        if kernel:
            _kernels.separable_valid(stacked, rows, columns, step, target)
            continue
        across = correlate_valid(stacked, rows, -2, step)  # count rows, full width
        torch.mul(_taken(across, -1, 0, width, step), columns[0], out=target)
        for j in range(1, len(columns)):
            if columns[j] != 0:
                target.add_(_taken(across, -1, j, width, step), alpha=columns[j])
    return out

def filter_products(x: torch.Tensor, products: Sequence[tuple[int, int | None]], rows: Sequence[float],
                    columns: Sequence[float], step: int = 1) -> torch.Tensor:
    """Filter channels of ``x`` and products of two of them: local moments (means, E[x^2], E[x y]).

    Plane k of the result is ``separable_correlate_valid(x[:, i] * x[:, j], rows, columns, step)``
    for ``products[k] = (i, j)``, or of ``x[:, i]`` alone for ``(i, None)``: bit for bit what
    filtering ``torch.cat`` of those planes gives. With the compiled kernel the products are
    formed value by value as the filter reads them (no plane is stacked at full size).

    Shape:
        x: N x C x H x W; returns N x len(products) x H' x W'.
    """
    if x.numel() and _compiled_kernel(x) and x.shape[-2] >= len(rows) and x.shape[-1] >= len(columns):
        return _kernels.separable_products(x, products, rows, columns, step)
    channels = [x[:, i:i + 1] if j is None else x[:, i:i + 1] * x[:, j:j + 1] for i, j in products]
    return filter_planes(lambda *planes: planes, channels, rows, columns, step)