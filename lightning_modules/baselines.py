"""Reference fusion rules that need no training: pixel-wise average and maximum.

They are always in the leaderboard, as the floor every learned method must beat.
"""

from __future__ import annotations

import torch

from .base import FusionModule, check_pair
from .registry import register_method

__all__ = ["AverageFusion", "MaxFusion"]


@register_method("average")
class AverageFusion(FusionModule):
    """F = (IR + VIS) / 2, pixel-wise. Inputs and output N x 1 x H x W in [0, 1]."""

    needs_training = False
    receptive_field = 0  # pixel-wise

    def __init__(self) -> None:
        super().__init__()
        self.save_hyperparameters()

    def fuse(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        check_pair(ir, vis)
        return (ir + vis) / 2


@register_method("max")
class MaxFusion(FusionModule):
    """F = max(IR, VIS), pixel-wise. Inputs and output N x 1 x H x W in [0, 1]."""

    needs_training = False
    receptive_field = 0  # pixel-wise

    def __init__(self) -> None:
        super().__init__()
        self.save_hyperparameters()

    def fuse(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        check_pair(ir, vis)
        return torch.maximum(ir, vis)
