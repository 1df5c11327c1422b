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
    """The numba kernels (:mod:`._numba_fmi`); only called where :func:`._kernels.available`."""
    from . import _numba_fmi as kernels

    return {name: getattr(kernels, name) for name in ("marginal_start", "marginal_entropy", "pair_start",
                                                        "joint_block", "joint_finish", "equal_windows")}


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
