"""Qabf: Xydeas and Petrovic's edge-information preservation (gradient-based fusion quality)."""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F

from . import _kernels
from ._checks import check_inputs, to_255
from ._filters import separable_correlate_valid

__all__ = ["qabf", "sobel_strength_orientation"]

# Xydeas-Petrovic sigmoid parameters (strength g, orientation a) and the weight exponent L.
_TG, _KG, _DG = 0.9994, -15.0, 0.5
_TA, _KA, _DA = 0.9879, -22.0, 0.8
_L = 1.0


_CONSTANTS = {"half_pi": math.pi / 2, "tg": _TG, "kg": _KG, "dg": _DG, "ta": _TA, "ka": _KA, "da": _DA}


def _sobel(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """MATLAB ``conv2(v, h3, 'same')`` and ``conv2(v, h1, 'same')`` (zero padding): sx, sy, N x 1 x H x W."""
    return _sobel_valid(F.pad(v, (1, 1, 1, 1)))  # 'same' with zeros outside the image


def _sobel_valid(padded: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """sx, sy of the rows and columns of ``padded`` that have a neighbour on every side ('valid')."""
    # conv2 flips the kernel: flip(h3) = [1 2 1]' x [1 0 -1], flip(h1) = [-1 0 1]' x [1 2 1].
    sx = separable_correlate_valid(padded, (1.0, 2.0, 1.0), (1.0, 0.0, -1.0))
    sy = separable_correlate_valid(padded, (-1.0, 0.0, 1.0), (1.0, 2.0, 1.0))
    return sx, sy


#: Pixels per strip of :func:`_compiled_maps` (its working set: about 270 bytes per pixel of a strip).
_STRIP_PIXELS = 1 << 18


def _compiled_maps(images: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """The numerator and denominator maps (N x H W) of (F, IR, VIS) on the 0-255 scale, strip by strip.

    Each strip of rows is stacked with a one-row halo (zeros at the image's top and bottom, as ``_sobel``
    pads), its Sobel responses and maps computed (:func:`_kernels.qabf_maps`) and written into the full-size
    maps: every value by the same operations as the whole image's (the filter is per pixel, torch's sqrt /
    atan / exp elementwise), so the same bits, in 16 bytes per pixel plus one strip's working set.
    """
    n, _, height, width = images[0].shape
    numerator, denominator = (images[0].new_empty(n, height * width) for _ in range(2))
    rows = max(1, _STRIP_PIXELS // max(1, width))
    for top in range(0, height, rows):
        count = min(rows, height - top)
        low, high = max(top - 1, 0), min(top + count + 1, height)
        part = torch.cat([x[..., low:high, :] for x in images])
        padded = F.pad(part, (1, 1, 1 if low == top else 0, 1 if high == top + count else 0))
        num, den = _kernels.qabf_maps(*_sobel_valid(padded), _CONSTANTS)
        numerator[:, top * width:(top + count) * width] = num
        denominator[:, top * width:(top + count) * width] = den
    return numerator, denominator


def sobel_strength_orientation(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Edge strength and orientation as the references compute them.

    MATLAB ``conv2(v, h, 'same')`` (a true convolution, zero padding) with the Sobel
    kernels h3 = [-1 0 1; -2 0 2; -1 0 1] (sx) and h1 = [1 2 1; 0 0 0; -1 -2 -1] (sy);
    g = sqrt(sx^2 + sy^2); a = atan(sy / sx), and pi / 2 where sx == 0.

    Shape:
        v: N x 1 x H x W (any scale); returns g and a, both N x 1 x H x W.
    """
    sx, sy = _sobel(v)
    g = torch.sqrt(sx.pow(2) + sy.pow(2))
    zero = sx == 0
    a = torch.where(zero, torch.full_like(sx, math.pi / 2), torch.atan(sy / torch.where(zero, torch.ones_like(sx), sx)))
    return g, a


def _preservation(g_src: torch.Tensor, a_src: torch.Tensor, g_f: torch.Tensor, a_f: torch.Tensor) -> torch.Tensor:
    """Per-pixel edge preservation Q^{SF} = Q_g Q_a of a source S in the fused image F.

    Relative strength G = g_F / g_S where g_S > g_F, g_S / g_F where g_S < g_F, and, the
    references' quirk, g_F (not 1) where g_S == g_F. Relative orientation
    A = 1 - |a_S - a_F| / (pi / 2).
    """
    larger = torch.maximum(g_src, g_f)
    ratio = torch.minimum(g_src, g_f) / torch.where(larger > 0, larger, torch.ones_like(larger))
    strength = torch.where(g_src == g_f, g_f, ratio)
    orientation = 1 - (a_src - a_f).abs() / (math.pi / 2)
    q_g = _TG / (1 + torch.exp(_KG * (strength - _DG)))
    q_a = _TA / (1 + torch.exp(_KA * (orientation - _DA)))
    return q_g * q_a


def qabf(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """Qabf = sum(Q^{AF} g_A^L + Q^{BF} g_B^L) / sum(g_A^L + g_B^L), L = 1 (A = IR, B = VIS).

    Sobel strength / orientation of 255 x each image (:func:`sobel_strength_orientation`),
    sigmoids Tg = 0.9994, kg = -15, Dg = 0.5, Ta = 0.9879, ka = -22, Da = 0.8, with the
    quirk of VIFB ``metricsQabf.m`` and CDDFuse ``Evaluator.Qabf`` kept (see
    :func:`_preservation`). Range [0, 1]; symmetric in IR and VIS. NaN with a warning
    where both sources have no edge at all (all-zero images: the weights sum to 0).

    Shape:
        fused, ir, vis: N x 1 x H x W in [0, 1]; returns N values (float64 on CPU).

    Example:
        >>> import torch
        >>> ir = torch.linspace(0, 1, 64).view(1, 1, 8, 8)
        >>> qabf(ir, ir, ir.flip(-1)).shape
        torch.Size([1])
    """
    check_inputs(fused, ir, vis)
    n = fused.shape[0]
    images = (to_255(fused), to_255(ir), to_255(vis))
    if images[0].dtype == torch.float64 and images[0].device.type == "cpu" and not images[0].requires_grad \
            and _L == 1.0 and _kernels.available():  # the lines below, compiled (torch's sqrt, atan, exp): same bits
        numerator_map, denominator_map = _compiled_maps(images)
        numerator, denominator = numerator_map.sum(1), denominator_map.sum(1)
    else:
        v = torch.cat(images)  # elementwise: to_255 of the cat
        g, a = sobel_strength_orientation(v)
        (g_f, g_a, g_b), (a_f, a_a, a_b) = g.split(n), a.split(n)
        w_a, w_b = g_a.pow(_L), g_b.pow(_L)
        numerator = (_preservation(g_a, a_a, g_f, a_f) * w_a
                     + _preservation(g_b, a_b, g_f, a_f) * w_b).flatten(1).sum(1)
        denominator = (w_a + w_b).flatten(1).sum(1)
    undefined = denominator == 0
    if undefined.any():
        warnings.warn(f"Qabf: both sources have no edges (all-zero images) in {int(undefined.sum())} image(s): NaN",
                      RuntimeWarning, stacklevel=2)
    return torch.where(undefined, torch.full_like(numerator, float("nan")),
                       numerator / torch.where(undefined, torch.ones_like(denominator), denominator))
