"""Qabf: Xydeas-Petrovic edge-information preservation."""

from __future__ import annotations

from .base import FusionMetric
from .functional.qabf import qabf

__all__ = ["Qabf"]


class Qabf(FusionMetric):
    """Qabf: edge strength and orientation of IR and VIS preserved in F, weighted by source edge strength.

    Sobel 'same' (zero padding), Tg = 0.9994, kg = -15, Dg = 0.5, Ta = 0.9879,
    ka = -22, Da = 0.8, L = 1, with the references' g_A == g_F quirk (see
    :func:`metrics.functional.qabf.qabf`).

    Inputs to ``update``: ``fused``, ``ir``, ``vis`` float N x 1 x H x W in [0, 1].
    ``compute()``: mean over all images, range [0, 1]; symmetric in IR and VIS.

    Example:
        >>> import torch
        >>> metric = Qabf()
        >>> x = torch.linspace(0, 1, 64).view(1, 1, 8, 8)
        >>> metric.update(x, x, x.flip(-1))
        >>> metric.per_image().shape
        torch.Size([1])
    """

    functional = staticmethod(qabf)
    higher_is_better = True
    is_differentiable = False
