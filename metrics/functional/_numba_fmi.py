"""The numba kernels of :mod:`._fmi_kernels` (module-level, cached on disk). Imported only where numba is
installed."""

from __future__ import annotations

import numpy as np
from numba import njit

from ._numba_kernels import fma

__all__ = ["cascade", "equal_windows", "joint_block", "joint_finish", "marginal_entropy", "marginal_start",
           "pair_start", "row_sum"]


@njit(cache=True, boundscheck=False, nogil=True, inline="always")
def cascade(values, start, stride, count):
    """torch's multi_row_sum of one accumulator: values[start + stride i], i < count, in levels of 16 (count < 256)."""
    acc0 = 0.0
    acc1 = 0.0
    i = 0
    while i + 16 <= count:
        for _ in range(16):
            acc0 = acc0 + values[start + stride * i]
            i += 1
        acc1 = acc1 + acc0
        acc0 = 0.0
    while i < count:
        acc0 = acc0 + values[start + stride * i]
        i += 1
    return ((acc0 + acc1) + 0.0) + 0.0


@njit(cache=True, boundscheck=False, nogil=True, inline="always")
def row_sum(values):
    """torch's row_sum: how it sums a column outside its 4-vector-wide chunks (4 interleaved partial sums)."""
    size = values.shape[0]
    rows = size // 4
    p0 = cascade(values, 0, 4, rows)
    p1 = cascade(values, 1, 4, rows)
    p2 = cascade(values, 2, 4, rows)
    p3 = cascade(values, 3, 4, rows)
    for i in range(rows * 4, size):
        p0 = p0 + values[i]
    return ((p0 + p1) + p2) + p3


@njit(cache=True, boundscheck=False, nogil=True)
def marginal_start(window, size, normalised, pdf, clamped, cdf, deviation, sd_arg, spread):
    """Normalise (min-max, flat -> ones), pdf with fmi.m's column sums, cdf, deviation, sums; for the logs.

    Loops run over the windows innermost (vectorised); each window's operations are those of fmi.py.
    """
    bins, count = window.shape
    low = window[0].copy()
    high = window[0].copy()
    for k in range(1, bins):
        row = window[k]
        for m in range(count):
            v = row[m]
            low[m] = v if v < low[m] else low[m]
            high[m] = v if v > high[m] else high[m]
    for k in range(bins):
        row, out = window[k], normalised[k]
        for m in range(count):
            out[m] = 1.0 if high[m] == low[m] else (row[m] - low[m]) / (high[m] - low[m])
    total = np.empty(count)
    column = np.empty(count)
    for c in range(size):  # the window's columns, each summed top-down, then left to right
        first = normalised[size * c]
        for m in range(count):
            column[m] = first[m]
        for r in range(1, size):
            row = normalised[size * c + r]
            for m in range(count):
                column[m] = column[m] + row[m]
        for m in range(count):
            total[m] = column[m] if c == 0 else total[m] + column[m]
    for k in range(bins):
        row, out, clamp = normalised[k], pdf[k], clamped[k]
        for m in range(count):
            p = row[m] / total[m]
            out[m] = p
            clamp[m] = p if not p <= 2.2250738585072014e-308 else 2.2250738585072014e-308
    mean = pdf[0].copy()
    for k in range(1, bins):
        row = pdf[k]
        for m in range(count):
            mean[m] = mean[m] + row[m]
    for m in range(count):
        mean[m] = mean[m] / bins
    s2 = np.empty(count)
    s1 = np.empty(count)
    for k in range(bins):
        row, dev, cum = pdf[k], deviation[k], cdf[k]
        square, index = (k + 1.0) * (k + 1.0), k + 1.0
        previous = cdf[k - 1] if k > 0 else cdf[0]
        for m in range(count):
            p = row[m]
            d = p - mean[m]
            dev[m] = d
            if k == 0:
                s2[m] = square * p
                s1[m] = index * p
                spread[m] = d * d
                cum[m] = p
            else:
                s2[m] = s2[m] + square * p
                s1[m] = s1[m] + index * p
                spread[m] = spread[m] + d * d
                cum[m] = p + previous[m]
    for m in range(count):
        sd_arg[m] = s2[m] - s1[m] * s1[m]


@njit(cache=True, boundscheck=False, nogil=True)
def marginal_entropy(pdf, logs, neg_inv_ln2, vector_columns, entropy):
    """sum over the bins of (p log p) (-1 / ln 2): torch's sum(dim=0), left to right from 0.0 in its vector
    chunks (columns < vector_columns), its row_sum order beyond."""
    bins, count = pdf.shape
    for m in range(count):
        entropy[m] = 0.0
    for k in range(bins):
        p, lg = pdf[k], logs[k]
        for m in range(vector_columns):
            entropy[m] = entropy[m] + (p[m] * lg[m]) * neg_inv_ln2
    for m in range(vector_columns):
        entropy[m] = ((entropy[m] + 0.0) + 0.0) + 0.0
    column = np.empty(bins)
    for m in range(vector_columns, count):
        for k in range(bins):
            column[k] = (pdf[k, m] * logs[k, m]) * neg_inv_ln2
        entropy[m] = row_sum(column)


@njit(cache=True, boundscheck=False, nogil=True)
def pair_start(x_dev, f_dev, x_spread, f_spread, cross, spread_product):
    bins, count = x_dev.shape
    for m in range(count):
        cross[m] = x_dev[0, m] * f_dev[0, m]
        spread_product[m] = x_spread[m] * f_spread[m]
    for k in range(1, bins):
        xd, fd = x_dev[k], f_dev[k]
        for m in range(count):
            cross[m] = cross[m] + xd[m] * fd[m]


@njit(cache=True, boundscheck=False, nogil=True)
def joint_block(start, stop, cross, spread_root, x_cdf, f_cdf, x_pdf, f_pdf, x_sd, f_sd, rank_products,
                vector_columns, joint, clamped):
    """The joint pdf of windows start..stop (cell k = 9 i + j: f bin i, x bin j) and |joint| clamped at tiny.

    The windows run innermost (vectorised): per window the operations of fmi._fmi_pair, in its order.
    """
    bins = x_cdf.shape[0]
    width = stop - start
    corr = np.empty(width)
    x_low = np.empty((bins, width))
    x_high = np.empty((bins, width))
    accumulated = np.zeros(width)
    weight = np.empty(width)
    for m in range(width):
        c = cross[start + m]
        corr[m] = 0.0 if c == 0.0 else c / spread_root[start + m]
    for j in range(bins):
        for m in range(width):
            previous = 0.0 if j == 0 else x_cdf[j - 1, start + m]
            if corr[m] >= 0.0:
                x_low[j, m] = previous
                x_high[j, m] = x_cdf[j, start + m]
            else:
                x_low[j, m] = 1.0 - x_cdf[j, start + m]
                x_high[j, m] = 1.0 - previous
    for i in range(bins):
        for j in range(bins):
            cell = i * bins + j
            rank = rank_products[cell]
            mass = joint[cell]
            for m in range(width):
                f_high = f_cdf[i, start + m]
                f_low = 0.0 if i == 0 else f_cdf[i - 1, start + m]
                top = f_high if f_high < x_high[j, m] else x_high[j, m]
                bottom = f_low if f_low > x_low[j, m] else x_low[j, m]
                value = top - bottom
                value = 0.0 if value < 0.0 else value
                mass[m] = value
                accumulated[m] = accumulated[m] + value * rank
    column_f = np.empty(bins)
    column_x = np.empty(bins)
    for m in range(width):
        if start + m < vector_columns:  # torch's sum(dim=0) of the chunk's 9 x M cdfs
            f_sum = 0.0
            x_sum = 0.0
            for k in range(bins):
                f_sum = f_sum + f_cdf[k, start + m]
                x_sum = x_sum + x_cdf[k, start + m]
            f_sum = ((f_sum + 0.0) + 0.0) + 0.0
            x_sum = ((x_sum + 0.0) + 0.0) + 0.0
        else:
            for k in range(bins):
                column_f[k] = f_cdf[k, start + m]
                column_x[k] = x_cdf[k, start + m]
            f_sum = row_sum(column_f)
            x_sum = row_sum(column_x)
        covariance = accumulated[m] - f_sum * x_sum
        flat = x_sd[start + m] == 0.0 or f_sd[start + m] == 0.0 or corr[m] == 0.0
        weight[m] = 0.0 if flat else corr[m] / (covariance / (f_sd[start + m] * x_sd[start + m]))
    for i in range(bins):
        for j in range(bins):
            cell = i * bins + j
            values, magnitudes = joint[cell], clamped[cell]
            for m in range(width):
                w = weight[m]
                value = fma((1.0 - w) * f_pdf[i, start + m], x_pdf[j, start + m], values[m] * w)
                values[m] = value
                magnitude = abs(value)
                magnitudes[m] = magnitude if not magnitude <= 2.2250738585072014e-308 \
                    else 2.2250738585072014e-308


@njit(cache=True, boundscheck=False, nogil=True)
def joint_finish(start, stop, joint, logs, x_entropy, f_entropy, neg_inv_ln2, vector_columns, out):
    """-sum p log|p| over the 81 cells as torch's sum(dim=(0, 1)) of the block (its cascade in its vector
    chunks, columns < vector_columns; its row_sum order beyond), then 2 I / (H(X) + H(F)) (0 where I == 0)."""
    cells = joint.shape[0]
    width = stop - start
    groups = np.zeros(width)
    acc = np.empty(width)
    i = 0
    while i + 16 <= cells:
        for m in range(vector_columns):
            acc[m] = 0.0
        for k in range(i, i + 16):
            p, lg = joint[k], logs[k]
            for m in range(vector_columns):
                acc[m] = acc[m] + lg[m] * p[m]
        for m in range(vector_columns):
            groups[m] = groups[m] + acc[m]
        i += 16
    for m in range(vector_columns):
        acc[m] = 0.0
    while i < cells:
        p, lg = joint[i], logs[i]
        for m in range(vector_columns):
            acc[m] = acc[m] + lg[m] * p[m]
        i += 1
    total = np.empty(width)
    for m in range(vector_columns):
        total[m] = ((acc[m] + groups[m]) + 0.0) + 0.0
    column = np.empty(cells)
    for m in range(vector_columns, width):
        for k in range(cells):
            column[k] = logs[k, m] * joint[k, m]
        total[m] = row_sum(column)
    for m in range(width):
        joint_entropy = total[m] * neg_inv_ln2
        both = x_entropy[start + m] + f_entropy[start + m]
        mutual = both - joint_entropy
        out[start + m] = 0.0 if mutual == 0.0 else 2.0 * mutual / both


@njit(cache=True, boundscheck=False, nogil=True)
def equal_windows(a, b, out):
    bins, count = a.shape
    for m in range(count):
        same = True
        for k in range(bins):
            if a[k, m] != b[k, m]:
                same = False
                break
        out[m] = same
