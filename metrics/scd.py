"""SCD: sum of the correlations of differences."""

from __future__ import annotations

from .base import FusionMetric
from .functional.scd import sum_of_correlations_of_differences

__all__ = ["SumOfCorrelationsOfDifferences"]


class SumOfCorrelationsOfDifferences(FusionMetric):
    """SCD: corr(F - VIS, IR) + corr(F - IR, VIS), Pearson over the whole image.

    Inputs to ``update``: ``fused``, ``ir``, ``vis`` float N x 1 x H x W in [0, 1].
    ``compute()``: mean over all images, range [-2, 2]; symmetric in IR and VIS.

    Example:
        >>> import torch
        >>> metric = SumOfCorrelationsOfDifferences()
        >>> ir = torch.tensor([0.0, 0.2, 0.4, 1.0]).view(1, 1, 2, 2)
        >>> vis = torch.tensor([0.5, 0.1, 0.3, 0.0]).view(1, 1, 2, 2)
        >>> metric.update(ir / 2 + vis / 2, ir, vis)
        >>> metric.compute()
        tensor(1.8663, dtype=torch.float64)
    """

    functional = staticmethod(sum_of_correlations_of_differences)
    higher_is_better = True
    is_differentiable = False
