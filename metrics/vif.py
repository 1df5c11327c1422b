"""VIF (Han et al.'s VIFF) and VIFP (Sheikh-Bovik pixel VIF, summed) as torchmetrics metrics.

The maths is in :mod:`metrics.functional.vif`.
"""

from __future__ import annotations

from .base import FusionMetric
from .functional.vif import visual_information_fidelity_fusion, visual_information_fidelity_pixel

__all__ = ["VisualInformationFidelityFusion", "VisualInformationFidelityPixel"]


class VisualInformationFidelityFusion(FusionMetric):
    """Han et al. 2013 VIFF: one symmetric value per image in [0, ~1], higher is better.

    Inputs to ``update``: fused, ir, vis, N x 1 x H x W float in [0, 1], H, W >= 41.

    Example:
        >>> import torch
        >>> metric = VisualInformationFidelityFusion()
        >>> x = torch.rand(1, 1, 48, 48)
        >>> round(float(metric(x, x, x)), 6)
        1.0
    """

    functional = staticmethod(visual_information_fidelity_fusion)
    higher_is_better = True


class VisualInformationFidelityPixel(FusionMetric):
    """Sheikh-Bovik pixel VIF, VIFP(IR, F) + VIFP(VIS, F): in [0, ~2], higher is better.

    Inputs to ``update``: fused, ir, vis, N x 1 x H x W float in [0, 1], H, W >= 41.
    """

    functional = staticmethod(visual_information_fidelity_pixel)
    higher_is_better = True
