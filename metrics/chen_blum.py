"""Qcb: Chen and Blum's perceptual fusion quality.

Registered for the default convention and vifb in :mod:`metrics.catalogue`.
"""

from __future__ import annotations

from .base import FusionMetric
from .functional.chen_blum import chen_blum

__all__ = ["ChenBlum"]


class ChenBlum(FusionMetric):
    """Qcb: saliency-weighted preservation of CSF-filtered local contrast (Chen and Blum 2009).

    See :func:`~metrics.functional.chen_blum.chen_blum` for the steps and the reference's quirks.

    Inputs to ``update``: ``fused``, ``ir``, ``vis`` float N x 1 x H x W in [0, 1].
    ``compute()``: mean over all images, range [0, 1]; higher is better; symmetric in IR and VIS.

    Example:
        >>> import torch
        >>> metric = ChenBlum()
        >>> x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> metric.update(x, x, x)
        >>> metric.compute()
        tensor(1., dtype=torch.float64)
    """

    functional = staticmethod(chen_blum)
    higher_is_better = True
    is_differentiable = False
