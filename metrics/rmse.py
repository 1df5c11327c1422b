"""RMSE as VIFB computes it (sqrt of the summed squared error / H W).

vifb convention only; registered in :mod:`metrics.conventions`.
"""

from __future__ import annotations

from .base import FusionMetric
from .functional.rmse import vifb_rmse

__all__ = ["VifbRootMeanSquaredError"]


class VifbRootMeanSquaredError(FusionMetric):
    """RMSE (VIFB): mean over VIS, IR of sqrt(sum((S - F)^2)) / (H W) on the 0-255 scale.

    Not a root mean squared error: VIFB divides the root of the sum by H W (a value
    RMSE / sqrt(H W)); see :func:`~metrics.functional.rmse.vifb_rmse`.

    Inputs to ``update``: ``fused``, ``ir``, ``vis`` float N x 1 x H x W in [0, 1].
    ``compute()``: mean over all images; lower is better.

    Example:
        >>> import torch
        >>> metric = VifbRootMeanSquaredError()
        >>> x = torch.zeros(1, 1, 2, 2)
        >>> metric.update(x, x, torch.ones_like(x))
        >>> metric.compute()
        tensor(63.7500, dtype=torch.float64)
    """

    functional = staticmethod(vifb_rmse)
    higher_is_better = False
    is_differentiable = False

