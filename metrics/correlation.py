"""CC: correlation coefficient of the fused image with the sources."""

from __future__ import annotations

from .base import FusionMetric
from .functional.correlation import correlation_coefficient

__all__ = ["CorrelationCoefficient"]


class CorrelationCoefficient(FusionMetric):
    """CC: (corr(F, IR) + corr(F, VIS)) / 2, Pearson correlation over the whole image.

    Inputs to ``update``: ``fused``, ``ir``, ``vis`` float N x 1 x H x W in [0, 1].
    ``compute()``: mean over all images, range [-1, 1]; symmetric in IR and VIS.

    Example:
        >>> import torch
        >>> metric = CorrelationCoefficient()
        >>> x = torch.tensor([0.0, 0.2, 0.4, 1.0]).view(1, 1, 2, 2)
        >>> metric.update(x, x, x)
        >>> metric.compute()
        tensor(1., dtype=torch.float64)
    """

    functional = staticmethod(correlation_coefficient)
    higher_is_better = True
    is_differentiable = False
