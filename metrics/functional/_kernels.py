"""Compiled CPU kernels (numba) that compute exactly what the torch code computes, only faster.

A kernel here is used only where it gives the torch path's result bit for bit, so that
the values never depend on whether numba is installed:

* :func:`separable_valid`: the separable 'valid' filter of :mod:`._filters`. torch's
  ``Tensor.add_(x, alpha=t)`` is one fused multiply-add per value (``fma(t, x, out)``) on
  this machine's kernels; the kernel does the same operations in the same tap order, but
  filters each output row in one pass over cached rows instead of one pass over the image
  per tap (about 3x faster). Whether torch fuses the multiply-add depends on its build and
  CPU: :func:`available` checks it once against torch itself and turns the kernel off if
  the two ever differ.
* :func:`vif_gain_terms`: VIF's per-pixel clamps (subtractions, products, a division,
  comparisons): IEEE operations, correctly rounded wherever they run, in torch's order.

Transcendental functions (log, exp, sqrt, atan) stay torch's (its vectorised library
does not round as libm does).

numba is optional: without it (or on another dtype, device, or under autograd) the torch
code runs. Compiled code is cached on disk (``cache=True``), so only the first run on a
machine compiles.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

__all__ = ["available", "qabf_maps", "uniform_mean_float32", "separable_products", "separable_valid", "vif_gain_terms"]


@functools.lru_cache(maxsize=None)
def _compiled():
    """The numba kernels (:mod:`._numba_kernels`), or ``None`` where numba cannot be imported."""
    try:
        from . import _numba_kernels as kernels
    except ImportError:
        return None
    return {"separable": kernels.separable, "separable_products": kernels.separable_products,
            "fma": kernels.fused_multiply_add, "vif_gain": kernels.vif_gain, "fma_scalar": kernels.fma,
            "qabf_start": kernels.qabf_start, "qabf_arguments": kernels.qabf_arguments,
            "qabf_finish": kernels.qabf_finish, "uniform_float32": kernels.uniform_float32}


@functools.lru_cache(maxsize=None)
def available() -> bool:
    """numba is importable and its fused multiply-add is torch's ``add_(alpha=)`` here, bit for bit."""
    kernels = _compiled()
    if kernels is None:
        return False
    generator = torch.Generator().manual_seed(0)
    # values where a fused and an unfused multiply-add round differently (about 1 in 10 random ones)
    a, b, c = (torch.rand(4096, dtype=torch.float64, generator=generator) for _ in range(3))
    expected = c.clone().add_(b, alpha=0.1234567891234)
    got = np.empty(4096)
    kernels["fma"](np.full(4096, 0.1234567891234), b.numpy(), c.numpy(), got)
    return bool(np.array_equal(got, expected.numpy()))


def separable_valid(x: torch.Tensor, rows, columns, step: int, out: torch.Tensor) -> None:
    """Write ``separable_correlate_valid(x, rows, columns, step)`` into ``out`` (CPU float64, no grad; numba).

    Shape:
        x: ... x H x W; out: ... x H' x W' (a view of a larger tensor is fine when its leading dims merge).
    """
    planes = x[..., 0, 0].numel()
    source = x.contiguous().view(planes, *x.shape[-2:]).numpy()
    rows, columns = np.asarray(rows, dtype=np.float64), np.asarray(columns, dtype=np.float64)
    try:
        target = out.view(planes, *out.shape[-2:]).numpy()
    except RuntimeError:  # leading dims that do not merge: through a buffer
        buffer = np.empty((planes, *out.shape[-2:]))
        _compiled()["separable"](source, rows, columns, step, buffer)
        out.copy_(torch.from_numpy(buffer).view(out.shape))
        return
    _compiled()["separable"](source, rows, columns, step, target)


def vif_gain_terms(stats: torch.Tensor, count: int, eps: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(gain, sv_sq, sigma1_sq)`` of :func:`metrics.functional.vif.gain_terms` from its filtered statistics.

    Shape:
        stats: N x (3 S + 2) x h x w (mu1, mu2, E[s^2], E[d^2], E[s d]); returns three N x S x h x w.
    """
    n, _, height, width = stats.shape
    gain, sv_sq, sigma1_sq = (stats.new_empty(n, count, height, width) for _ in range(3))
    _compiled()["vif_gain"](stats.contiguous().numpy(), count, eps, gain.numpy(), sv_sq.numpy(), sigma1_sq.numpy())
    return gain, sv_sq, sigma1_sq


def separable_products(x: torch.Tensor, products, rows, columns, step: int) -> torch.Tensor:
    """The filtered planes of :func:`metrics.functional._filters.filter_products` (CPU float64, no grad; numba).

    Shape:
        x: N x C x H x W; returns N x len(products) x H' x W'.
    """
    height = -(-(x.shape[-2] - len(rows) + 1) // step)
    width = -(-(x.shape[-1] - len(columns) + 1) // step)
    out = x.new_empty(x.shape[0], len(products), height, width)
    first = np.array([p[0] for p in products], dtype=np.int64)
    second = np.array([-1 if p[1] is None else p[1] for p in products], dtype=np.int64)
    _compiled()["separable_products"](x.contiguous().numpy(), first, second, np.asarray(rows, dtype=np.float64),
                                      np.asarray(columns, dtype=np.float64), step, out.numpy())
    return out


def qabf_maps(sx: torch.Tensor, sy: torch.Tensor, constants: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The two maps :func:`metrics.functional.qabf.qabf` sums, from the Sobel responses of (F, IR, VIS).

    torch computes the square roots, arctangents and exponentials (on the kernels' buffers);
    every other operation is qabf's, in its order.

    Shape:
        sx, sy: 3 N x 1 x H x W (fused, IR, VIS images stacked); returns two N x (H W) maps.
    """
    planes = sx.shape[0]
    n, pixels = planes // 3, sx[0].numel()
    square, quotient = np.empty(planes * pixels), np.empty(planes * pixels)
    kernels = _compiled()
    kernels["qabf_start"](sx.contiguous().view(-1).numpy(), sy.contiguous().view(-1).numpy(), square, quotient)
    g = torch.sqrt(torch.from_numpy(square)).numpy().reshape(3, n, pixels)
    angle = torch.atan(torch.from_numpy(quotient)).numpy().reshape(3, n, pixels)
    exponents = np.empty((4, n, pixels))
    kernels["qabf_arguments"](sx.contiguous().view(3, n, pixels).numpy(), g, angle, pixels, constants["half_pi"],
                              constants["kg"], constants["dg"], constants["ka"], constants["da"], exponents)
    exps = torch.exp(torch.from_numpy(exponents)).numpy()
    numerator, denominator = np.empty((n, pixels)), np.empty((n, pixels))
    kernels["qabf_finish"](g, exps, pixels, constants["tg"], constants["ta"], numerator, denominator)
    return torch.from_numpy(numerator), torch.from_numpy(denominator)


def uniform_mean_float32(x: torch.Tensor, size: int) -> torch.Tensor | None:
    """``avg_pool2d(x.double(), (size, 1)).float()`` then the same along W, on a CPU float32 N x C x H x W tensor
    outside autograd; ``None`` where the kernel does not apply (the caller then runs those lines)."""
    if x.device.type != "cpu" or x.dtype != torch.float32 or x.requires_grad or not available() \
            or x.shape[-2] < size or x.shape[-1] < size:
        return None
    planes = x[..., 0, 0].numel()
    out = torch.empty(*x.shape[:-2], x.shape[-2] - size + 1, x.shape[-1] - size + 1, dtype=torch.float32)
    _compiled()["uniform_float32"](x.contiguous().view(planes, *x.shape[-2:]).numpy(), size,
                                   out.view(planes, *out.shape[-2:]).numpy())
    return out
