"""CC: mean Pearson correlation of the fused image with each source."""

from __future__ import annotations

import warnings

import torch

from ._checks import check_inputs, to_255

__all__ = ["correlation_coefficient", "pearson"]


def _is_constant(x: torch.Tensor) -> torch.Tensor:
    """Per-row flag: the range of the row is float noise (<= 100 eps x 255 gray levels)."""
    tolerance = 100 * torch.finfo(x.dtype).eps * 255
    return (x.amax(dim=1) - x.amin(dim=1)) <= tolerance


def pearson(x: torch.Tensor, y: torch.Tensor, *, metric: str, names: tuple[str, str]) -> torch.Tensor:
    """Pearson correlation over all pixels of each image, NaN (with a warning) where one is constant.

    Args:
        x, y: N x ... tensors on any scale (flattened per image).
        metric: metric name for the warning.
        names: what ``x`` and ``y`` are (for the warning), e.g. ``("fused", "ir")``.

    Returns:
        N values in [-1, 1].
    """
    x = x.flatten(1)
    y = y.flatten(1)
    xc = x - x.mean(dim=1, keepdim=True)
    yc = y - y.mean(dim=1, keepdim=True)
    numerator = (xc * yc).sum(dim=1)
    denominator = torch.sqrt(xc.pow(2).sum(dim=1) * yc.pow(2).sum(dim=1))
    undefined = _is_constant(x) | _is_constant(y)
    if undefined.any():
        which = [name for name, flag in zip(names, (_is_constant(x), _is_constant(y))) if flag.any()]
        warnings.warn(f"{metric}: correlation with a constant image ({' and '.join(which)}) is undefined: NaN "
                      f"for {int(undefined.sum())} image(s)", RuntimeWarning, stacklevel=3)
    safe = torch.where(undefined, torch.ones_like(denominator), denominator)
    return torch.where(undefined, torch.full_like(numerator, float("nan")), numerator / safe)


def correlation_coefficient(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """CC = (corr(F, IR) + corr(F, VIS)) / 2, Pearson correlation over the whole image.

    Range [-1, 1]; symmetric in IR and VIS. NaN with a warning where an image is constant.

    Shape:
        fused, ir, vis: N x 1 x H x W in [0, 1]; returns N values (float64 on CPU).

    Example:
        >>> import torch
        >>> x = torch.tensor([0.0, 0.2, 0.4, 1.0]).view(1, 1, 2, 2)
        >>> correlation_coefficient(x, x, 1 - x).round(decimals=6)
        tensor([0.], dtype=torch.float64)
    """
    check_inputs(fused, ir, vis)
    f, a, b = to_255(fused), to_255(ir), to_255(vis)
    return (pearson(f, a, metric="CC", names=("fused", "ir")) + pearson(f, b, metric="CC", names=("fused", "vis"))) / 2
