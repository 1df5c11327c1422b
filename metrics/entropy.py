"""EN: entropy of the fused image (bits)."""

from __future__ import annotations

from .base import FusionMetric
from .functional.entropy import entropy

__all__ = ["Entropy"]


class Entropy(FusionMetric):
    """EN: Shannon entropy (log2) of the 256-bin histogram of the fused image's 8-bit levels.

    Inputs to ``update``: ``fused``, ``ir``, ``vis`` float N x 1 x H x W in [0, 1]
    (only ``fused`` enters). ``compute()``: mean over all images, in bits, range
    [0, 8]; ``per_image()``: every value.

    Example:
        >>> import torch
        >>> metric = Entropy()
        >>> x = torch.tensor([0.0, 0.0, 1.0, 1.0]).view(1, 1, 2, 2)
        >>> metric.update(x, x, x)
        >>> metric.compute()
        tensor(1., dtype=torch.float64)
    """

    functional = staticmethod(entropy)
    higher_is_better = True
    is_differentiable = False
