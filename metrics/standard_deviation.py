"""SD: standard deviation of the fused image (gray levels)."""

from __future__ import annotations

from .base import FusionMetric
from .functional.standard_deviation import standard_deviation

__all__ = ["StandardDeviation"]


class StandardDeviation(FusionMetric):
    """SD: population standard deviation of 255 F (contrast).

    Inputs to ``update``: ``fused``, ``ir``, ``vis`` float N x 1 x H x W in [0, 1]
    (only ``fused`` enters). ``compute()``: mean over all images, gray levels, [0, 127.5].

    Example:
        >>> import torch
        >>> metric = StandardDeviation()
        >>> x = torch.tensor([0.0, 0.0, 1.0, 1.0]).view(1, 1, 2, 2)
        >>> metric.update(x, x, x)
        >>> metric.compute()
        tensor(127.5000, dtype=torch.float64)
    """

    functional = staticmethod(standard_deviation)
    higher_is_better = True
    is_differentiable = False
