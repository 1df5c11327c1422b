"""SSIM and MS-SSIM of the fused image against the two sources, averaged (differentiable)."""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F

from ._checks import check_inputs, to_255
from ._filters import filter_products, gaussian_taps
from ._shared import shared, uses

__all__ = ["MS_SSIM_WEIGHTS", "multiscale_ssim", "ssim", "ssim_maps", "ssim_valid"]

_WINDOW, _SIGMA, _K1, _K2, _L = 11, 1.5, 0.01, 0.03, 255.0
_C1, _C2 = (_K1 * _L) ** 2, (_K2 * _L) ** 2
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang, Simoncelli and Bovik 2003, 5 scales


def _nan_batch(x: torch.Tensor, message: str) -> torch.Tensor:
    warnings.warn(message, RuntimeWarning, stacklevel=3)
    return x.new_full((x.shape[0],), float("nan"))


def ssim_maps(reference: torch.Tensor, others: list[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Wang's 'valid' SSIM and contrast-structure maps of ``reference`` against each image in ``others``.

    MATLAB ``ssim_index`` (and ``msssim``'s ``ssim_index_new``): 11 x 11 Gaussian window
    (sigma 1.5) applied with ``filter2(..., 'valid')``, C1 = (0.01 L)^2, C2 = (0.03 L)^2,
    L = 255; ssim = (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2)),
    cs = (2 s_xy + C2) / (s_x^2 + s_y^2 + C2). The reference's local statistics are filtered once.

    Shape:
        reference, others[i]: N x 1 x H x W on the 0-255 scale, H, W >= 11; returns, per
        other image, (ssim_map, cs_map), each N x 1 x (H - 10) x (W - 10).

    On CPU outside autograd the maps are computed in strips of output rows (each strip's input with
    the window's 10-row halo) written into the full-size maps: every value by the same operations
    (the filter is per pixel, the rest elementwise), so the same bits, in the maps' 16 bytes per pixel
    per other image plus one strip's working set.
    """
    height = reference.shape[-2] - _WINDOW + 1
    rows = max(1, _STRIP_PIXELS // max(1, reference.shape[-1]))
    if reference.device.type != "cpu" or height <= rows or any(t.requires_grad for t in (reference, *others)):
        return _ssim_maps(reference, others)
    maps = None
    for top in range(0, height, rows):
        count = min(rows, height - top)
        part = _ssim_maps(reference[..., top:top + count + _WINDOW - 1, :],
                          [x[..., top:top + count + _WINDOW - 1, :] for x in others])
        if maps is None:
            maps = [tuple(m.new_empty(*m.shape[:-2], height, m.shape[-1]) for m in pair) for pair in part]
        for pair, strip in zip(maps, part):
            for whole, piece in zip(pair, strip):
                whole[..., top:top + count, :] = piece
    return maps


#: Output pixels per strip of :func:`ssim_maps` (its working set: about 200 bytes per pixel of a strip).
_STRIP_PIXELS = 1 << 18


def _ssim_maps(reference: torch.Tensor, others: list[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """:func:`ssim_maps` in one piece."""
    taps = gaussian_taps(_WINDOW, _SIGMA)
    images = torch.cat([reference, *others], dim=1)  # N x (1 + k) x H x W
    products = [(0, None), (0, 0)] + [p for i in range(1, len(others) + 1) for p in ((i, None), (i, i), (0, i))]
    filtered = filter_products(images, products, taps, taps).split(1, dim=1)
    mu_r, mean_rr = filtered[0], filtered[1]
    var_r = mean_rr - mu_r * mu_r
    maps = []
    for i in range(len(others)):
        mu_o, mean_oo, mean_ro = filtered[2 + 3 * i: 5 + 3 * i]
        var_o = mean_oo - mu_o * mu_o
        cov = mean_ro - mu_r * mu_o
        cs = (2 * cov + _C2) / (var_r + var_o + _C2)
        luminance = (2 * mu_r * mu_o + _C1) / (mu_r * mu_r + mu_o * mu_o + _C1)
        maps.append((luminance * cs, cs))
    return maps


def ssim_valid(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Wang's SSIM(x, y): the mean of the 'valid' SSIM map of :func:`ssim_maps`.

    Shape:
        x, y: N x 1 x H x W on the 0-255 scale, H, W >= 11; returns N values in [-1, 1].
    """
    (ssim_map, _), = ssim_maps(x, [y])
    return ssim_map.flatten(1).mean(dim=1)


def _first_scale_maps(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> list:
    """:func:`ssim_maps` of 255 F against 255 IR and 255 VIS, shared by SSIM and MS-SSIM of one image."""
    return shared("ssim.maps", lambda: ssim_maps(to_255(fused), [to_255(ir), to_255(vis)]), (fused, ir, vis))


@uses('ssim.maps')
def ssim(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """SSIM = (SSIM(F, IR) + SSIM(F, VIS)) / 2, Wang's SSIM, mean of the 'valid' map (:func:`ssim_maps`).

    The average of the two sources (DenseFuse's SSIM_a), on the 0-255 scale. Equals
    torchmetrics' ``structural_similarity_index_measure`` full map cropped by 5 pixels and
    skimage's ``structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=255)`` (tested to 1e-6), ~20x faster in
    float64 on CPU. Differentiable. Range [-1, 1]; SSIM(x, x) = 1. Images smaller than
    11 x 11 have no valid window: NaN with a warning.

    Shape:
        fused, ir, vis: N x 1 x H x W in [0, 1]; returns N values (float64 on CPU).

    Example:
        >>> import torch
        >>> x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> ssim(x, x, x)
        tensor([1.], dtype=torch.float64)
    """
    check_inputs(fused, ir, vis)
    height, width = fused.shape[-2:]
    if height < _WINDOW or width < _WINDOW:
        return _nan_batch(fused, f"SSIM is undefined for a {height} x {width} image (needs at least "
                                 f"{_WINDOW} x {_WINDOW} for one valid window): NaN")
    (map_a, _), (map_b, _) = _first_scale_maps(fused, ir, vis)
    return (map_a.flatten(1).mean(dim=1) + map_b.flatten(1).mean(dim=1)) / 2


def _downsample(x: torch.Tensor) -> torch.Tensor:
    """MATLAB ``imfilter(x, ones(2) / 4, 'symmetric', 'same')`` then ``x(1:2:end, 1:2:end)``.

    2 x 2 block means; an odd last row / column is its own mean (symmetric padding).
    Shape: N x 1 x H x W -> N x 1 x ceil(H / 2) x ceil(W / 2).
    """
    return F.avg_pool2d(x, 2, ceil_mode=True)


def _min_size(scales: int) -> int:
    """Smallest H (or W) whose ``scales - 1`` ceil-halvings still hold an 11-tap window."""
    size = _WINDOW
    for _ in range(scales - 1):
        size = 2 * size - 1
    return size


@uses('ssim.maps')
def multiscale_ssim(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor, *,
                    normalize: str | None = None) -> torch.Tensor:
    """MS_SSIM = (MS-SSIM(F, IR) + MS-SSIM(F, VIS)) / 2, Wang's multi-scale SSIM (``msssim.m``).

    5 scales, weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333); at each scale the mean of
    the 'valid' cs map (:func:`ssim_maps`, Gaussian 11 / 1.5, K = (0.01, 0.03), L = 255),
    at the last the mean of the SSIM map; between scales 2 x 2 block means, then
    decimation by 2 (MATLAB's ``imfilter(ones(2) / 4, 'symmetric')``). MS-SSIM =
    prod_{s<5} cs_s^w_s * ssim_5^w_5. Differentiable. Range [0, 1] where defined.
    Needs H, W >= 161; smaller images, and images with a negative mean cs or SSIM at
    some scale (a fractional power of it is undefined; MATLAB returns a complex number),
    give NaN with a warning.

    ``normalize`` follows torchmetrics' ``multiscale_structural_similarity_index_measure``
    (outside Wang's definition, for a defined value everywhere): ``"relu"`` clamps each
    scale's mean term at 0 (an undefined term then makes that source's MS-SSIM 0),
    ``"simple"`` maps each term t to (t + 1) / 2. Where no term is negative, ``"relu"``
    equals the default exactly.

    Shape:
        fused, ir, vis: N x 1 x H x W in [0, 1]; returns N values (float64 on CPU).

    Example:
        >>> import torch
        >>> x = torch.rand(1, 1, 161, 161, generator=torch.Generator().manual_seed(0))
        >>> multiscale_ssim(x, x, x)
        tensor([1.], dtype=torch.float64)
    """
    check_inputs(fused, ir, vis)
    if normalize not in (None, "relu", "simple"):
        raise ValueError(f"normalize must be None, 'relu' or 'simple', got {normalize!r}")
    height, width = fused.shape[-2:]
    minimum = _min_size(len(MS_SSIM_WEIGHTS))
    if height < minimum or width < minimum:
        return _nan_batch(fused, f"MS_SSIM is undefined for a {height} x {width} image (5 scales of an "
                                 f"{_WINDOW} x {_WINDOW} window need at least {minimum} x {minimum}): NaN")
    f, a, b = to_255(fused), to_255(ir), to_255(vis)
    product_a = product_b = None
    for scale, weight in enumerate(MS_SSIM_WEIGHTS):
        last = scale == len(MS_SSIM_WEIGHTS) - 1
        maps = _first_scale_maps(fused, ir, vis) if scale == 0 else ssim_maps(f, [a, b])
        terms = [m[0] if last else m[1] for m in maps]
        means = [t.flatten(1).mean(dim=1) for t in terms]
        if normalize == "relu":
            means = [torch.relu(m) for m in means]
        elif normalize == "simple":
            means = [(m + 1) / 2 for m in means]
        term_a, term_b = (m.pow(weight) for m in means)
        product_a = term_a if product_a is None else product_a * term_a
        product_b = term_b if product_b is None else product_b * term_b
        if not last:
            f, a, b = _downsample(f), _downsample(a), _downsample(b)
    values = (product_a + product_b) / 2
    if torch.isnan(values).any():
        warnings.warn(f"MS_SSIM: a negative mean contrast-structure (or SSIM) term makes MS-SSIM undefined in "
                      f"{int(torch.isnan(values).sum())} image(s): NaN", RuntimeWarning, stacklevel=2)
    return values
