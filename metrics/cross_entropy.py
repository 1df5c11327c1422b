"""CE: histogram cross entropy of the sources to the fused image (bits).

vifb convention; registered in :mod:`metrics.conventions`.
"""

from __future__ import annotations

from .base import FusionMetric
from .functional.cross_entropy import cross_entropy

__all__ = ["CrossEntropy"]


class CrossEntropy(FusionMetric):
    """CE: (CE(VIS, F) + CE(IR, F)) / 2, sum_l p_S log2(p_S / p_F) over levels where both are nonzero.

    Inputs to ``update``: ``fused``, ``ir``, ``vis`` float N x 1 x H x W in [0, 1].
    ``compute()``: mean over all images, bits; lower is better; symmetric in IR and VIS.

    Example:
        >>> import torch
        >>> metric = CrossEntropy()
        >>> x = torch.tensor([0.0, 0.0, 1.0, 1.0]).view(1, 1, 2, 2)
        >>> metric.update(x, x, x)
        >>> metric.compute()
        tensor(0., dtype=torch.float64)
    """

    functional = staticmethod(cross_entropy)
    higher_is_better = False
    is_differentiable = False

