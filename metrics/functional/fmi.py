"""Haghighat's feature mutual information, fast version (FMI_pixel, FMI_dct, FMI_w), vectorised over windows.

A port of ``fmi.m`` (M. Haghighat and M. A. Razian, "Fast-FMI: non-reference image
fusion metric", AICT 2014; also ``analysis_fmi.m`` in Linfeng-Tang/Evaluation-for-Image-Fusion).
Per w x w sliding window ('valid', w = 3) of the feature images of a source X and of
the fused image F:

1. If the two windows are equal, FMI(X, F) = 1. Otherwise both windows are min-max
   normalised (a constant window becomes all ones) and divided by their sum: the
   marginal pdfs x, f (w^2 bins, MATLAB's column-major order) and their cdfs.
2. c = Pearson correlation of x and f; the joint pdf is Nelsen's mixture of the
   independent pdf and the Frechet upper (c >= 0) or lower (c < 0) bound copula,
   with weight phi = c / corr_bound (0 where c = 0 or a pdf has zero spread).
3. FMI(X, F) = 2 I(X; F) / (H(X) + H(F)) (log2; 0 where I = 0).

The image value is the mean over windows of (FMI(A, F) + FMI(B, F)) / 2.

Faithful to ``fmi.m`` in its two quirks: the B branch compares B's window with the
fused window *as normalised by the A branch* (the reference overwrites it), and the
correlation's sums run left to right over the w^2 terms exactly as MATLAB does,
which decides the result (0 or 1) where both windows are constant. The remaining
sums (Frechet covariances, joint entropy) are computed in closed form: equal to the
reference's loops up to float64 rounding (< 1e-12 per window).

Features (``feature=``): ``"none"`` (gray levels round(255 x)), ``"dct"`` (orthonormal
2-D DCT-II of the whole image, MATLAB ``dct2``), ``"wavelet"`` (one-level ``dwt2``
with the discrete Meyer wavelet, symmetric extension, [cA cH; cV cD] min-max
normalised to [0, 1]). **Deviation**: MATLAB's 'dmey' has 102 taps; we use
PyWavelets' 62-tap 'dmey' (no exact twin exists), so FMI_w differs from MATLAB's
in the third decimal or so and the feature image is 2 x floor((n + 61) / 2) per side
instead of 2 x floor((n + 101) / 2).

float64 on CPU; float32 on accelerators, which moves FMI by up to ~2e-4 on real TNO
pairs (the equal-window and constant-window decisions are taken on float32 values).
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import torch

from ..degenerate import DegenerateInputWarning
from . import _fmi_kernels
from ._checks import check_inputs, compute_dtype

__all__ = ["dct2", "dwt2_dmey", "feature_mutual_information", "fmi_dct", "fmi_map", "fmi_pixel", "fmi_wavelet"]

_FEATURES = ("none", "dct", "wavelet")


def _dct_matrix(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Orthonormal DCT-II matrix C (n x n): dct(x) = C @ x."""
    k = torch.arange(n, dtype=torch.float64).unsqueeze(1)
    i = torch.arange(n, dtype=torch.float64).unsqueeze(0)
    matrix = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    matrix[0] /= math.sqrt(2.0)
    return matrix.to(dtype=dtype, device=device)


def dct2(image: torch.Tensor) -> torch.Tensor:
    """Orthonormal 2-D DCT-II of the last two dimensions (MATLAB ``dct2``, scipy ``dctn(norm="ortho")``)."""
    rows = _dct_matrix(image.shape[-2], image.dtype, image.device)
    cols = _dct_matrix(image.shape[-1], image.dtype, image.device)
    return rows @ image @ cols.T


def _symmetric_indices(length: int, pad: int, device: torch.device) -> torch.Tensor:
    """Indices of a half-sample symmetric extension by ``pad`` on both sides (any ``pad``, period 2 * length)."""
    index = torch.arange(-pad, length + pad, device=device) % (2 * length)
    return torch.where(index < length, index, 2 * length - 1 - index)


def _dwt_last_axis(x: torch.Tensor, filters: torch.Tensor) -> torch.Tensor:
    """One-level DWT along the last axis, PyWavelets ``mode="symmetric"``.

    ``filters`` is 2 x K (decomposition low, high); returns 2 x ... x floor((n + K - 1) / 2).
    """
    taps = filters.shape[1]
    extended = x[..., _symmetric_indices(x.shape[-1], taps - 1, x.device)]
    # Full convolution of the extension, odd outputs: correlation with the reversed filter from index 1, stride 2.
    windows = extended[..., 1:].unfold(-1, taps, 2)
    return torch.stack([windows @ filters[0].flip(0), windows @ filters[1].flip(0)])


def dwt2_dmey(image: torch.Tensor) -> torch.Tensor:
    """One-level 2-D DWT with PyWavelets' 'dmey', symmetric extension, as the image [cA cH; cV cD].

    Args:
        image: ... x H x W.

    Returns:
        ... x 2h x 2w with h = floor((H + 61) / 2), w = floor((W + 61) / 2) (``pywt.dwt2`` layout).
    """
    import pywt  # only this feature needs it

    wavelet = pywt.Wavelet("dmey")
    filters = torch.tensor([wavelet.dec_lo, wavelet.dec_hi], dtype=image.dtype, device=image.device)
    low_high_cols = _dwt_last_axis(image, filters)  # 2 x ... x H x w: filtered along W
    both = _dwt_last_axis(low_high_cols.transpose(-1, -2), filters).transpose(-1, -2)  # 2 x 2 x ... x h x w
    # both[axis0 filter, axis1 filter]: cA = (lo, lo), cH = (hi, lo), cV = (lo, hi), cD = (hi, hi).
    top = torch.cat([both[0, 0], both[1, 0]], dim=-1)
    bottom = torch.cat([both[0, 1], both[1, 1]], dim=-1)
    return torch.cat([top, bottom], dim=-2)


def _rerange(image: torch.Tensor) -> torch.Tensor:
    """Min-max each image (last two dims) to [0, 1]; a constant image becomes all ones (``rerange`` in fmi.m)."""
    low = image.amin(dim=(-2, -1), keepdim=True)
    high = image.amax(dim=(-2, -1), keepdim=True)
    flat = high == low
    return torch.where(flat, torch.ones_like(image), (image - low) / torch.where(flat, 1, high - low))


def _features(image: torch.Tensor, feature: str) -> torch.Tensor:
    """Feature image of N x 1 x H x W gray levels (0-255)."""
    if feature == "none":
        return image
    if feature == "dct":
        out = dct2(image)
        flat = (image == image[..., :1, :1]).flatten(-2).all(dim=-1)[..., None, None]
        if flat.any():  # a constant image: exactly c sqrt(H W) at DC and 0 elsewhere, as MATLAB's / Octave's dct2
            # give it (the matrix product leaves ~1e-13 residues there, which the windows' min-max blows up)
            exact = torch.zeros_like(out)
            exact[..., 0, 0] = image[..., 0, 0] * math.sqrt(image.shape[-2] * image.shape[-1])
            out = torch.where(flat, exact, out)
        return out
    return _rerange(dwt2_dmey(image))


def _windows(image: torch.Tensor, size: int) -> torch.Tensor:
    """All size x size 'valid' windows of N x 1 x H x W as size^2 x (N L): bins first, in MATLAB's column-major
    order within a window, so that every bin is one contiguous row."""
    patches = image[:, 0].unfold(1, size, 1).unfold(2, size, 1)  # N x H' x W' x size(rows) x size(cols)
    return patches.permute(4, 3, 0, 1, 2).reshape(size * size, -1)


def _sequential_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum over the first dim strictly in order (MATLAB's order for these short vectors)."""
    total = x[0]
    for k in range(1, x.shape[0]):
        total = total + x[k]
    return total


def _normalise(window: torch.Tensor) -> torch.Tensor:
    """Min-max each window (bins x M) to [0, 1]; a constant window becomes all ones."""
    low, high = window.amin(dim=0), window.amax(dim=0)
    flat = high == low
    return torch.where(flat, 1.0, (window - low) / torch.where(flat, 1.0, high - low))


def _pdf(normalised: torch.Tensor, size: int) -> torch.Tensor:
    """Window / sum(sum(window)): MATLAB sums each column top-down, then the column sums left to right."""
    columns = [_sequential_sum(normalised[c * size:(c + 1) * size]) for c in range(size)]
    return normalised / _sequential_sum(torch.stack(columns))


def _cumsum(pdf: torch.Tensor) -> torch.Tensor:
    out = [pdf[0]]
    for k in range(1, pdf.shape[0]):
        out.append(pdf[k] + out[-1])
    return torch.stack(out)


def _neg_xlog2x(p: torch.Tensor) -> torch.Tensor:
    """-p log2(p) of a pdf (p >= 0), 0 where p == 0."""
    return p * torch.log(p.clamp_min(torch.finfo(p.dtype).tiny)) * (-1 / math.log(2))


class _Marginal(NamedTuple):
    """What fmi.m computes from one normalised window's pdf (bins x M tensors, M-vectors)."""

    pdf: torch.Tensor
    cdf: torch.Tensor
    deviation: torch.Tensor  # pdf - mean(pdf), MATLAB's left-to-right mean
    spread: torch.Tensor  # sum(deviation .* deviation), left to right
    sd: torch.Tensor  # population standard deviation of the bin index
    entropy: torch.Tensor  # bits


def _marginal(normalised: torch.Tensor, size: int) -> _Marginal:
    bins = size * size
    pdf = _pdf(normalised, size)
    deviation = pdf - _sequential_sum(pdf) / bins
    index = torch.arange(1, bins + 1, dtype=pdf.dtype, device=pdf.device).unsqueeze(1)
    sd = torch.sqrt(_sequential_sum(index**2 * pdf) - _sequential_sum(index * pdf) ** 2)
    return _Marginal(pdf, _cumsum(pdf), deviation, _sequential_sum(deviation * deviation), sd,
                     _neg_xlog2x(pdf).sum(dim=0))


# Windows per block of the bins x bins work on CPU: 2 x 81 x 2048 float64 (2.6 MB) stay in cache, which makes
# FMI ~1.3x faster than one block per chunk (accelerators take the whole chunk).
_CPU_BLOCK = 2048


def _fmi_pair(x: _Marginal, f: _Marginal, cells: torch.Tensor) -> torch.Tensor:
    """FMI of the source and fused windows whose marginals are ``x`` and ``f``: Tensor[M].

    ``cells`` is a 2 x bins x bins x B workspace for the joint-pdf work, done B windows at a time and reused
    across blocks: small enough to stay in cache, and fresh multi-megabyte tensors per operation would cost
    more in page faults than in arithmetic.
    """
    bins, count = x.pdf.shape

    # Pearson correlation of the two pdfs, with MATLAB's left-to-right sums.
    cross = _sequential_sum(x.deviation * f.deviation)
    corr = torch.where(cross == 0, 0.0, cross / torch.sqrt(x.spread * f.spread))

    # The bound copula's mass in cell (i, j): the overlap of [F_(i-1), F_i] with [X_(j-1), X_j] for the upper
    # (Frechet) bound, with [1 - X_j, 1 - X_(j-1)] for the lower one.
    upper = corr >= 0
    zero = torch.zeros_like(x.cdf[:1])
    x_prev = torch.cat([zero, x.cdf[:-1]])
    f_prev = torch.cat([zero, f.cdf[:-1]])
    x_low = torch.where(upper, x_prev, 1 - x.cdf)
    x_high = torch.where(upper, x.cdf, 1 - x_prev)
    cdf_product = f.cdf.sum(dim=0) * x.cdf.sum(dim=0)
    degenerate = (x.sd == 0) | (f.sd == 0) | (corr == 0)
    sd_product = f.sd * x.sd
    ranks = torch.arange(bins, 0, -1, dtype=x.pdf.dtype, device=x.pdf.device)
    rank_products = torch.outer(ranks, ranks).flatten()
    joint_entropy = torch.empty_like(corr)
    block = cells.shape[-1]
    for start in range(0, count, block):
        part = slice(start, min(start + block, count))
        size = part.stop - part.start
        joint, scratch = cells[0, ..., :size], cells[1, ..., :size]
        # Bound covariance sum_ij C(F_i, X_j) - F_i X_j, C = min(u, v) (upper) or max(u + v - 1, 0) (lower).
        # C(F_i, X_j) is the bound's mass below F_i and (beyond 1 -) X_j: the cells (k <= i, l <= j), so
        # sum_ij C(F_i, X_j) = sum_kl mass_kl (bins + 1 - k)(bins + 1 - l) (equal to fmi.m's double loop up
        # to float rounding).
        mass = torch.minimum(f.cdf[:, None, part], x_high[None, :, part], out=joint)
        mass.sub_(torch.maximum(f_prev[:, None, part], x_low[None, :, part], out=scratch)).clamp_min_(0)
        cov_bound = torch.mv(mass.view(bins * bins, size).T, rank_products) - cdf_product[part]
        flat = degenerate[part]
        weight = torch.where(flat, 0.0, corr[part] / torch.where(flat, 1.0, cov_bound / sd_product[part]))
        # Nelsen's joint pdf weight * mass + (1 - weight) f_i x_j and -sum p log2|p| (0 log 0 = 0). p < 0
        # happens where the weight leaves [0, 1]; MATLAB's real(-p log2(p)) is then -p log2|p|.
        joint = mass.mul_(weight).addcmul_(((1 - weight) * f.pdf[:, part]).unsqueeze(1), x.pdf[None, :, part])
        logs = torch.abs(joint, out=scratch).clamp_min_(torch.finfo(joint.dtype).tiny).log_().mul_(joint)
        torch.sum(logs, dim=(0, 1), out=joint_entropy[part])
    joint_entropy *= -1 / math.log(2)

    mutual = x.entropy + f.entropy - joint_entropy
    return torch.where(mutual == 0, 0.0, 2 * mutual / torch.where(mutual == 0, 1.0, x.entropy + f.entropy))


def _fmi_windows(a: torch.Tensor, b: torch.Tensor, f: torch.Tensor, size: int, cells: torch.Tensor) -> torch.Tensor:
    """(FMI(A, F) + FMI(B, F)) / 2 per window; a, b, f are bins x M raw feature windows (workspace ``cells``).

    On CPU in float64, at one thread (the engine's), the compiled kernels compute the same, bit for bit
    (:mod:`._fmi_kernels`; windows up to 3 x 3).
    """
    if (a.device.type == "cpu" and a.dtype == torch.float64 and not a.requires_grad and size <= 3
            and _fmi_kernels.available()):
        return _fmi_kernels.fmi_windows(a, b, f, size, block=cells.shape[-1])
    return _fmi_windows_torch(a, b, f, size, cells)


def _fmi_windows_torch(a: torch.Tensor, b: torch.Tensor, f: torch.Tensor, size: int,
                       cells: torch.Tensor) -> torch.Tensor:
    """:func:`_fmi_windows` in torch operations."""
    a_equal = (a == f).all(dim=0)
    f_normalised = _normalise(f)
    f_marginal = _marginal(f_normalised, size)
    fmi_af = torch.where(a_equal, 1.0, _fmi_pair(_marginal(_normalise(a), size), f_marginal, cells))
    # fmi.m quirk: the B branch compares with the fused window as the A branch left it (normalised unless
    # A's window equalled it); normalising it again changes nothing (min-max is idempotent).
    b_equal = (b == torch.where(a_equal, f, f_normalised)).all(dim=0)
    fmi_bf = torch.where(b_equal, 1.0, _fmi_pair(_marginal(_normalise(b), size), f_marginal, cells))
    return (fmi_af + fmi_bf) / 2


def feature_mutual_information(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor, *, feature: str = "none",
                               window_size: int = 3, chunk_size: int = 16384) -> torch.Tensor:
    """Fast FMI of ``fmi.m``: mean over windows of (FMI(IR, F) + FMI(VIS, F)) / 2, in [0, 1], higher is better.

    Args:
        fused, ir, vis: N x 1 x H x W float tensors in [0, 1]; evaluated on the gray levels round(255 x).
        feature: ``"none"`` (pixels), ``"dct"`` or ``"wavelet"`` (see the module docstring for the deviation).
        window_size: odd sliding-window size w (3).
        chunk_size: windows processed together (memory ~ 9 * chunk_size * 8 bytes per tensor); changes
            the result by float rounding only.

    Returns:
        Tensor[N]; NaN with a warning when the feature image is smaller than the window.
    """
    check_inputs(fused, ir, vis)
    if feature not in _FEATURES:
        raise ValueError(f"feature must be one of {_FEATURES}, got {feature!r}")
    if window_size < 1 or window_size % 2 == 0:
        raise ValueError(f"window_size must be a positive odd integer, got {window_size}")
    dtype = compute_dtype(fused.device)
    levels = [torch.round(t.to(dtype) * 255) for t in (ir, vis, fused)]
    if min(fused.shape[-2:]) < window_size:  # before the features: 'wavelet' pads a 1 x 1 image to 62 x 62
        warnings.warn(f"FMI: a {fused.shape[-2]} x {fused.shape[-1]} image is smaller than the {window_size} x "
                      f"{window_size} window; returning NaN", DegenerateInputWarning, stacklevel=2)
        return torch.full((fused.shape[0],), math.nan, dtype=dtype, device=fused.device)
    a, b, f = (_features(t, feature) for t in levels)
    if min(a.shape[-2:]) < window_size:
        warnings.warn(f"FMI: a {a.shape[-2]} x {a.shape[-1]} feature image is smaller than the {window_size} x "
                      f"{window_size} window; returning NaN", DegenerateInputWarning, stacklevel=2)
        return torch.full((fused.shape[0],), math.nan, dtype=dtype, device=fused.device)
    return fmi_map(a, b, f, window_size=window_size, chunk_size=chunk_size).flatten(1).mean(dim=1)


def fmi_map(ir_features: torch.Tensor, vis_features: torch.Tensor, fused_features: torch.Tensor, *,
            window_size: int = 3, chunk_size: int = 16384) -> torch.Tensor:
    """Per-window (FMI(A, F) + FMI(B, F)) / 2 of feature images (``fmi.m``'s ``fmi_map``).

    Args:
        ir_features, vis_features, fused_features: N x 1 x H x W feature images (any real values).

    Returns:
        N x (H - w + 1) x (W - w + 1).
    """
    n, height, width = fused_features.shape[0], fused_features.shape[-2], fused_features.shape[-1]
    bins, total = window_size * window_size, n * (height - window_size + 1) * (width - window_size + 1)
    block = _CPU_BLOCK if fused_features.device.type == "cpu" else chunk_size
    cells = fused_features.new_empty(2, bins, bins, min(block, chunk_size, total))
    values = fused_features.new_empty(total)
    for i in range(0, total, chunk_size):  # each chunk's windows from the rows they cover: memory O(chunk), not O(H W)
        stop = min(i + chunk_size, total)
        wa, wb, wf = (_window_slice(t, window_size, i, stop)
                      for t in (ir_features, vis_features, fused_features))
        values[i:stop] = _fmi_windows(wa, wb, wf, window_size, cells)
    return values.view(n, height - window_size + 1, width - window_size + 1)


def _window_slice(image: torch.Tensor, size: int, start: int, stop: int) -> torch.Tensor:
    """``_windows(image, size)[:, start:stop]`` (the same numbers, in the same order), built from the image
    rows those windows cover only."""
    rows, cols = image.shape[-2] - size + 1, image.shape[-1] - size + 1
    per_image = rows * cols
    parts, index = [], start
    while index < stop:
        k = index // per_image
        end = min(stop, (k + 1) * per_image)
        first, last = (index - k * per_image) // cols, (end - 1 - k * per_image) // cols
        band = _windows(image[k:k + 1, :, first:last + size], size)  # windows of rows first..last, all columns
        offset = index - k * per_image - first * cols
        parts.append(band[:, offset:offset + end - index])
        index = end
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


def fmi_pixel(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor, **options) -> torch.Tensor:
    """FMI on raw pixels (``fmi(A, B, F, 'none', 3)``): Tensor[N] in [0, 1]."""
    return feature_mutual_information(fused, ir, vis, feature="none", **options)


def fmi_dct(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor, **options) -> torch.Tensor:
    """FMI on the orthonormal DCT of the images (``fmi(A, B, F, 'dct', 3)``): Tensor[N] in [0, 1]."""
    return feature_mutual_information(fused, ir, vis, feature="dct", **options)


def fmi_wavelet(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor, **options) -> torch.Tensor:
    """FMI on the 'dmey' wavelet coefficients (``fmi(A, B, F, 'wavelet', 3)``, 62-tap dmey): Tensor[N] in [0, 1]."""
    return feature_mutual_information(fused, ir, vis, feature="wavelet", **options)
