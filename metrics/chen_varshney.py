"""Qcv: Chen and Varshney's perceptual fusion quality, lower is better.

Registered here for the default convention; :mod:`metrics.conventions` adds it to vifb.
"""

from __future__ import annotations

from .base import FusionMetric
from .functional.chen_varshney import chen_varshney
from .registry import MetricInfo, register_metric

__all__ = ["ChenVarshney"]


class ChenVarshney(FusionMetric):
    """Qcv: saliency-weighted CSF-filtered squared error over 16 x 16 regions (Chen and Varshney 2007).

    See :func:`~metrics.functional.chen_varshney.chen_varshney` for the steps and the reference's quirks.

    Inputs to ``update``: ``fused``, ``ir``, ``vis`` float N x 1 x H x W in [0, 1].
    ``compute()``: mean over all images, >= 0; lower is better; symmetric in IR and VIS.

    Example:
        >>> import torch
        >>> metric = ChenVarshney()
        >>> x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> metric.update(x, x, x)
        >>> metric.compute()
        tensor(0., dtype=torch.float64)
    """

    functional = staticmethod(chen_varshney)
    higher_is_better = False
    is_differentiable = False


register_metric(MetricInfo(
    name="Qcv", metric_class=ChenVarshney, functional=chen_varshney, higher_is_better=False,
    unit="squared gray levels (0-255 scale), >= 0",
    definition="sum_regions(lambda_IR D_IR + lambda_VIS D_VIS) / sum(lambda_IR + lambda_VIS), 16 x 16 regions, "
               "Mannos-Sakrison CSF (Z. Liu's code)",
    reference="Chen and Varshney 2007, Inf. Fusion 8(2) 193-207; VIFB metricsQcv.m",
))
