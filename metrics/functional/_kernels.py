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
    """The numba kernels, or ``None`` where numba cannot be imported."""
    try:
        import llvmlite.ir as lir
        from numba import njit, types
        from numba.extending import intrinsic
    except ImportError:
        return None

    @intrinsic
    def fma(typingctx, a, b, c):  # noqa: ARG001  (numba's intrinsic signature)
        """llvm.fma.f64: a * b + c with one rounding."""
        def codegen(context, builder, signature, args):
            double = lir.DoubleType()
            function = builder.module.declare_intrinsic("llvm.fma", [double], lir.FunctionType(double, [double] * 3))
            return builder.call(function, args)
        return types.float64(types.float64, types.float64, types.float64), codegen

    @njit(cache=True, boundscheck=False, nogil=True, inline="always")
    def columns_pass(line, columns, step, target):
        """target[j] = columns[0] line[step j], then fma(columns[k], line[step j + k], target[j]) for k = 1, 2, ..."""
        width_out = target.shape[0]
        if step == 1:  # contiguous reads: vectorised
            for j in range(width_out):
                target[j] = line[j] * columns[0]
            for k in range(1, columns.shape[0]):
                tap = columns[k]
                if tap != 0.0:
                    shifted = line[k:k + width_out]
                    for j in range(width_out):
                        target[j] = fma(tap, shifted[j], target[j])
        else:
            for j in range(width_out):
                target[j] = line[step * j] * columns[0]
            for k in range(1, columns.shape[0]):
                tap = columns[k]
                if tap != 0.0:
                    for j in range(width_out):
                        target[j] = fma(tap, line[step * j + k], target[j])

    @njit(cache=True, boundscheck=False, nogil=True)
    def separable(x, rows, columns, step, out):
        """out[p, i, j] = sum_k columns[k] * (sum_l rows[l] * x[p, step i + l, .])[step j + k], torch's fma order."""
        planes, _, width = x.shape
        _, height_out, width_out = out.shape
        line = np.empty(width)
        for p in range(planes):
            for i in range(height_out):
                top = step * i
                first = x[p, top]
                for j in range(width):
                    line[j] = first[j] * rows[0]
                for k in range(1, rows.shape[0]):
                    tap = rows[k]
                    if tap != 0.0:
                        source = x[p, top + k]
                        for j in range(width):
                            line[j] = fma(tap, source[j], line[j])
                columns_pass(line, columns, step, out[p, i])

    @njit(cache=True, boundscheck=False, nogil=True)
    def separable_products(x, first, second, rows, columns, step, out):
        """Plane k of out: ``separable`` of x[b, first[k]] (times x[b, second[k]] when >= 0).

        A product plane's rows are formed once each, into a ring of the last len(rows) rows.
        """
        batch, _, height, width = x.shape
        _, planes, height_out, width_out = out.shape
        taps = rows.shape[0]
        line = np.empty(width)
        ring = np.empty((taps, width))
        for b in range(batch):
            for p in range(planes):
                u, v = first[p], second[p]
                made = 0  # rows of the product formed so far
                for i in range(height_out):
                    top = step * i
                    if v >= 0:
                        while made < top + taps:
                            source, other, slot = x[b, u, made], x[b, v, made], ring[made % taps]
                            for j in range(width):
                                slot[j] = source[j] * other[j]
                            made += 1
                        source = ring[top % taps]
                    else:
                        source = x[b, u, top]
                    for j in range(width):
                        line[j] = source[j] * rows[0]
                    for k in range(1, taps):
                        tap = rows[k]
                        if tap != 0.0:
                            source = ring[(top + k) % taps] if v >= 0 else x[b, u, top + k]
                            for j in range(width):
                                line[j] = fma(tap, source[j], line[j])
                    columns_pass(line, columns, step, out[b, p, i])

    @njit(cache=True, boundscheck=False, nogil=True)
    def vif_gain(stats, count, eps, gain, sv_sq, sigma1_sq):
        """vif._scale_terms' per-pixel clamps, operation for operation (stats: N x (3S+2) x h x w)."""
        n, _, height, width = stats.shape
        for b in range(n):
            for s in range(count):
                mu1, mu2 = stats[b, s], stats[b, count]
                e11, e22, e12 = stats[b, count + 1 + s], stats[b, 2 * count + 1], stats[b, 2 * count + 2 + s]
                g_out, v_out, s_out = gain[b, s], sv_sq[b, s], sigma1_sq[b, s]
                for i in range(height):
                    for j in range(width):
                        m1 = mu1[i, j]
                        m2 = mu2[i, j]
                        s1 = e11[i, j] - m1 * m1
                        if s1 < 0.0:
                            s1 = 0.0
                        s2 = e22[i, j] - m2 * m2
                        if s2 < 0.0:
                            s2 = 0.0
                        s12 = e12[i, j] - m1 * m2
                        g = s12 / (s1 + eps)
                        v = s2 - g * s12
                        if s1 < eps:
                            g = 0.0
                            v = s2
                            s1 = 0.0
                        if s2 < eps:
                            g = 0.0
                            v = 0.0
                        if g < 0.0:
                            v = s2
                            g = 0.0
                        if v < eps:
                            v = eps
                        g_out[i, j] = g
                        v_out[i, j] = v
                        s_out[i, j] = s1

    @njit(cache=True, boundscheck=False, nogil=True)
    def qabf_start(sx, sy, square, quotient):
        """Sobel responses -> the arguments of torch's sqrt (sx^2 + sy^2) and atan (sy / sx, sx = 0 -> 1)."""
        for i in range(sx.shape[0]):
            x = sx[i]
            y = sy[i]
            square[i] = x * x + y * y
            quotient[i] = y / (1.0 if x == 0.0 else x)

    @njit(cache=True, boundscheck=False, nogil=True)
    def qabf_arguments(sx, g, angle, pixels, half_pi, kg, dg, ka, da, exponents):
        """qabf._preservation up to its exps: rows of exponents are KG (G - DG), KA (A - DA) for IR, then VIS.

        g, angle, sx: 3 x N x P (fused, IR, VIS) flattened per image; exponents: 4 x N x P.
        """
        for s in range(2):
            for n in range(g.shape[1]):
                for i in range(pixels):
                    g_s = g[1 + s, n, i]
                    g_f = g[0, n, i]
                    a_s = half_pi if sx[1 + s, n, i] == 0.0 else angle[1 + s, n, i]
                    a_f = half_pi if sx[0, n, i] == 0.0 else angle[0, n, i]
                    larger = g_s if g_s > g_f else g_f
                    smaller = g_s if g_s < g_f else g_f
                    ratio = smaller / (larger if larger > 0.0 else 1.0)
                    strength = g_f if g_s == g_f else ratio
                    orientation = 1.0 - abs(a_s - a_f) / half_pi
                    exponents[2 * s, n, i] = kg * (strength - dg)
                    exponents[2 * s + 1, n, i] = ka * (orientation - da)

    @njit(cache=True, boundscheck=False, nogil=True)
    def qabf_finish(g, exps, pixels, tg, ta, numerator, denominator):
        """Per pixel sum_S Q_g Q_a w_S and sum_S w_S (w = g_S, L = 1): the maps qabf sums."""
        for n in range(g.shape[1]):
            for i in range(pixels):
                # torch's scalar / tensor is reciprocal(tensor) * scalar (Tensor.__rtruediv__)
                q_a = ((1.0 / (1.0 + exps[0, n, i])) * tg) * ((1.0 / (1.0 + exps[1, n, i])) * ta)
                q_b = ((1.0 / (1.0 + exps[2, n, i])) * tg) * ((1.0 / (1.0 + exps[3, n, i])) * ta)
                w_a = g[1, n, i]
                w_b = g[2, n, i]
                numerator[n, i] = q_a * w_a + q_b * w_b
                denominator[n, i] = w_a + w_b

    @njit(cache=True, boundscheck=False, nogil=True)
    def uniform_float32(x, size, out):
        """Per plane: the 'valid' mean of ``size`` rows in float64 stored as float32, then of ``size`` columns
        (sums from 0.0 left to right, divided by size: avg_pool2d's (size, 1) then (1, size), as float32)."""
        planes, height, width = x.shape
        rows_out, columns_out = out.shape[1], out.shape[2]
        middle = np.empty(width, dtype=np.float32)
        for p in range(planes):
            for i in range(rows_out):
                for j in range(width):
                    acc = 0.0
                    for k in range(size):
                        acc = acc + np.float64(x[p, i + k, j])
                    middle[j] = np.float32(acc / size)
                for j in range(columns_out):
                    acc = 0.0
                    for k in range(size):
                        acc = acc + np.float64(middle[j + k])
                    out[p, i, j] = np.float32(acc / size)

    @njit(cache=True, boundscheck=False, nogil=True)
    def fused_multiply_add(a, b, c, out):
        for i in range(a.shape[0]):
            out[i] = fma(a[i], b[i], c[i])

    return {"separable": separable, "separable_products": separable_products, "fma": fused_multiply_add,
            "vif_gain": vif_gain, "fma_scalar": fma, "qabf_start": qabf_start, "qabf_arguments": qabf_arguments,
            "qabf_finish": qabf_finish, "uniform_float32": uniform_float32}


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
    """``(gain, sv_sq, sigma1_sq)`` of :func:`metrics.functional.vif._scale_terms` from its filtered statistics.

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
