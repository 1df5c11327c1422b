"""VIF (Han et al.'s VIFF) and VIFP (Sheikh-Bovik pixel VIF, summed) as torchmetrics metrics.

The maths is in :mod:`metrics.functional.vif`.
"""

from __future__ import annotations

from .base import FusionMetric
from .functional.vif import visual_information_fidelity_fusion, visual_information_fidelity_pixel
from .registry import MetricInfo, register_metric

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


register_metric(MetricInfo(
    name="VIF", metric_class=VisualInformationFidelityFusion, functional=visual_information_fidelity_fusion,
    higher_is_better=True, unit="[0, ~1]",
    definition="Han VIFF: 4-scale pixel VIF maps, per pixel the source with the smaller gain, "
               "sum_s p_s sum(VID + C) / sum(VIND + C), p = [1, 0, 0.15, 1] / 2.15",
    reference="Y. Han et al., A new image fusion performance metric based on visual information fidelity, "
              "Information Fusion 14(2), 2013; VIFF_Public.m"))
register_metric(MetricInfo(
    name="VIFP", metric_class=VisualInformationFidelityPixel, functional=visual_information_fidelity_pixel,
    higher_is_better=True, unit="[0, ~2]",
    definition="Sheikh-Bovik pixel VIF (4 scales, sigma_n^2 = 2) of F against IR plus against VIS",
    reference="H. R. Sheikh and A. C. Bovik, Image information and visual quality, IEEE TIP 15(2), 2006; "
              "vifp_mscale.m"))
