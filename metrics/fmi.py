"""FMI_pixel, FMI_dct and FMI_w as torchmetrics metrics (maths in :mod:`metrics.functional.fmi`)."""

from __future__ import annotations

from .base import FusionMetric
from .functional.fmi import fmi_dct, fmi_pixel, fmi_wavelet

__all__ = ["FeatureMutualInformationDCT", "FeatureMutualInformationPixel", "FeatureMutualInformationWavelet"]


class FeatureMutualInformationPixel(FusionMetric):
    """Haghighat's fast FMI on raw pixels, in [0, 1], higher is better.

    Inputs to ``update``: fused, ir, vis, N x 1 x H x W float in [0, 1] (gray levels round(255 x)).

    Example:
        >>> import torch
        >>> metric = FeatureMutualInformationPixel()
        >>> x = torch.rand(1, 1, 8, 8)
        >>> float(metric(x, x, x))
        1.0
    """

    functional = staticmethod(fmi_pixel)
    higher_is_better = True


class FeatureMutualInformationDCT(FusionMetric):
    """Haghighat's fast FMI on the orthonormal 2-D DCT of the images, in [0, 1], higher is better."""

    functional = staticmethod(fmi_dct)
    higher_is_better = True


class FeatureMutualInformationWavelet(FusionMetric):
    """Haghighat's fast FMI on one-level 'dmey' wavelet coefficients (PyWavelets' 62-tap dmey), in [0, 1]."""

    functional = staticmethod(fmi_wavelet)
    higher_is_better = True
