"""Qcb: Chen and Blum's perceptual fusion quality (contrast sensitivity filter + local contrast preservation)."""

from __future__ import annotations

import functools
import math
import warnings

import torch

from ._checks import check_inputs, to_255

__all__ = ["all_black", "chen_blum", "frequency_filter", "frequency_radius", "normalize_to_levels", "stretch_undefined"]

# Contrast sensitivity function (DoG in the frequency domain) and its viewing-distance scale.
_F0, _F1, _A = 15.3870, 1.3456, 0.7622
_CSF_DIVISOR = 30  # MATLAB: u = (W / 30) u, v = (H / 30) v on freqspace's [-1, 1) grid
# Local contrast: Gaussians of sigma 2 and 4 on a 31 x 31 support (not normalised), and the
# masking response C^p / (h C^q + Z) with k = h = 1.
_SIGMA_CENTRE, _SIGMA_SURROUND, _SUPPORT = 2.0, 4.0, 15
_Z = 1e-4  # p = 3, q = 2 (written out as products in _masked_contrast)


def normalize_to_levels(levels: torch.Tensor) -> torch.Tensor:
    """Per-image min-max stretch of integer levels to 0..255, rounding halves up (Z. Liu's ``normalize1.m``).

    round(255 (v - min) / (max - min)), evaluated once per level 0..255 with the
    reference's operation order and looked up for every pixel; an all-zero image is
    returned unchanged and a constant nonzero image becomes NaN (0 / 0), as in the reference.

    Shape:
        levels: N x 1 x H x W, integer values 0..255 in a float dtype; returns the same shape and dtype.
    """
    n = levels.shape[0]
    low = levels.amin(dim=(-3, -2, -1)).view(n, 1)
    high = levels.amax(dim=(-3, -2, -1)).view(n, 1)
    table = torch.arange(256, dtype=levels.dtype, device=levels.device).expand(n, 256)
    stretched = torch.floor((table - low) / (high - low) * 255 + 0.5)  # MATLAB round, values >= 0
    stretched = torch.where((high == 0) & (low == 0), table, stretched)
    return torch.gather(stretched, 1, levels.reshape(n, -1).long()).view_as(levels)


def stretch_undefined(images: torch.Tensor, n: int) -> torch.Tensor:
    """Which of N (IR, VIS, fused) triples, stacked as 3N stretched images, hold a constant nonzero image.

    Such an image has no min-max stretch: :func:`normalize_to_levels` makes every pixel
    NaN (0 / 0), and so is the reference's metric. Returns bool N.
    """
    return torch.isnan(images.flatten(1)[:, 0]).view(3, n).any(dim=0)


def frequency_radius(height: int, width: int, divisor: float, *, dtype: torch.dtype,
                     device: torch.device) -> torch.Tensor:
    """Radial frequency r = sqrt(u^2 + v^2) of each DFT coefficient, in ``fft2``'s (unshifted) order.

    MATLAB ``[u, v] = freqspace([H, W], 'meshgrid'); u = (W / divisor) u; v = (H / divisor) v``,
    then ``ifftshift``: coefficient k of an n-point DFT (k signed, -floor(n/2) <= k < ceil(n/2))
    gets frequency k (2 / n) (n / divisor), i.e. r is in cycles per image / (divisor / 2).

    Returns:
        H x W tensor.
    """

    def axis(n: int) -> torch.Tensor:
        k = torch.arange(n, dtype=dtype, device=device)
        k = torch.where(k < n - n // 2, k, k - n)
        return k * (2 / n) * (n / divisor)

    v, u = torch.meshgrid(axis(height), axis(width), indexing="ij")
    return torch.sqrt(u * u + v * v)


def frequency_filter(x: torch.Tensor, half_response: torch.Tensor) -> torch.Tensor:
    """Real part of ``ifft2(fft2(x) .* S)`` (MATLAB ``ifft2(ifftshift(fftshift(fft2(x)) .* S))``).

    S is even in frequency (a function of r), so the imaginary part is float noise and
    ``rfft2`` / ``irfft2`` give the real part directly; ``half_response`` is S on
    ``rfft2``'s half grid, H x (W // 2 + 1).

    Shape:
        x: N x C x H x W; returns the same shape.
    """
    return torch.fft.irfft2(torch.fft.rfft2(x) * half_response, s=x.shape[-2:])


@functools.lru_cache(maxsize=16)
def _dog_csf(height: int, width: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The DoG contrast sensitivity S(r) = exp(-(r / f0)^2) - a exp(-(r / f1)^2) on ``rfft2``'s half grid.

    Cached per image size (a test set has few sizes).
    """
    r = frequency_radius(height, width, _CSF_DIVISOR, dtype=dtype, device=device)[:, : width // 2 + 1]
    return (torch.exp(-(r / _F0).pow(2)) - _A * torch.exp(-(r / _F1).pow(2))).contiguous()


def _fft_size(n: int) -> int:
    """The smallest 5-smooth number (2^a 3^b 5^c) >= n: a size FFTs handle fast."""
    while True:
        m = n
        for prime in (2, 3, 5):
            while m % prime == 0:
                m //= prime
        if m == 1:
            return n
        n += 1


@functools.lru_cache(maxsize=16)
def _gaussian_kernel_spectra(height: int, width: int, *, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``rfft2`` of the two contrast Gaussians G = exp(-r^2 / 2 sigma^2) / (2 pi sigma^2) (sigma 2 and 4,
    31 x 31 support, not normalised: the reference's ``gaussian2d``), centred on the origin of a
    ``height`` x ``width`` grid (wrapped), so that a product of spectra is a correlation with G.

    Cached per size (a test set has few distinct sizes).

    Returns:
        complex 2 x height x (width // 2 + 1).
    """
    taps = torch.arange(-_SUPPORT, _SUPPORT + 1, dtype=dtype, device=device)
    kernels = torch.zeros(2, height, width, dtype=dtype, device=device)
    for i, sigma in enumerate((_SIGMA_CENTRE, _SIGMA_SURROUND)):
        g = torch.exp(-(taps[:, None] ** 2 + taps[None, :] ** 2) / (2 * sigma * sigma)) / (2 * math.pi * sigma * sigma)
        kernels[i, : _SUPPORT + 1, : _SUPPORT + 1] = g[_SUPPORT:, _SUPPORT:]
        kernels[i, : _SUPPORT + 1, -_SUPPORT:] = g[_SUPPORT:, :_SUPPORT]
        kernels[i, -_SUPPORT:, : _SUPPORT + 1] = g[:_SUPPORT, _SUPPORT:]
        kernels[i, -_SUPPORT:, -_SUPPORT:] = g[:_SUPPORT, :_SUPPORT]
    return torch.fft.rfft2(kernels)


def _masked_contrast(x: torch.Tensor) -> torch.Tensor:
    """C' = C^3 / (C^2 + 1e-4) with C = |G_2 * x / G_4 * x - 1|, the local band-limited contrast.

    G_s * x is MATLAB ``filter2(G_s, x, 'same')`` (zero padding), computed as a product of
    spectra on the image padded with at least 15 zeros right and below (a linear, not
    circular, convolution): float64 FFTs are much faster on CPU than a 31 x 31 ``conv2d``.

    Shape:
        x: N x 1 x H x W; returns N x 1 x H x W.
    """
    height, width = x.shape[-2:]
    padded = (_fft_size(height + _SUPPORT), _fft_size(width + _SUPPORT))
    spectra = _gaussian_kernel_spectra(*padded, dtype=x.dtype, device=x.device)
    out = torch.empty_like(x)
    for image, result in zip(x.split(1), out.split(1)):  # one image at a time: small buffers are reused
        filtered = torch.fft.irfft2(torch.fft.rfft2(image, s=padded) * spectra, s=padded)[..., :height, :width]
        c = (filtered[:, :1] / filtered[:, 1:]).sub_(1).abs_()  # in place: fresh large buffers are slow on CPU
        c_sq = c * c  # C^p / (h C^q + Z) with p = 3, q = 2, h = 1
        torch.div(c.mul_(c_sq), c_sq.add_(_Z), out=result)
    return out


def chen_blum(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """Qcb: Chen and Blum (2009) fusion quality, as VIFB's ``metricsQcb.m`` (Z. Liu's ``metricChenBlum.m``).

    1. Each image is min-max stretched to integer levels 0..255 (:func:`normalize_to_levels`).
    2. Contrast sensitivity filtering in the frequency domain with the DoG
       S(r) = exp(-(r / 15.3870)^2) - 0.7622 exp(-(r / 1.3456)^2), r from
       :func:`frequency_radius` with divisor 30 (the reference's "DoG1").
    3. Local contrast C = |G_2 * I / G_4 * I - 1| (31 x 31 Gaussians of sigma 2 and 4,
       unnormalised, zero padding 'same'), masked as C' = C^3 / (C^2 + 1e-4).
    4. Preservation Q_SF = min(C'_S, C'_F) / max(C'_S, C'_F); saliency
       lambda_S = C'_S^2 / (C'_IR^2 + C'_VIS^2); Qcb = mean over pixels of
       lambda_IR Q_IR,F + lambda_VIS Q_VIS,F.

    Range [0, 1], higher is better; symmetric in IR and VIS; 1 when F equals both
    sources. Quirks kept: the frequency filter's output is complex in MATLAB and ``abs``
    is taken of the contrast (we use the real part, equal to float noise). Deviation:
    where a masked contrast is exactly 0 the reference computes 0 * Inf = NaN; here the
    ratio is min / max with 0 / 0 = 1 and equal saliencies where both sources are 0
    (never met on real images). A constant nonzero image gives NaN (the reference's
    0 / 0 stretch), with a warning; so does an all-black image (its contrast is 0 / 0 at every
    pixel: NaN in the reference, see :func:`all_black`).

    Shape:
        fused, ir, vis: N x 1 x H x W in [0, 1]; returns N values (float64 on CPU).

    Example:
        >>> import torch
        >>> x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> chen_blum(x, x, x)
        tensor([1.], dtype=torch.float64)
    """
    check_inputs(fused, ir, vis)
    n = fused.shape[0]
    levels = torch.cat([to_255(ir), to_255(vis), to_255(fused)]).round_()  # the reference reads uint8 images
    images = normalize_to_levels(levels)
    csf = _dog_csf(*images.shape[-2:], images.dtype, images.device)
    c_ir, c_vis, c_fused = _masked_contrast(frequency_filter(images, csf)).split(n)

    def preservation(c_src: torch.Tensor) -> torch.Tensor:  # min / max, 1 where both are 0 (0 / 0)
        return torch.minimum(c_src, c_fused).div_(torch.maximum(c_src, c_fused)).nan_to_num_(nan=1.0)

    q_ir, q_vis = preservation(c_ir), preservation(c_vis)
    energy_ir, energy_vis = c_ir * c_ir, c_vis * c_vis  # saliency lambda_S = energy_S / total
    total = energy_ir + energy_vis
    quality = energy_ir.mul_(q_ir).add_(energy_vis.mul_(q_vis)).div_(total)
    no_saliency = total == 0
    if no_saliency.any():  # both sources without contrast: equal weights
        quality = torch.where(no_saliency, (q_ir + q_vis) / 2, quality)
    values = quality.flatten(1).mean(dim=1)
    undefined = stretch_undefined(images, n)
    if undefined.any():
        warnings.warn(f"Qcb: a constant nonzero image cannot be min-max stretched (0 / 0) in "
                      f"{int(undefined.sum())} image(s): NaN", RuntimeWarning, stacklevel=2)
    black = all_black(levels, n) & ~undefined
    if black.any():
        warnings.warn(f"Qcb: an all-black image has no local contrast (G_2 * I / G_4 * I = 0 / 0 at every pixel, "
                      f"NaN in metricsQcb.m) in {int(black.sum())} image(s): NaN", RuntimeWarning, stacklevel=2)
    return torch.where(undefined | black, math.nan, values)


def all_black(levels: torch.Tensor, n: int) -> torch.Tensor:
    """Which of N (IR, VIS, fused) triples, stacked as 3N images, hold an all-zero image (bool N).

    ``normalize1`` leaves it zero, its contrast ``filter2(G1, 0) ./ filter2(G2, 0) - 1`` is NaN
    everywhere, and so is the reference's Qcb (``Q1F`` is ``CfP ./ C1P`` = NaN): VIFB's value for an
    all-black fused image, or all-black sources, is NaN.
    """
    return (levels.flatten(1) == 0).all(dim=1).view(3, n).any(dim=0)
