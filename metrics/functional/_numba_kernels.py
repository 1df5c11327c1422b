"""The numba kernels of :mod:`._kernels`, compiled once per machine (``cache=True``; module-level functions, so
numba's on-disk cache finds them again in the next process). Imported only where numba is installed."""

from __future__ import annotations

import llvmlite.ir as lir
import numpy as np
from numba import njit, types
from numba.extending import intrinsic

__all__ = ["columns_pass", "fma", "fused_multiply_add", "qabf_arguments", "qabf_finish", "qabf_start", "separable",
           "separable_products", "uniform_float32", "vif_gain"]


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
    """vif.gain_terms' per-pixel clamps, operation for operation (stats: N x (3S+2) x h x w)."""
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
    (sums from 0.0 left to right, divided by size: avg_pool2d's (size, 1) then (1, size), as float32).

    Each output's sum takes its terms in that order; the loops run over the pixels of a row innermost, so
    that they vectorise (the same additions, several pixels at a time).
    """
    planes, height, width = x.shape
    rows_out, columns_out = out.shape[1], out.shape[2]
    sums = np.empty(width)
    middle = np.empty(width, dtype=np.float32)
    for p in range(planes):
        for i in range(rows_out):
            first = x[p, i]
            for j in range(width):
                sums[j] = 0.0 + np.float64(first[j])
            for k in range(1, size):
                row = x[p, i + k]
                for j in range(width):
                    sums[j] = sums[j] + np.float64(row[j])
            for j in range(width):
                middle[j] = np.float32(sums[j] / size)
            for j in range(columns_out):
                sums[j] = 0.0 + np.float64(middle[j])
            for k in range(1, size):
                shifted = middle[k:k + columns_out]
                for j in range(columns_out):
                    sums[j] = sums[j] + np.float64(shifted[j])
            target = out[p, i]
            for j in range(columns_out):
                target[j] = np.float32(sums[j] / size)


@njit(cache=True, boundscheck=False, nogil=True)
def fused_multiply_add(a, b, c, out):
    for i in range(a.shape[0]):
        out[i] = fma(a[i], b[i], c[i])
