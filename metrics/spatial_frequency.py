"""SF: spatial frequency of the fused image (gray levels)."""

from __future__ import annotations

from .base import FusionMetric
from .functional.spatial_frequency import spatial_frequency

__all__ = ["SpatialFrequency"]


class SpatialFrequency(FusionMetric):
    """SF: sqrt(RF^2 + CF^2), the mean squared horizontal and vertical differences of 255 F.

    Inputs to ``update``: ``fused``, ``ir``, ``vis`` float N x 1 x H x W in [0, 1]
    (only ``fused`` enters). ``compute()``: mean over all images, gray levels.

    Example:
        >>> import torch
        >>> metric = SpatialFrequency()
        >>> x = torch.tensor([0.0, 1.0, 0.0, 1.0]).view(1, 1, 2, 2)
        >>> metric.update(x, x, x)
        >>> metric.compute()
        tensor(255., dtype=torch.float64)
    """

    functional = staticmethod(spatial_frequency)
    higher_is_better = True
    is_differentiable = False
