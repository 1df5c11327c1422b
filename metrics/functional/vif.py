"""Visual information fidelity for fusion: Han et al.'s VIFF (``VIF``) and Sheikh-Bovik's pixel VIF (``VIFP``).

Both rest on the same pixel-domain Gaussian scale-space model (Sheikh and Bovik,
``vifp_mscale``): 4 scales, Gaussian windows N = 2^(5-s) + 1 with sigma N / 5,
'valid' filtering, and from scale 2 on the image is filtered and decimated by 2.
Per scale and pixel the source (reference) variance s1^2, the gain g and the
distortion variance sv^2 give

    VID = log10(1 + g^2 s1^2 / (sv^2 + sigma_n^2)),   VIND = log10(1 + s1^2 / sigma_n^2)

with the reference's clamps (negative variances to 0; g = 0 where s1^2 < 1e-10 or
s2^2 < 1e-10; g < 0 -> g = 0 and sv^2 = s2^2; sv^2 >= 1e-10). Statistics on the
0-255 scale, 255 x the input (for 8-bit images read as float32 this differs from the
integer levels by ~1e-5, which moves VIF by ~1e-8). float64 on CPU; float32 on
accelerators, which moves VIF by up to ~3e-4 and VIFP by ~1e-5 on real TNO pairs.
"""

from __future__ import annotations

import math
import warnings

import torch

from ..degenerate import DegenerateInputWarning
from ._checks import check_inputs, to_255
from . import _kernels
from ._filters import filter_products, gaussian_taps
from ._shared import shared, uses

__all__ = ["gain_terms", "vif_maps", "vif_pixel_per_source", "vifp_per_source", "visual_information_fidelity_fusion",
           "visual_information_fidelity_pixel"]

_EPS = 1e-10
_SCALES = 4
# Han et al. 2013 scale weights.
_HAN_WEIGHTS = (1.0 / 2.15, 0.0, 0.15 / 2.15, 1.0 / 2.15)


def _gain_terms(sources: torch.Tensor, dist: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Per scale the clamped ``(gain, sv_sq, sigma1_sq)`` of ``dist`` against each reference (all but sigma_n^2)."""
    terms = []
    count = sources.shape[1]
    for scale in range(1, _SCALES + 1):
        n = 2 ** (_SCALES - scale + 1) + 1
        taps = gaussian_taps(n, n / 5)  # MATLAB fspecial('gaussian', n, n / 5) = outer(taps, taps)
        images = torch.cat([sources, dist], dim=1)  # S references, then the fused image
        if scale > 1:
            images = filter_products(images, [(c, None) for c in range(count + 1)], taps, taps, step=2)
            sources, dist = images[:, :count], images[:, count:]
        # mu1 (S), mu2, E[s^2] (S), E[d^2], E[s d] (S)
        stats = filter_products(images, [(c, None) for c in range(count + 1)] + [(c, c) for c in range(count + 1)]
                                + [(c, count) for c in range(count)], taps, taps)
        terms.append(gain_terms(stats, count))
    return terms


def gain_terms(stats: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``vifp_mscale.m``'s per-pixel variances, gain and clamps at one scale: ``(gain, sv_sq, sigma1_sq)``.

    Args:
        stats: N x (3S + 2) x h x w window statistics of S references and the distorted image: mu1 (S),
            mu2, E[s^2] (S), E[d^2], E[s d] (S).
        count: S.

    Returns:
        three N x S x h x w tensors.
    """
    if stats.device.type == "cpu" and stats.dtype == torch.float64 and not stats.requires_grad \
            and _kernels.available():
        return _kernels.vif_gain_terms(stats, count, _EPS)  # the lines below, compiled: the same bits
    mu1, mu2, e11, e22, e12 = stats.split([count, 1, count, 1, count], dim=1)
    sigma1_sq = (e11 - mu1 * mu1).clamp_min(0)
    sigma2_sq = (e22 - mu2 * mu2).clamp_min(0).expand_as(sigma1_sq)
    sigma12 = e12 - mu1 * mu2

    gain = sigma12 / (sigma1_sq + _EPS)
    sv_sq = sigma2_sq - gain * sigma12
    flat_ref = sigma1_sq < _EPS
    gain = torch.where(flat_ref, 0.0, gain)
    sv_sq = torch.where(flat_ref, sigma2_sq, sv_sq)
    sigma1_sq = torch.where(flat_ref, 0.0, sigma1_sq)
    flat_dist = sigma2_sq < _EPS
    gain = torch.where(flat_dist, 0.0, gain)
    sv_sq = torch.where(flat_dist, 0.0, sv_sq)
    negative = gain < 0
    sv_sq = torch.where(negative, sigma2_sq, sv_sq)
    gain = torch.where(negative, 0.0, gain)
    sv_sq = sv_sq.clamp_min(_EPS)
    return gain, sv_sq, sigma1_sq


def vif_maps(sources: torch.Tensor, dist: torch.Tensor, sigma_n_sq: float,
             terms: list | None = None) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Per scale the VID, VIND and gain maps of ``dist`` against each reference in ``sources``.

    Args:
        sources: N x S x H x W references (S sources), 0-255 scale.
        dist: N x 1 x H x W distorted (fused) image, 0-255 scale.
        sigma_n_sq: visual noise variance.
        terms: :func:`_gain_terms` of ``sources`` and ``dist`` when already computed.

    Returns:
        4 tuples ``(vid, vind, g)``, each N x S x h_s x w_s.
    """
    maps = []
    for gain, sv_sq, sigma1_sq in terms if terms is not None else _gain_terms(sources, dist):
        vid = torch.log10(1 + gain**2 * sigma1_sq / (sv_sq + sigma_n_sq))
        vind = torch.log10(1 + sigma1_sq / sigma_n_sq)
        maps.append((vid, vind, gain))
    return maps


def _shared_terms(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                  f: torch.Tensor) -> list:
    """:func:`_gain_terms` of (IR, VIS) against F, shared by VIF and VIFP of one image (:mod:`._shared`)."""
    return shared("vif.gain_terms", lambda: _gain_terms(torch.cat([a, b], dim=1), f), (fused, ir, vis))


def _too_small(fused: torch.Tensor, name: str) -> bool:
    if min(fused.shape[-2:]) < 41:
        warnings.warn(f"{name}: images of {fused.shape[-2]} x {fused.shape[-1]} px are smaller than 41 x 41, "
                      "too small for the 4-scale model; returning NaN", DegenerateInputWarning, stacklevel=3)
        return True
    return False


@uses('vif.gain_terms')
def visual_information_fidelity_fusion(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor, *,
                                       sigma_n_sq: float = 0.005 * 255**2, c: float = 1e-7) -> torch.Tensor:
    """Han et al. 2013 VIFF (``VIFF_Public.m``, gray case): one symmetric value per image, in [0, ~1], higher is better.

    Per scale and pixel the source with the smaller gain g is chosen (ties: VIS, the
    reference's second image); F_s = sum(VID + c) / sum(VIND + c) over the chosen maps;
    VIFF = sum_s p_s F_s with p = [1, 0, 0.15, 1] / 2.15.

    Args:
        fused, ir, vis: N x 1 x H x W float tensors in [0, 1], H, W >= 41.
        sigma_n_sq: visual noise variance on the 0-255 scale (0.005 * 255^2).
        c: the reference's stabiliser C added to every pixel's VID and VIND.

    Returns:
        Tensor[N] (NaN with a warning for images under 41 x 41).
    """
    check_inputs(fused, ir, vis)
    f, a, b = to_255(fused), to_255(ir), to_255(vis)
    if _too_small(fused, "VIF"):
        return torch.full((fused.shape[0],), math.nan, dtype=f.dtype, device=f.device)
    total = torch.zeros(fused.shape[0], dtype=f.dtype, device=f.device)
    terms = _shared_terms(fused, ir, vis, a, b, f)
    for weight, (vid, vind, gain) in zip(_HAN_WEIGHTS, vif_maps(None, None, sigma_n_sq, terms)):
        use_ir = gain[:, :1] < gain[:, 1:]
        vid = torch.where(use_ir, vid[:, :1], vid[:, 1:]).flatten(1)
        vind = torch.where(use_ir, vind[:, :1], vind[:, 1:]).flatten(1)
        total = total + weight * (vid + c).sum(dim=1) / (vind + c).sum(dim=1)
    return total


def vif_pixel_per_source(sources: torch.Tensor, dist: torch.Tensor, sigma_n_sq: float = 2.0,
                         terms: list | None = None) -> torch.Tensor:
    """Sheikh-Bovik ``vifp_mscale`` of ``dist`` (N x 1 x H x W) against each of ``sources`` (N x S x H x W).

    Sum over scales and pixels of VID / the same of VIND, on the 0-255 scale; N x S
    (NaN where a reference is constant: 0 / 0). ``terms``: :func:`_gain_terms` when already computed.
    """
    num = torch.zeros(sources.shape[:2], dtype=sources.dtype, device=sources.device)
    den = torch.zeros_like(num)
    for vid, vind, _ in vif_maps(sources, dist, sigma_n_sq, terms):
        num = num + vid.flatten(2).sum(dim=2)
        den = den + vind.flatten(2).sum(dim=2)
    return num / den


def vifp_per_source(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor, sigma_n_sq: float = 2.0) -> torch.Tensor:
    """VIFP(IR, F) and VIFP(VIS, F) of N x 1 x H x W images in [0, 1]: N x 2 (no checks; shared work reused)."""
    f, a, b = to_255(fused), to_255(ir), to_255(vis)
    return shared("vif.vifp_per_source",
                  lambda: vif_pixel_per_source(torch.cat([a, b], dim=1), f, sigma_n_sq,
                                               _shared_terms(fused, ir, vis, a, b, f)),
                  (fused, ir, vis), sigma_n_sq=sigma_n_sq)


@uses('vif.gain_terms', 'vif.vifp_per_source')
def visual_information_fidelity_pixel(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor, *,
                                      sigma_n_sq: float = 2.0) -> torch.Tensor:
    """Sheikh-Bovik pixel VIF summed over the sources: VIFP(IR, F) + VIFP(VIS, F), in [0, ~2], higher is better.

    Args:
        fused, ir, vis: N x 1 x H x W float tensors in [0, 1], H, W >= 41.
        sigma_n_sq: visual noise variance on the 0-255 scale (2, as ``vifp_mscale``).

    Returns:
        Tensor[N]; NaN with a warning for images under 41 x 41 or a constant source (0 / 0).
    """
    check_inputs(fused, ir, vis)
    f, a, b = to_255(fused), to_255(ir), to_255(vis)
    if _too_small(fused, "VIFP"):
        return torch.full((fused.shape[0],), math.nan, dtype=f.dtype, device=f.device)
    total = vifp_per_source(fused, ir, vis, sigma_n_sq).sum(dim=1)
    if torch.isnan(total).any():
        warnings.warn("VIFP: a constant source image makes VIFP 0 / 0; returning NaN for it", DegenerateInputWarning,
                      stacklevel=2)
    return total
