"""MSE and PSNR of the fused image against the sources."""

from __future__ import annotations

from .base import FusionMetric
from .functional.mse import mean_squared_error, peak_signal_noise_ratio

__all__ = ["MeanSquaredError", "PeakSignalNoiseRatio"]


class MeanSquaredError(FusionMetric):
    """MSE: (MSE(F, IR) + MSE(F, VIS)) / 2 on the 0-255 scale; lower is better.

    Inputs to ``update``: ``fused``, ``ir``, ``vis`` float N x 1 x H x W in [0, 1].
    ``compute()``: mean over all images, squared gray levels, [0, 65025].

    Example:
        >>> import torch
        >>> metric = MeanSquaredError()
        >>> x = torch.zeros(1, 1, 2, 2)
        >>> metric.update(x, x, torch.ones_like(x))
        >>> metric.compute()
        tensor(32512.5000, dtype=torch.float64)
    """

    functional = staticmethod(mean_squared_error)
    higher_is_better = False
    is_differentiable = False


class PeakSignalNoiseRatio(FusionMetric):
    """PSNR: 10 log10(255^2 / MSE) in dB, MSE the mean over the two sources.

    Inputs to ``update``: ``fused``, ``ir``, ``vis`` float N x 1 x H x W in [0, 1].
    ``compute()``: mean over all images (of the per-image dB values).

    Example:
        >>> import torch
        >>> metric = PeakSignalNoiseRatio()
        >>> x = torch.zeros(1, 1, 2, 2)
        >>> metric.update(x, x, torch.ones_like(x))
        >>> metric.compute()
        tensor(3.0103, dtype=torch.float64)
    """

    functional = staticmethod(peak_signal_noise_ratio)
    higher_is_better = True
    is_differentiable = False
