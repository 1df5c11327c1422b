"""AG: average gradient of the fused image (gray levels per pixel)."""

from __future__ import annotations

from .base import FusionMetric
from .functional.average_gradient import average_gradient

__all__ = ["AverageGradient"]


class AverageGradient(FusionMetric):
    """AG: sum of sqrt((gx^2 + gy^2) / 2) over the image / ((H-1)(W-1)), MATLAB ``gradient`` of 255 F.

    Inputs to ``update``: ``fused``, ``ir``, ``vis`` float N x 1 x H x W in [0, 1]
    (only ``fused`` enters). ``compute()``: mean over all images, gray levels per pixel.

    Example:
        >>> import torch
        >>> metric = AverageGradient()
        >>> x = torch.tensor([0.0, 1.0, 0.0, 1.0]).view(1, 1, 2, 2)
        >>> metric.update(x, x, x)
        >>> metric.compute()
        tensor(721.2489, dtype=torch.float64)
    """

    functional = staticmethod(average_gradient)
    higher_is_better = True
    is_differentiable = False
