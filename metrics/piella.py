"""Piella's Q, Qw and Qe as torchmetrics metrics (maths in :mod:`metrics.functional.piella`)."""

from __future__ import annotations

from .base import FusionMetric
from .functional.piella import edge_dependent_fusion_quality, fusion_quality_index, weighted_fusion_quality

__all__ = ["EdgeDependentFusionQuality", "FusionQualityIndex", "WeightedFusionQuality"]


class FusionQualityIndex(FusionMetric):
    """Piella's fusion quality index Q (range [-1, 1], higher is better), per image averaged.

    Inputs to ``update``: fused, ir, vis, N x 1 x H x W float in [0, 1]. Options (``window``,
    ``stabilizer``, ...) are those of :func:`metrics.functional.piella.fusion_quality_index`.

    Example:
        >>> import torch
        >>> metric = FusionQualityIndex()
        >>> x = torch.rand(1, 1, 16, 16)
        >>> round(float(metric(x, x, x)), 6)
        1.0
    """

    functional = staticmethod(fusion_quality_index)
    is_differentiable = True
    higher_is_better = True


class WeightedFusionQuality(FusionMetric):
    """Piella's weighted fusion quality index Qw (range [-1, 1], higher is better).

    Options as :func:`metrics.functional.piella.weighted_fusion_quality` (per-image weights only:
    ``batch_weights=True`` is for training losses).
    """

    functional = staticmethod(weighted_fusion_quality)
    is_differentiable = True
    higher_is_better = True


class EdgeDependentFusionQuality(FusionMetric):
    """Piella's edge-dependent fusion quality index Qe = Qw(images) Qw(edge maps) (range [-1, 1], higher is better).

    Options as :func:`metrics.functional.piella.edge_dependent_fusion_quality`.
    """

    functional = staticmethod(edge_dependent_fusion_quality)
    is_differentiable = True
    higher_is_better = True
