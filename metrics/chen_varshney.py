"""Qcv: Chen and Varshney's perceptual fusion quality, lower is better.

Registered for the default convention and vifb in :mod:`metrics.catalogue`.
"""

from __future__ import annotations

from .base import FusionMetric
from .functional.chen_varshney import chen_varshney

__all__ = ["ChenVarshney"]


class ChenVarshney(FusionMetric):
    """Qcv: saliency-weighted CSF-filtered squared error over 16 x 16 regions (Chen and Varshney 2007).

    See :func:`~metrics.functional.chen_varshney.chen_varshney` for the steps and the reference's quirks.

    Inputs to ``update``: ``fused``, ``ir``, ``vis`` float N x 1 x H x W in [0, 1].
    ``compute()``: mean over all images, >= 0; lower is better; symmetric in IR and VIS.

    Example:
        >>> import torch
        >>> metric = ChenVarshney()
        >>> x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> metric.update(x, x, x)
        >>> metric.compute()
        tensor(0., dtype=torch.float64)
    """

    functional = staticmethod(chen_varshney)
    higher_is_better = False
    is_differentiable = False
