"""Piella and Heijmans' fusion quality indices Q, Qw and Qe (ICIP 2003), differentiable.

One implementation serves two users:

* the evaluation metric (defaults): Wang's local SSIM index (``ssim_index.m``:
  11 x 11 Gaussian window, sigma 1.5, 'valid', C1 = (0.01 L)^2, C2 = (0.03 L)^2,
  L = 255, statistics on the 0-255 scale) as Q0, saliency = local variance,
  following ``metricPeilla.m`` (``zhengliu6699/imageFusionMetrics``), including
  its quirk that windows where both source variances are 0 get 0.5 added to both
  (so lambda = 0.5 and c = 0.5 there); edges for Qe from [1 0 -1; 1 0 -1; 1 0 -1]
  and its transpose, magnitude, 'same' zero-padded filtering (what the
  reference's broken ``case 3`` intends); Qe = Qw(images) * Qw(edge images).
* the Ataman-Akar training loss (methods spec 4.2): ``window="block"`` (8 x 8
  non-overlapping windows), ``variance="unbiased"`` (divide by 63),
  ``stabilizer="eps"``, ``data_range=1``, ``batch_weights=True`` (c(w)
  normalised over all windows of all images of the batch; a 0-d result),
  ``edge="sobel_minmax"``, ``edge_only=True``, ``exponent=0.7``.

Sources: the first source (``ir`` by position) is ``a`` in the formulas, whose
variance is lambda's numerator; with ``stabilizer="ssim"`` everything is
symmetric in the two sources, with ``"eps"`` almost so (Ataman's loss passes
a = VIS, b = IR: call ``weighted_fusion_quality(fused, vis, ir, ...)``).

Precision: float64 on CPU, float32 on accelerators (Q, Qw, Qe then move by up to
~3e-5 on real TNO pairs), and the input dtype when an input requires grad (a
training loss in float32); ``dtype=`` overrides.
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F

from ..degenerate import DegenerateInputWarning
from ._checks import check_inputs, compute_dtype
from ._filters import filter_products, gaussian_taps, separable_correlate_valid
from ._shared import shared, uses

__all__ = ["edge_dependent_fusion_quality", "fusion_quality_index", "weighted_fusion_quality"]

_WINDOWS = ("gaussian", "block")
_VARIANCES = ("population", "unbiased")
_STABILIZERS = ("ssim", "eps")
_EDGES = ("piella", "sobel_minmax")


def _work_dtype(tensors: tuple[torch.Tensor, ...], dtype: torch.dtype | None) -> torch.dtype:
    if dtype is not None:
        return dtype
    if any(t.requires_grad for t in tensors):
        return tensors[0].dtype
    return compute_dtype(tensors[0].device)


def _local_stats_gaussian(a, b, f, size: int, sigma: float):
    """Gaussian-weighted local means, variances, covariances ('valid'): each N x 1 x H' x W'."""
    taps = gaussian_taps(size, sigma)  # a, b, f, a^2, b^2, f^2, a f, b f: N x 8 x H' x W'
    maps = filter_products(torch.cat([a, b, f], dim=1),
                           [(0, None), (1, None), (2, None), (0, 0), (1, 1), (2, 2), (0, 2), (1, 2)], taps, taps)
    mu_a, mu_b, mu_f, e_aa, e_bb, e_ff, e_af, e_bf = maps.split(1, dim=1)
    return (mu_a, mu_b, mu_f, e_aa - mu_a**2, e_bb - mu_b**2, e_ff - mu_f**2,
            e_af - mu_a * mu_f, e_bf - mu_b * mu_f)


def _local_stats_block(a, b, f, size: int, unbiased: bool):
    """Statistics of non-overlapping ``size x size`` windows (two-pass): each N x 1 x L."""
    def unfold(x):
        return F.unfold(x, kernel_size=size, stride=size)  # N x size^2 x L

    ua, ub, uf = unfold(a), unfold(b), unfold(f)
    mu_a, mu_b, mu_f = (u.mean(dim=1, keepdim=True) for u in (ua, ub, uf))
    da, db, df = ua - mu_a, ub - mu_b, uf - mu_f
    denom = size * size - (1 if unbiased else 0)

    def moment(x, y):
        return (x * y).sum(dim=1, keepdim=True) / denom

    return (mu_a, mu_b, mu_f, moment(da, da), moment(db, db), moment(df, df),
            moment(da, df), moment(db, df))


def _q0(mu_x, mu_f, var_x, var_f, cov_xf, stabilizer: str, c1: float, c2: float, eps: float):
    """Wang-Bovik universal quality index of every window (SSIM form or Ataman's eps form)."""
    if stabilizer == "ssim":
        return ((2 * mu_x * mu_f + c1) * (2 * cov_xf + c2)) / ((mu_x**2 + mu_f**2 + c1) * (var_x + var_f + c2))
    sd_x, sd_f = torch.sqrt(var_x + eps), torch.sqrt(var_f + eps)
    q0 = (cov_xf / (sd_x * sd_f + eps)) * (2 * mu_x * mu_f / (mu_x**2 + mu_f**2 + eps)) \
        * (2 * sd_x * sd_f / (var_x + var_f + eps))
    return torch.where(torch.isnan(q0), torch.zeros_like(q0), q0)


def _window_terms(fused, ir, vis, *, window, window_size, sigma, block_size, variance, stabilizer, eps,
                  data_range):
    """Per window: lambda Q0(a, f) + (1 - lambda) Q0(b, f) and the saliency max(s_a^2, s_b^2); N x K each."""
    if window not in _WINDOWS:
        raise ValueError(f"window must be one of {_WINDOWS}, got {window!r}")
    if variance not in _VARIANCES:
        raise ValueError(f"variance must be one of {_VARIANCES}, got {variance!r}")
    if stabilizer not in _STABILIZERS:
        raise ValueError(f"stabilizer must be one of {_STABILIZERS}, got {stabilizer!r}")
    if window == "gaussian":
        if variance != "population":
            raise ValueError("variance='unbiased' needs window='block' (a Gaussian window has no unbiased form)")
        stats = _local_stats_gaussian(ir, vis, fused, window_size, sigma)
    else:
        stats = _local_stats_block(ir, vis, fused, block_size, variance == "unbiased")
    mu_a, mu_b, mu_f, var_a, var_b, var_f, cov_af, cov_bf = (s.flatten(1) for s in stats)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    q0_a = _q0(mu_a, mu_f, var_a, var_f, cov_af, stabilizer, c1, c2, eps)
    q0_b = _q0(mu_b, mu_f, var_b, var_f, cov_bf, stabilizer, c1, c2, eps)
    if stabilizer == "ssim":
        # metricPeilla.m: where s_a^2 + s_b^2 == 0 both get 0.5. Gaussian-filtered variances of a
        # constant window are 0 only up to rounding, so "zero" is |value| below a rounding tolerance.
        tol = 64 * torch.finfo(var_a.dtype).eps * data_range**2
        var_a, var_b = var_a.clamp_min(0), var_b.clamp_min(0)
        var_a = torch.where(var_a < tol, torch.zeros_like(var_a), var_a)
        var_b = torch.where(var_b < tol, torch.zeros_like(var_b), var_b)
        both_zero = ((var_a + var_b) == 0).to(var_a.dtype) * 0.5
        var_a, var_b = var_a + both_zero, var_b + both_zero
        lam = var_a / (var_a + var_b)
    else:
        lam = var_a / (var_a + var_b + eps)
    return lam * q0_a + (1 - lam) * q0_b, torch.maximum(var_a, var_b)


def _scaled(fused, ir, vis, dtype, data_range):
    work = _work_dtype((fused, ir, vis), dtype)
    return tuple(t.to(work) * data_range for t in (fused, ir, vis))


def _too_small(fused: torch.Tensor, window: str, window_size: int, block_size: int, name: str) -> bool:
    size = window_size if window == "gaussian" else block_size
    if min(fused.shape[-2:]) < size:
        warnings.warn(f"{name}: images of {fused.shape[-2]} x {fused.shape[-1]} px are smaller than the "
                      f"{size} x {size} window; the index is undefined, returning NaN", DegenerateInputWarning,
                      stacklevel=3)
        return True
    return False


def _nan(fused: torch.Tensor, batch_weights: bool, dtype) -> torch.Tensor:
    work = _work_dtype((fused,), dtype)
    shape = () if batch_weights else (fused.shape[0],)
    return torch.full(shape, math.nan, dtype=work, device=fused.device)


@uses('piella.window_terms')
def fusion_quality_index(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor, *, window: str = "gaussian",
                         window_size: int = 11, sigma: float = 1.5, block_size: int = 8,
                         variance: str = "population", stabilizer: str = "ssim", eps: float = 1e-8,
                         data_range: float = 255.0, batch_weights: bool = False,
                         dtype: torch.dtype | None = None) -> torch.Tensor:
    """Piella's fusion quality index Q: the window mean of lambda Q0(a, f) + (1 - lambda) Q0(b, f).

    lambda = s_a^2 / (s_a^2 + s_b^2) (local variances). Range [-1, 1], 1 = best.

    Args:
        fused, ir, vis: N x 1 x H x W float tensors in [0, 1] (ir is source a, vis source b).
        window: ``"gaussian"`` (``window_size`` x ``window_size``, ``sigma``, sliding 'valid') or
            ``"block"`` (non-overlapping ``block_size`` x ``block_size``; remainder rows/columns dropped).
        variance: ``"population"`` or ``"unbiased"`` (block windows only).
        stabilizer: ``"ssim"`` (Wang's C1, C2) or ``"eps"`` (Ataman-Akar's form with ``eps``; NaN -> 0).
        data_range: statistics are computed on ``data_range * image`` (255: the 0-255 scale) and L = data_range.
        batch_weights: average over all windows of all images of the batch (a 0-d result; for losses).
        dtype: compute dtype; default float64 on CPU, float32 on GPU, the input dtype under autograd.

    Returns:
        Tensor[N] (0-d with ``batch_weights=True``); NaN with a warning for images smaller than the window.
    """
    check_inputs(fused, ir, vis)
    if _too_small(fused, window, window_size, block_size, "Q"):
        return _nan(fused, batch_weights, dtype)
    f, a, b = _scaled(fused, ir, vis, dtype, data_range)
    quality, _ = _image_terms((fused, ir, vis), f, a, b, window=window, window_size=window_size, sigma=sigma,
                              block_size=block_size, variance=variance, stabilizer=stabilizer, eps=eps,
                              data_range=data_range)
    return quality.mean() if batch_weights else quality.mean(dim=1)


def _image_terms(inputs: tuple, f, a, b, **options):
    """:func:`_window_terms` of the images themselves, shared by Q, Qw and Qe of one image (:mod:`._shared`)."""
    return shared("piella.window_terms", lambda: _window_terms(f, a, b, **options), inputs, dtype=str(f.dtype),
                  **options)


def _weighted(f, a, b, batch_weights: bool, inputs: tuple | None = None, **options) -> torch.Tensor:
    """Qw of (f, a, b); ``inputs``: the metric's input images when f, a, b are (scaled) they, to share the terms."""
    if inputs is None:
        quality, saliency = _window_terms(f, a, b, **options)
    else:
        quality, saliency = _image_terms(inputs, f, a, b, **options)
    if batch_weights:
        return (saliency * quality).sum() / saliency.sum()
    return (saliency * quality).sum(dim=1) / saliency.sum(dim=1)


@uses('piella.window_terms')
def weighted_fusion_quality(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor, *, window: str = "gaussian",
                            window_size: int = 11, sigma: float = 1.5, block_size: int = 8,
                            variance: str = "population", stabilizer: str = "ssim", eps: float = 1e-8,
                            data_range: float = 255.0, batch_weights: bool = False,
                            dtype: torch.dtype | None = None) -> torch.Tensor:
    """Piella's weighted fusion quality index Qw: sum_w c(w) [lambda Q0(a, f) + (1 - lambda) Q0(b, f)].

    c(w) = max(s_a^2, s_b^2) / its sum over the windows of the image (``batch_weights=True``: over all
    windows of all images in the batch, Ataman-Akar's loss). Range [-1, 1], 1 = best.
    Arguments as :func:`fusion_quality_index`.

    Returns:
        Tensor[N], or a 0-d tensor with ``batch_weights=True``; NaN with a warning for images smaller
        than the window.
    """
    check_inputs(fused, ir, vis)
    if _too_small(fused, window, window_size, block_size, "Qw"):
        return _nan(fused, batch_weights, dtype)
    f, a, b = _scaled(fused, ir, vis, dtype, data_range)
    return _weighted(f, a, b, batch_weights, (fused, ir, vis), window=window, window_size=window_size, sigma=sigma,
                     block_size=block_size, variance=variance, stabilizer=stabilizer, eps=eps,
                     data_range=data_range)


def _safe_magnitude(gx: torch.Tensor, gy: torch.Tensor) -> torch.Tensor:
    """sqrt(gx^2 + gy^2) with a zero (not NaN) gradient where the magnitude is 0."""
    squared = gx**2 + gy**2
    positive = squared > 0
    root = torch.sqrt(torch.where(positive, squared, torch.ones_like(squared)))
    return torch.where(positive, root, torch.zeros_like(root))


def _integer_valued(image: torch.Tensor) -> bool:
    """float64 CPU values that are all integers below 2^40 (8-bit levels on the 0-255 scale), outside autograd."""
    return (image.device.type == "cpu" and image.dtype == torch.float64 and not image.requires_grad
            and image.numel() > 0 and float(image.abs().amax()) < 2.0**40 and torch.equal(image, image.round()))


def edge_map(image: torch.Tensor, edge: str = "piella") -> torch.Tensor:
    """Edge strength of N x 1 x H x W images (any scale), same shape.

    ``"piella"``: correlation with [1 0 -1; 1 0 -1; 1 0 -1] and its transpose, zero padding ('same'),
    magnitude sqrt(gx^2 + gy^2), on the image's own scale.
    ``"sobel_minmax"``: kornia ``sobel``: Sobel kernels / 8 with replicate padding, magnitude
    sqrt(gx^2 + gy^2 + 1e-6), then min-max normalised per image to [0, 1] (kornia
    ``normalize_min_max``, eps 1e-6).
    """
    if edge not in _EDGES:
        raise ValueError(f"edge must be one of {_EDGES}, got {edge!r}")
    if edge == "piella":
        if _integer_valued(image):  # sums of 6 integers: exact in any order, so a separable filter is conv2d's result
            padded = F.pad(image, (1, 1, 1, 1))
            gx = separable_correlate_valid(padded, (1.0, 1.0, 1.0), (1.0, 0.0, -1.0))
            gy = separable_correlate_valid(padded, (1.0, 0.0, -1.0), (1.0, 1.0, 1.0))
            return _safe_magnitude(gx, gy)
        kx = torch.tensor([[1.0, 0.0, -1.0]] * 3, dtype=image.dtype, device=image.device)
        kernel = torch.stack([kx, kx.t()]).unsqueeze(1)
        gx, gy = F.conv2d(image, kernel, padding=1).split(1, dim=1)
        return _safe_magnitude(gx, gy)
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=image.dtype,
                      device=image.device) / 8
    kernel = torch.stack([kx, kx.t()]).unsqueeze(1)
    gx, gy = F.conv2d(F.pad(image, (1, 1, 1, 1), mode="replicate"), kernel).split(1, dim=1)
    magnitude = torch.sqrt(gx**2 + gy**2 + 1e-6)
    low = magnitude.amin(dim=(-2, -1), keepdim=True)
    high = magnitude.amax(dim=(-2, -1), keepdim=True)
    return (magnitude - low) / (high - low + 1e-6)


@uses('piella.window_terms')
def edge_dependent_fusion_quality(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor, *,
                                  window: str = "gaussian", window_size: int = 11, sigma: float = 1.5,
                                  block_size: int = 8, variance: str = "population", stabilizer: str = "ssim",
                                  eps: float = 1e-8, data_range: float = 255.0, batch_weights: bool = False,
                                  edge: str = "piella", exponent: float = 1.0, edge_only: bool = False,
                                  dtype: torch.dtype | None = None) -> torch.Tensor:
    """Piella's edge-dependent fusion quality index Qe = Qw(a, b, f) * Qw(a', b', f')^exponent.

    a', b', f' are edge maps (:func:`edge_map`; ``"sobel_minmax"`` maps are rescaled to [0, data_range]).
    ``edge_only=True`` drops the first factor (Ataman-Akar: Qe = max(Qw(a', b', f'), 0)^0.7). With an
    ``exponent`` other than 1 the edge factor is clamped at 0 before the power. Range [-1, 1], 1 = best.
    Other arguments as :func:`weighted_fusion_quality`.

    Returns:
        Tensor[N], or a 0-d tensor with ``batch_weights=True``; NaN with a warning for images smaller
        than the window.
    """
    check_inputs(fused, ir, vis)
    if _too_small(fused, window, window_size, block_size, "Qe"):
        return _nan(fused, batch_weights, dtype)
    f, a, b = _scaled(fused, ir, vis, dtype, data_range)
    options = dict(window=window, window_size=window_size, sigma=sigma, block_size=block_size, variance=variance,
                   stabilizer=stabilizer, eps=eps, data_range=data_range)
    edges = [edge_map(t, edge) for t in (f, a, b)]
    if edge == "sobel_minmax":
        edges = [e * data_range for e in edges]
    edge_term = _weighted(*edges, batch_weights, **options)
    if exponent != 1:
        edge_term = edge_term.clamp_min(0) ** exponent
    if edge_only:
        return edge_term
    return _weighted(f, a, b, batch_weights, (fused, ir, vis), **options) * edge_term
