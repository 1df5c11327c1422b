"""Metric variants of the other evaluation codes: ``vifb``, ``cddfuse`` and ``tang``.

Each function reproduces one metric as one public evaluation code computes it,
quirks included; the docstring names the quirk and the reference file. The
metrics a convention shares with ``default`` are not repeated here: the registry
(:mod:`metrics.conventions`) points them at the default functional.

References:
    vifb: ``xingchenzhang/VIFB`` ``metrics/metrics*.m``, called ``metricsX(VIS, IR, F)`` on uint8 images.
    cddfuse: ``Zhaozixiang1228/MMIF-CDDFuse`` ``utils/Evaluator.py``, ``Evaluator.X(F, IR, VIS)`` on gray
        float32 0-255 images.
    tang: ``Linfeng-Tang/Evaluation-for-Image-Fusion`` ``Evaluation/*.m`` with the inputs of
        ``analysis_Reference.m`` (uint8 for EN / MI, ``im2double(x) * 255`` for the rest).

Use :func:`get_functional` to get any (metric, convention) pair as a function.

All functions take ``fused``, ``ir``, ``vis``: float tensors N x 1 x H x W in [0, 1] and
return N values (float64 on CPU).
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Callable

import torch
import torch.nn.functional as F

from . import _kernels
from ._checks import check_inputs, compute_dtype, to_255
from .average_gradient import matlab_gradient
from .entropy import gray_levels
from .mse import mean_squared_error
from .rmse import vifb_rmse
from .ssim import ssim_valid
from ._shared import uses
from .vif import vifp_per_source

__all__ = [
    "cddfuse_average_gradient", "cddfuse_mutual_information", "cddfuse_psnr", "cddfuse_ssim", "cddfuse_vif",
    "get_functional", "tang_correlation", "tang_mse", "tang_mutual_information", "tang_psnr",
    "vifb_mutual_information", "vifb_psnr", "vifb_spatial_frequency", "vifb_ssim",
]


# ----------------------------------------------------------------------------- shared pieces

def _joint_counts(levels_a: torch.Tensor, levels_b: torch.Tensor) -> torch.Tensor:
    """256 x 256 joint histograms of two int64 N x P level images (0..255): N x 256 x 256 counts."""
    n = levels_a.shape[0]
    offsets = torch.arange(n, device=levels_a.device).unsqueeze(1) * 65536
    return torch.bincount((offsets + levels_a * 256 + levels_b).flatten(), minlength=n * 65536).view(n, 65536)


def _entropy(counts: torch.Tensor, log: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """-sum p log p of each row of a count table N x B (0 log 0 = 0), in the unit of ``log``."""
    p = counts.to(compute_dtype(counts.device))
    p = p / p.sum(dim=1, keepdim=True)
    return -(p * log(torch.where(p > 0, p, torch.ones_like(p)))).sum(dim=1)


def _level_counts(levels: torch.Tensor) -> torch.Tensor:
    """256-bin histograms of int64 N x P levels: N x 256 counts."""
    n = levels.shape[0]
    offsets = torch.arange(n, device=levels.device).unsqueeze(1) * 256
    return torch.bincount((levels + offsets).flatten(), minlength=n * 256).view(n, 256)


def _mutual_information(levels_a: torch.Tensor, levels_b: torch.Tensor, log: Callable) -> torch.Tensor:
    """H(a) + H(b) - H(a, b) from exact histograms of int64 N x P levels, in the unit of ``log``."""
    return (_entropy(_level_counts(levels_a), log) + _entropy(_level_counts(levels_b), log)
            - _entropy(_joint_counts(levels_a, levels_b), log))


def _mse_0_255(fused: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """Per-image mean of (255 F - 255 S)^2."""
    return (to_255(fused) - to_255(source)).pow(2).flatten(1).mean(dim=1)


# ----------------------------------------------------------------------------- vifb

def _vifb_levels(image: torch.Tensor) -> torch.Tensor:
    """VIFB ``metricsMutinf.m`` levels: the 8-bit levels min-max stretched to [0, 1], then ``int16(x * 255)``.

    ``int16`` rounds half away from zero; a constant image becomes all zeros.
    Returns int64 N x (H W).
    """
    v = gray_levels(image).to(compute_dtype(image.device))  # the reference reads uint8 images
    low, high = v.amin(dim=1, keepdim=True), v.amax(dim=1, keepdim=True)
    span = high - low
    stretched = torch.where(span > 0, (v - low) / torch.where(span > 0, span, torch.ones_like(span)),
                            torch.zeros_like(v))
    return torch.floor(stretched * 255 + 0.5).long()


def vifb_mutual_information(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """MI (vifb) = MI(VIS, F) + MI(IR, F) in **nats**, each image first min-max stretched.

    Quirks of ``metricsMutinf.m``: (1) natural log, not bits (x 1 / ln 2 = 1.4427 to
    compare with ``default``); (2) every image, the fused one included, is stretched to
    the full range and re-quantised with ``int16(x * 255)`` before the 256 x 256 joint
    histogram. On 8-bit images the stretch is harmless: it multiplies level gaps by
    255 / (max - min) >= 1, a one-to-one relabelling that MI ignores, so
    MI[vifb] = MI[cddfuse] = MI[default] x ln 2 (it would matter only for input that is
    not 8-bit). Symmetric in IR and VIS.
    """
    check_inputs(fused, ir, vis)
    f = _vifb_levels(fused)
    return _mutual_information(_vifb_levels(vis), f, torch.log) + _mutual_information(_vifb_levels(ir), f, torch.log)


def vifb_spatial_frequency(fused: torch.Tensor, ir: torch.Tensor | None = None,
                           vis: torch.Tensor | None = None) -> torch.Tensor:
    """SF (vifb) = sqrt(RF + CF), RF = sum of the H (W - 1) squared horizontal differences / (H W).

    Quirk of ``metricsSpatial_frequency.m``: both sums are divided by the number of
    pixels H W, not by the number of differences (H (W - 1) and (H - 1) W), so SF is a
    little lower than ``default`` (by about 1 / (2 min(H, W)) relative).
    """
    check_inputs(fused, ir, vis)
    v = to_255(fused)
    pixels = v.shape[-2] * v.shape[-1]
    row = (v[..., :, 1:] - v[..., :, :-1]).pow(2).flatten(1).sum(dim=1) / pixels
    column = (v[..., 1:, :] - v[..., :-1, :]).pow(2).flatten(1).sum(dim=1) / pixels
    return torch.sqrt(row + column)


def vifb_ssim(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """SSIM (vifb) = SSIM(VIS, F) + SSIM(IR, F): the **sum**, range [-2, 2].

    ``metricsSsim.m``: Wang's SSIM, 11 x 11 Gaussian window (sigma 1.5), 'valid',
    K = (0.01, 0.03), L = 255, as ``default`` (:func:`~metrics.functional.ssim.ssim_valid`),
    but the two sources are added, not averaged: exactly 2 x ``default``.
    NaN with a warning for images under 11 x 11.
    """
    check_inputs(fused, ir, vis)
    height, width = fused.shape[-2:]
    if height < 11 or width < 11:
        warnings.warn(f"SSIM (vifb) is undefined for a {height} x {width} image (needs 11 x 11): NaN",
                      RuntimeWarning, stacklevel=2)
        return torch.full((fused.shape[0],), math.nan, dtype=compute_dtype(fused.device), device=fused.device)
    f = to_255(fused)
    return ssim_valid(to_255(vis), f) + ssim_valid(to_255(ir), f)


def vifb_psnr(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """PSNR (vifb) = 20 log10(255 / sqrt(M)), M = VIFB's RMSE (:func:`~metrics.functional.rmse.vifb_rmse`).

    Quirk of ``metricsPsnr.m``: its "MSE" M is sqrt(sum of squared errors) / (H W),
    i.e. RMSE / sqrt(H W), not the mean squared error, so the value depends on the image
    size and is far above the usual PSNR (about 60-70 dB on TNO instead of 10-20). +inf
    (with a warning) where F equals both sources.
    """
    m = vifb_rmse(fused, ir, vis)
    if (m == 0).any():
        warnings.warn("PSNR (vifb): the fused image equals both sources (M = 0): inf", RuntimeWarning, stacklevel=2)
    return 20 * torch.log10(255.0 / torch.sqrt(m))


# ----------------------------------------------------------------------------- cddfuse

def cddfuse_mutual_information(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """MI (cddfuse) = MI(F, IR) + MI(F, VIS) in **nats** (sklearn ``mutual_info_score``).

    ``Evaluator.MI``: the exact joint histogram of the 8-bit levels, as ``default``, but
    scikit-learn's natural log: MI[cddfuse] = MI[default] x ln 2 (0.693). Symmetric.
    """
    check_inputs(fused, ir, vis)
    f = gray_levels(fused)
    return _mutual_information(f, gray_levels(ir), torch.log) + _mutual_information(f, gray_levels(vis), torch.log)


def cddfuse_average_gradient(fused: torch.Tensor, ir: torch.Tensor | None = None,
                             vis: torch.Tensor | None = None) -> torch.Tensor:
    """AG (cddfuse) = mean over all H x W pixels of sqrt((gx^2 + gy^2) / 2), MATLAB-``gradient`` differences.

    ``Evaluator.AG`` takes ``np.mean``: the divisor is H W, not ``default``'s (H - 1)(W - 1),
    so AG[cddfuse] = AG[default] x (H - 1)(W - 1) / (H W) (about 0.3 % lower on TNO).
    """
    check_inputs(fused, ir, vis)
    v = to_255(fused)
    if min(v.shape[-2:]) < 2:  # np.gradient raises for an axis of one sample: the reference has no value
        warnings.warn(f"AG (cddfuse) is undefined for a {v.shape[-2]} x {v.shape[-1]} image (np.gradient needs 2 "
                      "samples per axis): NaN", RuntimeWarning, stacklevel=2)
        return v.new_full((v.shape[0],), math.nan)
    s = torch.sqrt((matlab_gradient(v, -1).pow(2) + matlab_gradient(v, -2).pow(2)) / 2)
    return s.flatten(1).mean(dim=1)


@uses('vif.gain_terms', 'vif.vifp_per_source')
def cddfuse_vif(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """VIF (cddfuse) = VIFP(IR, F) + VIFP(VIS, F): Sheikh-Bovik pixel VIF, reported as "VIFF".

    ``Evaluator.VIFF`` is not Han et al.'s VIFF (``default`` VIF) but ``vifp_mscale``
    (sigma_n^2 = 2, eps 1e-10) summed over the sources, i.e. ``default``'s VIFP; a source
    whose VIFP is NaN (a constant source, 0 / 0) counts as 1, as in the reference. The
    reference runs on float32 images (scipy ``convolve2d`` in float32): expect
    differences of about 1e-5 relative to this float64 value.
    """
    check_inputs(fused, ir, vis)
    height, width = fused.shape[-2:]
    if height < 41 or width < 41:
        warnings.warn(f"VIF (cddfuse) is undefined for a {height} x {width} image (the 4-scale model needs "
                      "41 x 41): NaN", RuntimeWarning, stacklevel=2)
        return torch.full((fused.shape[0],), math.nan, dtype=compute_dtype(fused.device), device=fused.device)
    per_source = vifp_per_source(fused, ir, vis, 2.0)  # shared with VIFP of the same image (._shared)
    return torch.where(torch.isnan(per_source), 1.0, per_source).sum(dim=1)


def _uniform7_float32(x: torch.Tensor) -> torch.Tensor:
    """scipy ``uniform_filter(x, 7)`` on a float32 image, 'valid' part: per axis (H, then W) the 7-pixel
    mean is formed in float64 (scipy's line buffers) and stored as float32, as scipy does."""
    compiled = _kernels.uniform_mean_float32(x, 7)  # these two lines compiled: the same bits
    if compiled is not None:
        return compiled
    x = F.avg_pool2d(x.double(), (7, 1), stride=1).float()
    return F.avg_pool2d(x.double(), (1, 7), stride=1).float()


def _skimage_legacy_ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """skimage 0.19 ``structural_similarity(x, y)`` on float32 input: 7 x 7 uniform window, sample
    covariance (x 49 / 48), ``data_range = 2`` (the float dtype range -1..1), mean over the
    windows inside the image. x, y: N x 1 x H x W on the 0-255 scale; returns N values.

    Computed in **float32** at the reference's rounding points (flat-region fix, issue #19 item 5):
    with C1 = 4e-4 and C2 = 3.6e-3 the SSIM of a window where both images are flat is set by the
    float32 rounding residues of the variances (about 1e-3 at level 255), so a float64 value
    differs from the reference by up to 3e-4 on images with flat regions; this reproduces
    scikit-image's float32 arithmetic (same values to ~1e-15 on the DIDFuse TNO pairs)."""
    x, y = x.float(), y.float()
    ux, uy, uxx, uyy, uxy = (_uniform7_float32(t) for t in (x, y, x * x, y * y, x * y))
    k1, k2, data_range, window = 0.01, 0.03, 2.0, 7
    constants = (window * window / (window * window - 1), (k1 * data_range) ** 2, (k2 * data_range) ** 2)
    cov_norm, c1, c2 = (torch.tensor(v, dtype=torch.float32, device=x.device) for v in constants)
    vx, vy, vxy = cov_norm * (uxx - ux * ux), cov_norm * (uyy - uy * uy), cov_norm * (uxy - ux * uy)
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.double().flatten(1).mean(dim=1).to(compute_dtype(x.device))


def cddfuse_ssim(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """SSIM (cddfuse) = SSIM(F, IR) + SSIM(F, VIS) with scikit-image's legacy defaults: a **sum**.

    ``Evaluator.SSIM`` calls ``skimage.metrics.structural_similarity(F, A)`` on float32
    0-255 images with no ``data_range``: skimage 0.19 then takes the float dtype range,
    ``data_range = 2``, so C1 = (0.01 x 2)^2 and C2 = (0.03 x 2)^2 are ~16000 x smaller
    than for L = 255 (flat regions are not stabilised); the window is 7 x 7 uniform with
    sample covariance (N / (N - 1)), and the two sources are added. (skimage >= 0.20
    refuses float input without ``data_range``.) Range [-2, 2]. Computed in float32 like the
    reference (see :func:`_skimage_legacy_ssim`): flat regions make the value depend on float32
    rounding. NaN with a warning under 7 x 7.
    """
    check_inputs(fused, ir, vis)
    height, width = fused.shape[-2:]
    if height < 7 or width < 7:
        warnings.warn(f"SSIM (cddfuse) is undefined for a {height} x {width} image (needs 7 x 7): NaN",
                      RuntimeWarning, stacklevel=2)
        return torch.full((fused.shape[0],), math.nan, dtype=compute_dtype(fused.device), device=fused.device)
    f = to_255(fused)
    return _skimage_legacy_ssim(f, to_255(ir)) + _skimage_legacy_ssim(f, to_255(vis))


def cddfuse_psnr(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """PSNR (cddfuse) = 10 log10(max(F)^2 / MSE), MSE the mean of MSE(F, IR) and MSE(F, VIS) (0-255 scale).

    Quirk of ``Evaluator.PSNR``: the peak is the fused image's own maximum, not 255, so
    PSNR[cddfuse] = PSNR[default] + 20 log10(max(255 F) / 255) (equal when F reaches 255).
    """
    mse = mean_squared_error(fused, ir, vis)
    peak = to_255(fused).flatten(1).amax(dim=1)
    if (mse == 0).any():
        warnings.warn("PSNR (cddfuse): the fused image equals both sources (MSE = 0): inf",
                      RuntimeWarning, stacklevel=2)
    return 10 * torch.log10(peak * peak / mse)


# ----------------------------------------------------------------------------- tang

def tang_mutual_information(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """MI (tang) = H(IR) + H(F) - H(F, IR) + H(VIS) + H(F) - H(F, VIS) in bits, levels 254 and 255 merged jointly.

    Quirk of ``MI_evaluation.m`` / ``Hab.m``: the joint histogram indexes ``grey + 1`` on
    uint8 images, which saturates at 255, so levels 254 and 255 share one bin in the
    joint histogram (not in the marginal entropies, from MATLAB's ``entropy``). The joint
    entropy drops, so MI[tang] >= MI[default], equal when no image of a pair has both
    254 and 255 (e.g. an image without level 255).
    """
    check_inputs(fused, ir, vis)
    f = gray_levels(fused)
    h_f = _entropy(_level_counts(f), torch.log2)
    merged_f = f.clamp_max(254)
    total = torch.zeros_like(h_f)
    for source in (ir, vis):
        s = gray_levels(source)
        h_joint = _entropy(_joint_counts(merged_f, s.clamp_max(254)), torch.log2)
        total = total + _entropy(_level_counts(s), torch.log2) + h_f - h_joint
    return total


def tang_correlation(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """CC (tang) = (r_AF + r_BF) / 2 with the reference's r_BF, which centres B with mean(A).

    ``CC_evaluation.m`` (A = IR, B = VIS as ``analysis_Reference.m`` passes them) computes
    r_BF = sum((B - mean(A)) (F - mean(F))) / sqrt(sum((B - mean(B))^2) sum((F - mean(F))^2)).
    The bug is harmless: sum(F - mean(F)) = 0, so the numerator equals the correct one
    up to float rounding and CC[tang] = CC[default] to about 1e-15. Kept literally.
    NaN where F or a source is constant (0 / 0).
    """
    check_inputs(fused, ir, vis)
    f, a, b = (to_255(x).flatten(1) for x in (fused, ir, vis))
    fc = f - f.mean(dim=1, keepdim=True)
    ac = a - a.mean(dim=1, keepdim=True)
    bc = b - b.mean(dim=1, keepdim=True)
    f_ss = fc.pow(2).sum(dim=1)
    r_af = (ac * fc).sum(dim=1) / torch.sqrt(ac.pow(2).sum(dim=1) * f_ss)
    r_bf = ((b - a.mean(dim=1, keepdim=True)) * fc).sum(dim=1) / torch.sqrt(bc.pow(2).sum(dim=1) * f_ss)
    return (r_af + r_bf) / 2


def tang_mse(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """MSE (tang) = (MSE(F, IR) + MSE(F, VIS)) / 2 on the **[0, 1]** scale.

    ``MSE_evaluation.m`` divides the images by 255 first: MSE[tang] = MSE[default] / 255^2.
    """
    check_inputs(fused, ir, vis)
    return (_mse_0_255(fused, ir) + _mse_0_255(fused, vis)) / 2 / 255.0**2


def tang_psnr(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """PSNR (tang) = 20 log10(255 / sqrt(MSE)) with MSE on the [0, 1] scale: a scale bug.

    ``PSNR_evaluation.m`` scales the images to [0, 1] but keeps the peak 255, so
    PSNR[tang] = PSNR[default] + 20 log10(255) = PSNR[default] + 48.13 dB.
    """
    mse = tang_mse(fused, ir, vis)
    if (mse == 0).any():
        warnings.warn("PSNR (tang): the fused image equals both sources (MSE = 0): inf", RuntimeWarning, stacklevel=2)
    return 20 * torch.log10(255.0 / torch.sqrt(mse))


# ----------------------------------------------------------------------------- lookup

def get_functional(name: str, convention: str = "default") -> Callable[..., torch.Tensor]:
    """The function ``fn(fused, ir, vis) -> Tensor[N]`` computing metric ``name`` under ``convention``.

    Inputs N x C x H x W, C in {1, 3} each: colour follows the convention's colour rule
    (:func:`metrics.color.apply_color_rule`; gray inputs reach the metric untouched).

    Raises ``KeyError`` listing the metrics of the convention when it lacks ``name``.

    Example:
        >>> import torch
        >>> x = torch.tensor([0.0, 0.0, 1.0, 1.0]).view(1, 1, 2, 2)
        >>> get_functional("MI", "cddfuse")(x, x, torch.zeros_like(x))
        tensor([0.6931], dtype=torch.float64)
    """
    from ..registry import get_metric_info  # the registry is filled when :mod:`metrics` is imported

    from ..color import apply_color_rule

    info = get_metric_info(name, convention)
    return functools.partial(apply_color_rule, info.functional, info.color_rule, name=f"{name} ({convention})",
                             **info.options)
