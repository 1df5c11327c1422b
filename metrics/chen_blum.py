"""Qcb: Chen and Blum's perceptual fusion quality.

Registered here for the default convention; :mod:`metrics.conventions` adds it to vifb.
"""

from __future__ import annotations

from .base import FusionMetric
from .functional.chen_blum import chen_blum
from .registry import MetricInfo, register_metric

__all__ = ["ChenBlum"]


class ChenBlum(FusionMetric):
    """Qcb: saliency-weighted preservation of CSF-filtered local contrast (Chen and Blum 2009).

    See :func:`~metrics.functional.chen_blum.chen_blum` for the steps and the reference's quirks.

    Inputs to ``update``: ``fused``, ``ir``, ``vis`` float N x 1 x H x W in [0, 1].
    ``compute()``: mean over all images, range [0, 1]; higher is better; symmetric in IR and VIS.

    Example:
        >>> import torch
        >>> metric = ChenBlum()
        >>> x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> metric.update(x, x, x)
        >>> metric.compute()
        tensor(1., dtype=torch.float64)
    """

    functional = staticmethod(chen_blum)
    higher_is_better = True
    is_differentiable = False


register_metric(MetricInfo(
    name="Qcb", metric_class=ChenBlum, functional=chen_blum, higher_is_better=True, unit="[0, 1]",
    definition="mean of lambda_IR Q_IR,F + lambda_VIS Q_VIS,F, local contrast after a DoG CSF (Z. Liu's code)",
    reference="Chen and Blum 2009, Image Vis. Comput. 27(10) 1421-1432; VIFB metricsQcb.m",
))
