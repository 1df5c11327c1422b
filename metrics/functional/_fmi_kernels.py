"""FMI's per-window work compiled (numba), operation for operation what :mod:`.fmi`'s torch code does.

:func:`fmi_windows` returns what ``fmi._fmi_windows`` returns, bit for bit: every IEEE
operation (additions, products, divisions, comparisons, min / max) in the torch code's
order, its reductions replayed as torch performs them (``sum(dim=0)`` of 9 rows from 0.0
left to right, its 81-cell joint-entropy sum as its cascade: groups of 16 from 0.0, then
the remainder -- in the columns its vectorised loop covers, and its four interleaved
partial sums (``row_sum``) in the last ones; the ``mv`` of the bound covariance as a left
to right sum of rounded products, as it comes out), and every logarithm and square root still
computed by torch (``torch.log``, ``torch.sqrt``: its vectorised library does not round
as libm does) on buffers the kernels fill. The torch code builds a dozen 9 x M and
81 x B temporaries per step; here each window's numbers stay in registers between the
few transcendental calls (about 2.5x faster).

Used by ``fmi._fmi_windows`` on CPU float64 when :func:`available` (numba importable and
its fused multiply-add torch's); the tests compare the two paths on real images.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from . import _kernels

__all__ = ["available", "fmi_windows"]

_TINY = float(np.finfo(np.float64).tiny)
_NEG_INV_LN2 = -1 / math.log(2)
_BLOCK = 2048  # windows per joint-pdf block of the torch code (fmi._CPU_BLOCK)
_SUB_BLOCK = 512  # windows per step of the kernels (two 81 x 512 float64 buffers: 660 kB)


@functools.lru_cache(maxsize=None)
def _compiled():
    from numba import njit

    fma = _kernels._compiled()["fma_scalar"]

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

    return {"marginal_start": marginal_start, "marginal_entropy": marginal_entropy, "pair_start": pair_start,
            "joint_block": joint_block, "joint_finish": joint_finish, "equal_windows": equal_windows}


def _torch_order(values: np.ndarray, chunk: int) -> np.ndarray:
    """Column sums of R x M ``values`` in the order torch's one-thread ``sum(dim=0)`` takes, if its vectorised loop
    covers ``chunk`` columns at a time (numpy reference for the probe; the kernels do the same)."""
    rows, columns = values.shape
    covered = columns // chunk * chunk
    out = np.empty(columns)
    for m in range(columns):
        column = values[:, m]
        if m < covered:
            acc0, acc1, i = 0.0, 0.0, 0
            while i + 16 <= rows:
                for _ in range(16):
                    acc0 = acc0 + column[i]
                    i += 1
                acc1, acc0 = acc1 + acc0, 0.0
            while i < rows:
                acc0 = acc0 + column[i]
                i += 1
            out[m] = ((acc0 + acc1) + 0.0) + 0.0
        else:
            partial = []
            for r in range(4):
                acc0, acc1, i = 0.0, 0.0, 0
                while i + 16 <= rows // 4:
                    for _ in range(16):
                        acc0 = acc0 + column[4 * i + r]
                        i += 1
                    acc1, acc0 = acc1 + acc0, 0.0
                while i < rows // 4:
                    acc0 = acc0 + column[4 * i + r]
                    i += 1
                partial.append(((acc0 + acc1) + 0.0) + 0.0)
            for i in range(rows // 4 * 4, rows):
                partial[0] = partial[0] + column[i]
            out[m] = ((partial[0] + partial[1]) + partial[2]) + partial[3]
    return out


@functools.lru_cache(maxsize=None)
def _chunk() -> int | None:
    """Columns per step of torch's vectorised outer sum on this machine (16 for its AVX2 kernels), or ``None``."""
    generator = np.random.default_rng(0)
    for chunk in (16, 32, 8, 64):
        ok = True
        for rows, columns in ((9, 37), (9, 40), (9, 49), (9, 77), (81, 40), (81, 77)):
            values = generator.random((rows, columns)) * generator.random((rows, 1))
            if rows == 81:  # the joint-entropy sum: a 9 x 9 x B view of a wider buffer, as fmi.py's
                buffer = torch.empty(9, 9, columns + 11, dtype=torch.float64)
                view = buffer[..., :columns]
                view.copy_(torch.from_numpy(values).view(9, 9, columns))
                expected = view.sum(dim=(0, 1)).numpy()
            else:
                expected = torch.from_numpy(values).sum(dim=0).numpy()
            if not np.array_equal(_torch_order(values, chunk), expected):
                ok = False
                break
        if ok:
            return chunk
    return None


def _vector_columns(columns: int) -> int:
    """How many leading columns torch's one-thread sum(dim=0) sums in its vectorised chunks."""
    return columns // _chunk() * _chunk()


@functools.lru_cache(maxsize=None)
def _agrees_with_torch() -> bool:
    """The compiled FMI gives the torch code's per-window values on random windows (flat ones among them)."""
    from .fmi import _fmi_windows_torch

    generator = torch.Generator().manual_seed(0)
    windows = [torch.randint(0, 4, (9, 301), generator=generator).double() for _ in range(3)]
    windows[2][:, :40] = 2.0  # constant fused windows
    windows[0][:, 40:60] = windows[2][:, 40:60]  # IR windows equal to the fused ones
    cells = windows[0].new_empty(2, 9, 9, 128)
    expected = _fmi_windows_torch(*windows, 3, cells)
    return bool(torch.equal(fmi_windows(*windows, 3, block=128), expected))


def available() -> bool:
    """The compiled FMI reproduces torch's here: numba's fma is torch's, torch's reduction order is recognised,
    a probe on random windows agrees, and torch runs one thread (its reductions split across threads otherwise)."""
    return (torch.get_num_threads() == 1 and _kernels.available() and _chunk() is not None
            and _agrees_with_torch())


class _Marginal:
    """A window set's pdf, cdf, deviation, spread, sd and entropy (bins x M / M numpy arrays)."""

    def __init__(self, window: np.ndarray, size: int, kernels) -> None:
        bins, count = window.shape
        self.normalised, self.pdf, clamped, self.cdf, self.deviation = (np.empty((bins, count)) for _ in range(5))
        sd_arg, self.spread = np.empty(count), np.empty(count)
        kernels["marginal_start"](window, size, self.normalised, self.pdf, clamped, self.cdf, self.deviation, sd_arg,
                                  self.spread)
        self.sd = torch.sqrt(torch.from_numpy(sd_arg)).numpy()
        logs = torch.log_(torch.from_numpy(clamped)).numpy()
        self.entropy = np.empty(count)
        kernels["marginal_entropy"](self.pdf, logs, _NEG_INV_LN2, _vector_columns(count), self.entropy)


def _pair(x: _Marginal, f: _Marginal, kernels, rank_products: np.ndarray, block: int) -> np.ndarray:
    bins, count = x.pdf.shape
    cross, spread_product = np.empty(count), np.empty(count)
    kernels["pair_start"](x.deviation, f.deviation, x.spread, f.spread, cross, spread_product)
    spread_root = torch.sqrt(torch.from_numpy(spread_product)).numpy()
    out = np.empty(count)
    block = min(block, count)  # the torch code's blocks: their widths decide its reduction order
    width = min(_SUB_BLOCK, block)  # the kernels' own steps: their buffers stay in cache
    joint, clamped = np.empty((bins * bins, width)), np.empty((bins * bins, width))
    clamped_tensor = torch.from_numpy(clamped)
    for block_start in range(0, count, block):
        block_stop = min(block_start + block, count)
        vectorised_until = block_start + _vector_columns(block_stop - block_start)
        for start in range(block_start, block_stop, width):
            stop = min(start + width, block_stop)
            kernels["joint_block"](start, stop, cross, spread_root, x.cdf, f.cdf, x.pdf, f.pdf, x.sd, f.sd,
                                   rank_products, _vector_columns(count), joint, clamped)
            clamped_tensor[:, :stop - start].log_()  # torch's logarithm, in place
            kernels["joint_finish"](start, stop, joint, clamped, x.entropy, f.entropy, _NEG_INV_LN2,
                                    min(max(vectorised_until - start, 0), stop - start), out)
    return out


def fmi_windows(a: torch.Tensor, b: torch.Tensor, f: torch.Tensor, size: int, block: int = _BLOCK) -> torch.Tensor:
    """``fmi._fmi_windows(a, b, f, size)``: (FMI(A, F) + FMI(B, F)) / 2 per window; bins x M float64 inputs.

    ``block``: windows per joint-pdf block, as the torch code's workspace (``fmi._CPU_BLOCK``).
    """
    kernels = _compiled()
    wa, wb, wf = (np.ascontiguousarray(t.numpy()) for t in (a, b, f))
    bins, count = wa.shape
    ranks = np.arange(bins, 0, -1, dtype=np.float64)
    rank_products = np.outer(ranks, ranks).reshape(-1)
    a_equal, b_equal = np.empty(count, dtype=np.bool_), np.empty(count, dtype=np.bool_)
    kernels["equal_windows"](wa, wf, a_equal)
    fused = _Marginal(wf, size, kernels)
    fmi_af = np.where(a_equal, 1.0, _pair(_Marginal(wa, size, kernels), fused, kernels, rank_products, block))
    # fmi.m quirk: B is compared with the fused window as the A branch left it
    kernels["equal_windows"](wb, np.where(a_equal[None, :], wf, fused.normalised), b_equal)
    fmi_bf = np.where(b_equal, 1.0, _pair(_Marginal(wb, size, kernels), fused, kernels, rank_products, block))
    return torch.from_numpy((fmi_af + fmi_bf) / 2)
