"""The ``vifb``, ``cddfuse`` and ``tang`` conventions: each reference code's exact metric set.

One table per convention lists, in the reference's order, every metric its code
has and nothing else (asking for another is a ``KeyError`` listing what it has).
A metric the code computes exactly as ``default`` points at the default class; a
variant points at one of the classes below, whose functional (in
:mod:`metrics.functional.conventions`) names the quirk. The tables are in :mod:`metrics.catalogue`.

Example:
    >>> import torch
    >>> from metrics import get_metric
    >>> metric = get_metric("MI", convention="cddfuse")  # nats, as sklearn's mutual_info_score
    >>> x = torch.tensor([0.0, 0.0, 1.0, 1.0]).view(1, 1, 2, 2)
    >>> metric.update(x, x, torch.zeros_like(x))
    >>> metric.compute()
    tensor(0.6931, dtype=torch.float64)
"""

from __future__ import annotations

from .base import FusionMetric
from .catalogue import COLOR_RULES, CONVENTION_REFERENCES, VIFB_COLOR_RULES  # noqa: F401  (the tables are there)
from .functional import conventions as fc

__all__ = [
    "COLOR_RULES", "CONVENTION_REFERENCES", "VIFB_COLOR_RULES", "CddfuseAverageGradient", "CddfuseMutualInformation", "CddfusePSNR", "CddfuseSSIM",
    "CddfuseVIF", "TangCorrelation", "TangMSE", "TangMutualInformation", "TangPSNR", "VifbMutualInformation",
    "VifbPSNR", "VifbSSIM", "VifbSpatialFrequency",
]


class _Variant(FusionMetric):
    """A convention's variant of a metric: ``functional`` is set by each subclass; nothing else differs."""

    is_differentiable = False


# --------------------------------------------------------------------------- vifb variants

class VifbMutualInformation(_Variant):
    """MI (vifb): nats, images min-max stretched (:func:`~metrics.functional.conventions.vifb_mutual_information`)."""

    functional = staticmethod(fc.vifb_mutual_information)


class VifbSpatialFrequency(_Variant):
    """SF (vifb): squared differences / H W (:func:`~metrics.functional.conventions.vifb_spatial_frequency`)."""

    functional = staticmethod(fc.vifb_spatial_frequency)


class VifbSSIM(_Variant):
    """SSIM (vifb): sum over the two sources (:func:`~metrics.functional.conventions.vifb_ssim`)."""

    functional = staticmethod(fc.vifb_ssim)


class VifbPSNR(_Variant):
    """PSNR (vifb): 20 log10(255 / sqrt(RMSE_vifb)) (:func:`~metrics.functional.conventions.vifb_psnr`)."""

    functional = staticmethod(fc.vifb_psnr)


# --------------------------------------------------------------------------- cddfuse variants

class CddfuseMutualInformation(_Variant):
    """MI (cddfuse): nats, sklearn (:func:`~metrics.functional.conventions.cddfuse_mutual_information`)."""

    functional = staticmethod(fc.cddfuse_mutual_information)


class CddfuseAverageGradient(_Variant):
    """AG (cddfuse): divided by H W (:func:`~metrics.functional.conventions.cddfuse_average_gradient`)."""

    functional = staticmethod(fc.cddfuse_average_gradient)


class CddfuseVIF(_Variant):
    """VIF (cddfuse): the Sheikh VIFP sum (:func:`~metrics.functional.conventions.cddfuse_vif`)."""

    functional = staticmethod(fc.cddfuse_vif)


class CddfuseSSIM(_Variant):
    """SSIM (cddfuse): skimage legacy defaults, summed (:func:`~metrics.functional.conventions.cddfuse_ssim`)."""

    functional = staticmethod(fc.cddfuse_ssim)


class CddfusePSNR(_Variant):
    """PSNR (cddfuse): peak max(F) (:func:`~metrics.functional.conventions.cddfuse_psnr`)."""

    functional = staticmethod(fc.cddfuse_psnr)


# --------------------------------------------------------------------------- tang variants

class TangMutualInformation(_Variant):
    """MI (tang): levels 254, 255 merged jointly (:func:`~metrics.functional.conventions.tang_mutual_information`)."""

    functional = staticmethod(fc.tang_mutual_information)


class TangCorrelation(_Variant):
    """CC (tang): r_BF centred with mean(IR) (:func:`~metrics.functional.conventions.tang_correlation`)."""

    functional = staticmethod(fc.tang_correlation)


class TangMSE(_Variant):
    """MSE (tang): on the [0, 1] scale (:func:`~metrics.functional.conventions.tang_mse`)."""

    functional = staticmethod(fc.tang_mse)
    higher_is_better = False


class TangPSNR(_Variant):
    """PSNR (tang): +48.13 dB scale bug (:func:`~metrics.functional.conventions.tang_psnr`)."""

    functional = staticmethod(fc.tang_psnr)
