"""The ``tang2022`` convention: Linfeng-Tang/Evaluation-for-Image-Fusion as it was before 2023-03-03.

``Evaluation/analysis_Reference.m`` at ``553c1d5`` (as added in ``5d6c43a``, 2022-05-02: the code SeAFusion and
PIAFusion were evaluated with; rewritten in ``7849642`` on 2023-03-03) hands its metric files
three kinds of input, and the metrics inherit the scale of each:

* the **uint8** images from ``imread``: EN, MI, AG (``AG_evaluation`` casts to double itself), and
  SD and VIF, whose files compute on the uint8 arrays with **MATLAB integer arithmetic**: every
  operation on a uint8 array rounds half away from zero and saturates to 0..255;
* ``im2double`` images in **[0, 1]**: SF, MSE, PSNR, CC, SCD, Qabf.

The functions here are the metrics whose values differ from the ``tang`` convention (the
post-2023 code); the others are registered from ``tang`` / ``default`` unchanged
(:mod:`metrics.tang2022`). Every image is read as its 8-bit levels round(255 x), as the
reference's ``imread`` does, and ``im2double`` is levels / 255.

All functions take ``fused``, ``ir``, ``vis``: float tensors N x 1 x H x W in [0, 1] on the
8-bit grid (A = IR, B = VIS), and return N values (float64 on CPU, float32 on accelerators).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from ._checks import check_inputs, compute_dtype, to_255
from ._filters import gaussian_taps, separable_correlate_valid
from .qabf import _L, _preservation  # the same Xydeas-Petrovic model as default Qabf
from .vif import gain_terms

__all__ = ["im2double", "tang2022_qabf", "tang2022_spatial_frequency", "tang2022_standard_deviation",
           "tang2022_vif", "uint8_levels"]

_SATURATE = 255.0  # intmax('uint8')
_SIGMA_N_SQ = 2.0  # vifp_mscale.m's sigma_nsq


def uint8_levels(image: torch.Tensor) -> torch.Tensor:
    """The 8-bit levels round(255 x) as float values (exact integers), N x 1 x H x W, compute dtype."""
    return torch.round(to_255(image))


def im2double(image: torch.Tensor) -> torch.Tensor:
    """MATLAB ``im2double`` of the uint8 image: levels / 255 (one correctly rounded division)."""
    return uint8_levels(image) / 255.0


def _round_half_away(x: torch.Tensor) -> torch.Tensor:
    """MATLAB's rounding of a double into an integer class: to nearest, ties away from zero."""
    truncated = torch.trunc(x)
    tie = (x - truncated).abs() == 0.5
    return torch.where(tie, truncated + torch.sign(x), torch.round(x))


def tang2022_standard_deviation(fused: torch.Tensor, ir: torch.Tensor | None = None,
                                vis: torch.Tensor | None = None) -> torch.Tensor:
    """SD (tang2022): ``SD_evaluation`` on the **uint8** fused image, so every step saturates.

    ``u = mean(mean(F))`` is a double (the mean of the column means, summed left to right as
    Octave does), but ``F - u`` is uint8: rounded half away from zero and **clipped at 0**
    (pixels darker than the mean count 0), and ``(F - u).^2`` is uint8 again: **clipped at 255**
    (every pixel 16 or more levels above the mean counts 255). SD = sqrt(sum / (H W)), so it
    is at most sqrt(255) = 15.97 and is not a standard deviation: about 8-10 on TNO where the
    true SD is 30-50. Only the fused image enters.
    """
    check_inputs(fused, ir, vis)
    levels = uint8_levels(fused)[:, 0]  # N x H x W
    height, width = levels.shape[-2:]
    column_means = levels.sum(dim=-2) / height  # mean over dim 1: exact integer sums, one division
    mean = column_means.cumsum(dim=-1)[:, -1] / width  # mean of the row: a left-to-right sum
    above = _round_half_away(levels - mean.view(-1, 1, 1)).clamp(0, _SATURATE)
    squares = (above * above).clamp_max(_SATURATE)
    return torch.sqrt(squares.flatten(1).sum(dim=1) / (height * width))


def tang2022_spatial_frequency(fused: torch.Tensor, ir: torch.Tensor | None = None,
                               vis: torch.Tensor | None = None) -> torch.Tensor:
    """SF (tang2022): ``SF_evaluation`` of the **im2double** fused image: SF on the [0, 1] scale.

    sqrt(RF1^2 + CF1^2) with RF1 = sqrt(mean of the squared vertical differences) and CF1 the
    same horizontally (means over the (H - 1) W and H (W - 1) differences): ``default`` SF / 255
    (about 0.04 on TNO instead of 11). NaN for an image one pixel high or wide (a mean of nothing).
    """
    check_inputs(fused, ir, vis)
    v = im2double(fused)
    rf1 = torch.sqrt((v[..., 1:, :] - v[..., :-1, :]).pow(2).flatten(1).mean(dim=1))
    cf1 = torch.sqrt((v[..., :, 1:] - v[..., :, :-1]).pow(2).flatten(1).mean(dim=1))
    return torch.sqrt(rf1 * rf1 + cf1 * cf1)


# ----------------------------------------------------------------------------- VIF

def _vifp_uint8(sources: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
    """``vifp_mscale(ref, dist)`` with uint8 ``ref`` and ``dist`` (levels, N x S x H x W and N x 1 x H x W).

    ``filter2`` returns doubles, so only the three products of the first scale are uint8 and
    saturate: ``ref.*ref``, ``dist.*dist`` and ``ref.*dist`` are min(product, 255). From the
    second scale on the images are the filtered doubles. The rest is ``vifp_mscale.m`` line by
    line (4 scales, windows N = 2^(5-s) + 1, sigma N / 5, 'valid', sigma_nsq = 2, its clamps).
    Returns N x S (NaN where a denominator is 0).
    """
    count = sources.shape[1]
    num = torch.zeros(sources.shape[:2], dtype=sources.dtype, device=sources.device)
    den = torch.zeros_like(num)
    for scale in range(1, 5):
        n = 2 ** (4 - scale + 1) + 1
        taps = gaussian_taps(n, n / 5)
        if scale > 1:
            both = separable_correlate_valid(torch.cat([sources, dist], dim=1), taps, taps)[..., ::2, ::2]
            sources, dist = both[:, :count], both[:, count:]
        products = [sources * sources, dist * dist, sources * dist]
        if scale == 1:  # uint8 .* uint8 saturates
            products = [p.clamp_max(_SATURATE) for p in products]
        stats = separable_correlate_valid(torch.cat([sources, dist, *products], dim=1), taps, taps)
        g, sv_sq, sigma1_sq = gain_terms(stats, count)  # vifp_mscale.m's clamps, as VIFP's
        num = num + torch.log10(1 + g * g * sigma1_sq / (sv_sq + _SIGMA_N_SQ)).flatten(2).sum(dim=2)
        den = den + torch.log10(1 + sigma1_sq / _SIGMA_N_SQ).flatten(2).sum(dim=2)
    return num / den


def tang2022_vif(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """VIF (tang2022) = vifp_mscale(IR, F) + vifp_mscale(VIS, F) on the **uint8** images.

    The pre-2023 ``analysis_Reference.m`` passes ``imread``'s uint8 arrays, so the first scale's
    second moments saturate at 255 (:func:`_vifp_uint8`): wherever the images are brighter than
    about 16 levels the scale-1 variances come out negative, are clamped to 0 and that scale
    contributes nothing there. The sum of the two sources (as ``tang``), range [0, ~2]; it
    differs from ``tang`` VIF by tens of percent. NaN with a warning under 41 x 41.
    """
    check_inputs(fused, ir, vis)
    height, width = fused.shape[-2:]
    if height < 41 or width < 41:
        warnings.warn(f"VIF (tang2022) is undefined for a {height} x {width} image (the 4-scale model needs "
                      "41 x 41): NaN", RuntimeWarning, stacklevel=2)
        return torch.full((fused.shape[0],), math.nan, dtype=compute_dtype(fused.device), device=fused.device)
    sources = torch.cat([uint8_levels(ir), uint8_levels(vis)], dim=1)
    total = _vifp_uint8(sources, uint8_levels(fused)).sum(dim=1)
    if torch.isnan(total).any():
        warnings.warn("VIF (tang2022): a source without any information at all four scales makes "
                      "vifp_mscale 0 / 0: NaN", RuntimeWarning, stacklevel=2)
    return total


# ----------------------------------------------------------------------------- Qabf

# Sobel kernels of analysis_Qabf.m: SAx = conv2(pA, h3, 'same'), SAy = conv2(pA, h1, 'same').
_H1 = ((1.0, 2.0, 1.0), (0.0, 0.0, 0.0), (-1.0, -2.0, -1.0))
_H3 = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))


def _conv2_same_octave(v: torch.Tensor, kernel: tuple[tuple[float, ...], ...]) -> torch.Tensor:
    """MATLAB ``conv2(v, kernel, 'same')`` of a 3 x 3 kernel, summed in GNU Octave's order.

    Octave's conv2 (``dconv2o`` in liboctave) adds, for each output pixel, the kernel column
    j = 3, 2, 1 and within it the kernel row i = 1, 2, 3, term b(i, j) v(p + 2 - i, q + 2 - j),
    left to right from 0. On [0, 1] images the terms are not integers, so the summation order
    sets the last bit of the result, and that bit decides Qabf's g_S == g_F ties; this order
    gives Octave's values bit for bit. Zero padding outside the image. v: N x 1 x H x W.
    """
    height, width = v.shape[-2:]
    padded = F.pad(v, (1, 1, 1, 1))
    out = torch.zeros_like(v)
    for j in (2, 1, 0):
        for i in (0, 1, 2):
            if kernel[i][j]:
                out = out + kernel[i][j] * padded[..., 2 - i:2 - i + height, 2 - j:2 - j + width]
    return out


def _correctly_rounded_sqrt(x: torch.Tensor) -> torch.Tensor:
    """IEEE sqrt (correctly rounded, as MATLAB's and numpy's). torch's float64 sqrt on CPUs with
    AVX-512 is not: about 1 % of its results are 1 ulp off, which moves exact ties; CUDA's is."""
    if x.device.type != "cpu":
        return torch.sqrt(x)
    return torch.from_numpy(np.sqrt(x.detach().numpy()))


def _strength_orientation(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """analysis_Qabf's g = sqrt(Sx^2 + Sy^2) and a = atan(Sy / Sx) (pi / 2 where Sx == 0), N x 1 x H x W."""
    sx, sy = _conv2_same_octave(v, _H3), _conv2_same_octave(v, _H1)
    zero = sx == 0
    orientation = torch.where(zero, torch.full_like(sx, math.pi / 2),
                              torch.atan(sy / torch.where(zero, torch.ones_like(sx), sx)))
    return _correctly_rounded_sqrt(sx * sx + sy * sy), orientation


def tang2022_qabf(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """Qabf (tang2022): ``analysis_Qabf`` on the **im2double** images, where its tie quirk bites.

    The Xydeas-Petrovic model of ``default`` Qabf (:func:`metrics.functional.qabf.qabf`), but on
    the [0, 1] scale. Scale matters through the quirk every reference shares: where g_S == g_F
    the relative strength is g_F itself, not 1. On the 0-255 scale g_F is large there and the
    sigmoid gives ~1, as for a perfect match; on the [0, 1] scale g_F is 255 x smaller (often
    < 0.5), so a pixel whose edge the fused image copies exactly scores almost 0. The ties are
    exact comparisons of doubles, so the Sobel sums follow Octave's summation order
    (:func:`_conv2_same_octave`). Range [0, 1]; NaN with a warning where both sources have no edge.
    """
    check_inputs(fused, ir, vis)
    n = fused.shape[0]
    g, a = _strength_orientation(im2double(torch.cat([fused, ir, vis])))
    (g_f, g_a, g_b), (a_f, a_a, a_b) = g.split(n), a.split(n)
    w_a, w_b = g_a.pow(_L), g_b.pow(_L)
    numerator = (_preservation(g_a, a_a, g_f, a_f) * w_a + _preservation(g_b, a_b, g_f, a_f) * w_b).flatten(1).sum(1)
    denominator = (w_a + w_b).flatten(1).sum(1)
    undefined = denominator == 0
    if undefined.any():
        warnings.warn(f"Qabf (tang2022): both sources have no edges in {int(undefined.sum())} image(s): NaN",
                      RuntimeWarning, stacklevel=2)
    return torch.where(undefined, torch.full_like(numerator, math.nan),
                       numerator / torch.where(undefined, torch.ones_like(denominator), denominator))
