"""SSIM and MS-SSIM of the fused image against the sources (differentiable)."""

from __future__ import annotations

from .base import FusionMetric
from .functional.ssim import multiscale_ssim, ssim

__all__ = ["MultiScaleStructuralSimilarity", "StructuralSimilarity"]


class StructuralSimilarity(FusionMetric):
    """SSIM: (SSIM(F, IR) + SSIM(F, VIS)) / 2, Wang SSIM, Gaussian 11 / 1.5, 'valid', L = 255.

    Inputs to ``update``: ``fused``, ``ir``, ``vis`` float N x 1 x H x W in [0, 1],
    H, W >= 11. ``compute()``: mean over all images, range [-1, 1]. The functional is
    differentiable (usable as a loss); the class detaches what it stores.

    Example:
        >>> import torch
        >>> metric = StructuralSimilarity()
        >>> x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> metric.update(x, x, x)
        >>> metric.compute()
        tensor(1., dtype=torch.float64)
    """

    functional = staticmethod(ssim)
    higher_is_better = True
    is_differentiable = True


class MultiScaleStructuralSimilarity(FusionMetric):
    """MS_SSIM: (MS-SSIM(F, IR) + MS-SSIM(F, VIS)) / 2, Wang multi-scale SSIM, 5 scales, standard weights.

    Settings: see :func:`metrics.functional.ssim.multiscale_ssim` (torchmetrics'
    implementation, L = 255, no normalisation).

    Inputs to ``update``: ``fused``, ``ir``, ``vis`` float N x 1 x H x W in [0, 1],
    H, W >= 176. ``compute()``: mean over all images, range [0, 1] where defined.

    Example:
        >>> import torch
        >>> metric = MultiScaleStructuralSimilarity()
        >>> x = torch.rand(1, 1, 176, 176, generator=torch.Generator().manual_seed(0))
        >>> metric.update(x, x, x)
        >>> metric.compute().round(decimals=6)
        tensor(1., dtype=torch.float64)
    """

    functional = staticmethod(multiscale_ssim)
    higher_is_better = True
    is_differentiable = True
