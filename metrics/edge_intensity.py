"""EI: edge intensity of the fused image (mean Sobel magnitude, 0-255 scale).

vifb convention; registered in :mod:`metrics.conventions`.
"""

from __future__ import annotations

from .base import FusionMetric
from .functional.edge_intensity import edge_intensity

__all__ = ["EdgeIntensity"]


class EdgeIntensity(FusionMetric):
    """EI: mean over pixels of the Sobel gradient magnitude of 255 F ('replicate' border).

    Inputs to ``update``: ``fused`` (and ``ir``, ``vis``, only checked) float N x 1 x H x W in [0, 1].
    ``compute()``: mean over all images, gray levels per pixel; higher is better.

    Example:
        >>> import torch
        >>> metric = EdgeIntensity()
        >>> x = torch.zeros(1, 1, 4, 4)
        >>> metric.update(x, x, x)
        >>> metric.compute()
        tensor(0., dtype=torch.float64)
    """

    functional = staticmethod(edge_intensity)
    higher_is_better = True
    is_differentiable = False

