"""SCD: sum of the correlations of differences (Aslantas and Bendes 2015)."""

from __future__ import annotations

import torch

from ._checks import check_inputs, to_255
from .correlation import pearson

__all__ = ["sum_of_correlations_of_differences"]


def sum_of_correlations_of_differences(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """SCD = corr(F - VIS, IR) + corr(F - IR, VIS), Pearson over the whole image.

    F - VIS is what the fused image took from IR (and vice versa). Range [-2, 2];
    symmetric in IR and VIS. NaN with a warning where a correlation is undefined
    (a constant image or difference, e.g. F equal to a source, as in the reference).

    Shape:
        fused, ir, vis: N x 1 x H x W in [0, 1]; returns N values (float64 on CPU).

    Example:
        >>> import torch
        >>> ir = torch.tensor([0.0, 0.2, 0.4, 1.0]).view(1, 1, 2, 2)
        >>> vis = torch.tensor([0.5, 0.1, 0.3, 0.0]).view(1, 1, 2, 2)
        >>> sum_of_correlations_of_differences(ir / 2 + vis / 2, ir, vis)
        tensor([1.8663], dtype=torch.float64)
    """
    check_inputs(fused, ir, vis)
    f, a, b = to_255(fused), to_255(ir), to_255(vis)
    return (pearson(f - b, a, metric="SCD", names=("fused - vis", "ir"))
            + pearson(f - a, b, metric="SCD", names=("fused - ir", "vis")))
