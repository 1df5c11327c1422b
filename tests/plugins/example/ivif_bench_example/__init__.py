"""An ivif-bench plugin: a learned method, a reference rule, a metric (and a convention) and a test set.

Installed (``pip install -e .``: its entry point ``ivif_bench.plugins``) or named
with ``--plugin ivif_bench_example``, it works wherever a built-in does.
"""

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from datamodules import DatasetSpec, Source, register_dataset
from lightning_modules import FusionModule, register_method
from metrics import FusionMetric, MetricInfo, register_convention, register_metric

HERE = Path(__file__).parent


@register_method("mine", configs=HERE / "configs")  # configs/<profile>.yaml, as benchmarks/configs/<method>/
class MyFusion(FusionModule):
    """F = w IR + (1 - w) VIS, w = sigmoid(CNN(IR, VIS)) per pixel; N x 1 x H x W in [0, 1]."""

    def __init__(self, hidden: int = 8, lr: float = 1e-3) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Conv2d(2, hidden, 3, padding=1), nn.ReLU(), nn.Conv2d(hidden, 1, 3, padding=1))

    def fuse(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        weight = torch.sigmoid(self.net(torch.cat([ir, vis], dim=1)))
        return weight * ir + (1 - weight) * vis

    def training_step(self, batch, batch_idx):
        ir, vis = batch["ir"], batch["vis"]
        loss = F.l1_loss(self.fuse(ir, vis), torch.maximum(ir, vis))  # keep the brighter source
        self.log("train/loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


@register_method("minimum")
class MinimumFusion(FusionModule):
    """A reference rule (no training, no config): F = min(IR, VIS) per pixel."""

    needs_training = False

    def __init__(self) -> None:
        super().__init__()
        self.save_hyperparameters()

    def fuse(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        return torch.minimum(ir, vis)


def mean_absolute_difference(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """MAD per image: mean |F - (IR + VIS) / 2| in gray levels (0-255). N x 1 x H x W in [0, 1] -> N."""
    return ((fused - (ir + vis) / 2).abs() * 255).flatten(1).mean(dim=1)


class MeanAbsoluteDifference(FusionMetric):
    """MAD: how far the fusion strays from the sources' mean; lower is better."""

    functional = staticmethod(mean_absolute_difference)
    higher_is_better = False


register_convention("example", reference="ivif_bench_example (the README's plugin)")
for convention in ("default", "example"):
    register_metric(MetricInfo(
        name="MAD", metric_class=MeanAbsoluteDifference, functional=mean_absolute_difference,
        higher_is_better=False, unit="gray levels (0-255)", definition="mean |F - (IR + VIS) / 2| over the pixels",
        reference="ivif_bench_example", convention=convention))

register_dataset(  # files under <data root>/IFCNN/, fetched and checked by `ivif-bench data download ifcnn_iv`
    DatasetSpec(name="ifcnn_iv", description="IFCNN's 14 infrared-visible test pairs (gray PNG)", source="IFCNN",
                ir_dir="Code/datasets/IVDataset", vis_dir="Code/datasets/IVDataset", ir_pattern=r"(.+)_IR\.png",
                vis_pattern=r"(.+)_Vis\.png", pair_count=14, manifest="ifcnn_iv"),
    manifest=HERE / "ifcnn_iv.json",  # sha256 and size of every file
    source=Source(folder="IFCNN", repository="uzeful/IFCNN", commit="8fe59c2b1553e52acc793986208ca479d134a8da",
                  licence="as upstream (github.com/uzeful/IFCNN)"))
