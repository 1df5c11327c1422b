"""MI: mutual information of the fused image with the two sources (bits, summed)."""

from __future__ import annotations

from .base import FusionMetric
from .functional.mutual_information import mutual_information

__all__ = ["MutualInformation"]


class MutualInformation(FusionMetric):
    """MI: MI(F, IR) + MI(F, VIS) in bits, from exact 256 x 256 joint histograms of the 8-bit levels.

    Inputs to ``update``: ``fused``, ``ir``, ``vis`` float N x 1 x H x W in [0, 1].
    ``compute()``: mean over all images, bits, range [0, 16]; symmetric in IR and VIS.

    Example:
        >>> import torch
        >>> metric = MutualInformation()
        >>> x = torch.tensor([0.0, 0.0, 1.0, 1.0]).view(1, 1, 2, 2)
        >>> metric.update(x, x, x)
        >>> metric.compute()
        tensor(2., dtype=torch.float64)
    """

    functional = staticmethod(mutual_information)
    higher_is_better = True
    is_differentiable = False
