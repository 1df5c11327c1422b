"""DenseFuse: a deep learning approach to infrared and visible image fusion (Li and Wu, TIP 2019).

An auto-encoder trained to reconstruct single gray images: encoder C1 + a
three-layer dense block (64 feature maps phi), decoder C2..C5. At test time the
phi of IR and VIS are fused and decoded: by default their mean, as the authors'
PyTorch test code (``fusion_strategy.py``: its "addition" is ``(en_ir + en_vis) / 2``).

Follows ``shared/spec/methods.md`` section 3. Decisions and deviations:

* every conv is 3 x 3 with reflect padding 1, bias, no BN; C5 is linear;
* the network works on raw [0, 255] values like both authors' codes: the module
  multiplies its [0, 1] input by 255 and divides its output by 255;
* the loss is MSE + lambda (1 - SSIM) in [0, 255] units with the standard SSIM
  (Gaussian 11 / sigma 1.5, 'valid', data range 255: ``metrics.functional.ssim.ssim_valid``, the
  metric's own code); the paper's "Euclidean
  distance" pixel loss is taken as the mean squared error;
* the dense block concatenates [input, new] (the PyTorch port's order) and the
  parameter names are the port's (``net.conv1.conv2d.*``,
  ``net.DB1.denseblock.{0,1,2}.dense_conv.conv2d.*``, ``net.conv{2..5}.conv2d.*``);
* MS-COCO is not available here: training uses any gray single images (by
  default the IR and VIS images of ``flir_train`` used as unpaired images).

**Fusion rule.** ``fusion_strategy="mean"`` (default) is the PyTorch port's
``(phi_IR + phi_VIS) / 2``; ``"addition"`` is the paper's and the TF1 code's sum
phi_IR + phi_VIS. The decoder is close to linear in phi, so the sum decodes to
about IR + VIS and saturates: with the authors' PyTorch weights, 53.6 % of TNO
pair 1's pixels clip at 255 and 31.8 % of all 40 TNO pairs' (the mean rule:
0.0013 %, 149 pixels), and so do the benchmark's own trainings (54 % on pair 1
in the quick profile). ``"l1_norm"`` is the paper's l1-norm rule (L1FUSE).

**The authors' weights** (:meth:`DenseFuse.from_official`, ``densefuse-pytorch/models/densefuse_gray.model``):
the 16 tensors load into :class:`DenseFuseNet` under the port's own names. They
reconstruct the 80 TNO test images (IR and VIS; clamped, rounded) with a mean
absolute error of 0.001 gray levels (RMSE 0.056; 99.976 % of the pixels within
one level; the rest at image corners and borders and in near-black regions, up
to 91 levels at a corner of TNO pair 7), measured by
``python -m benchmarks.verify.densefuse_official``. The port's C5 has a ReLU
and its test code truncates to uint8 (which costs one level almost everywhere:
mean error 0.96); here C5 is linear and the output clamped and rounded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from metrics.functional.ssim import ssim_valid

from .base import FusionModule, check_pair
from .losses import l1_norm_fusion
from .registry import register_method

__all__ = ["DenseFuse", "DenseFuseNet", "FUSION_STRATEGIES"]

FUSION_STRATEGIES = ("mean", "addition", "l1_norm")
SSIM_WEIGHTS = (1.0, 10.0, 100.0, 1000.0)


class _ConvLayer(nn.Module):
    """Reflect pad 1 -> 3 x 3 conv (bias) -> ReLU (none on the last layer)."""

    def __init__(self, in_channels: int, out_channels: int, relu: bool = True) -> None:
        super().__init__()
        self.conv2d = nn.Conv2d(in_channels, out_channels, 3)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"))
        return F.relu(out) if self.relu else out


class _DenseConv(nn.Module):
    """One dense-block layer: out = cat[x, ReLU(conv(x))] (16 new channels)."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.dense_conv = _ConvLayer(in_channels, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.dense_conv(x)], 1)


class _DenseBlock(nn.Module):
    """DC1, DC2, DC3: 16 -> 32 -> 48 -> 64 channels."""

    def __init__(self) -> None:
        super().__init__()
        self.denseblock = nn.Sequential(_DenseConv(16), _DenseConv(32), _DenseConv(48))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.denseblock(x)


class DenseFuseNet(nn.Module):
    """The DenseFuse auto-encoder on raw [0, 255] gray values.

    ``encode``: N x 1 x H x W -> phi N x 64 x H x W; ``decode``: phi -> N x 1 x H x W
    (linear output, not clamped). 74,193 parameters.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = _ConvLayer(1, 16)
        self.DB1 = _DenseBlock()  # noqa: N815 - the port's parameter name
        self.conv2 = _ConvLayer(64, 64)
        self.conv3 = _ConvLayer(64, 32)
        self.conv4 = _ConvLayer(32, 16)
        self.conv5 = _ConvLayer(16, 1, relu=False)

    def encode(self, image255: torch.Tensor) -> torch.Tensor:
        """N x 1 x H x W in [0, 255] -> phi, N x 64 x H x W."""
        return self.DB1(self.conv1(image255))

    def decode(self, phi: torch.Tensor) -> torch.Tensor:
        """phi N x 64 x H x W -> N x 1 x H x W, about [0, 255]."""
        return self.conv5(self.conv4(self.conv3(self.conv2(phi))))

    def forward(self, image255: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(image255))


@register_method("densefuse")
class DenseFuse(FusionModule):
    """DenseFuse as a LightningModule.

    Training batches: ``{"image": N x 1 x h x w}`` (unpaired single gray images)
    or ``{"ir", "vis"}`` pairs, whose IR and VIS are used as 2N single images.
    Loss = MSE(O, I) + ssim_weight (1 - SSIM(O, I)) on the [0, 255] scale.

    Args:
        fusion_strategy: ``"mean"`` (default) (phi_I + phi_V) / 2, the authors'
            PyTorch test code; ``"addition"`` phi_I + phi_V, the paper and TF1 code
            (saturates: see the module docstring); or ``"l1_norm"`` (L1FUSE:
            l1 activity over channels, block average r = 1, ratio weights).
        ssim_weight: lambda, one of 1, 10, 100, 1000 (the paper's four models;
            the authors' demos use 100).
        lr: Adam learning rate (1e-4, constant).
    """

    official_weights = "densefuse_weights"
    receptive_field = 9  # 3x3 convs conv1, DC1-3, conv2-5 on the longest path: 8 px; l1_norm's 3x3 block average: +1

    def __init__(self, fusion_strategy: str = "mean", ssim_weight: float = 100.0, lr: float = 1e-4) -> None:
        super().__init__()
        if fusion_strategy not in FUSION_STRATEGIES:
            raise ValueError(f"fusion_strategy must be one of {FUSION_STRATEGIES}, got {fusion_strategy!r}")
        if float(ssim_weight) not in SSIM_WEIGHTS:
            raise ValueError(f"ssim_weight (lambda) must be one of {SSIM_WEIGHTS}, got {ssim_weight!r}")
        self.save_hyperparameters()
        self.net = DenseFuseNet()

    @classmethod
    def from_official(cls, path: str | Path | None = None, data_root: str | Path | None = None,
                      **kwargs: Any) -> "DenseFuse":
        """The model with the authors' PyTorch weights (``densefuse_gray.model``), in eval mode.

        Args:
            path: the weights file; default the released one from the data root
                (else the user cache), checked against its sha256
                (``datamodules.weights.weights_path("densefuse", "gray")``).
            data_root: where to look for it (``--data-root``, else ``$IVIF_BENCH_DATA``).
            **kwargs: hyper-parameters (``fusion_strategy``; default the port's mean).

        The file is a state dict of the port's ``DenseFuse_net``: its 16 tensors
        (``conv1.conv2d.*``, ``DB1.denseblock.{0,1,2}.dense_conv.conv2d.*``,
        ``conv{2..5}.conv2d.*``) are this model's ``net.`` keys, loaded with ``strict=True``.

        Raises:
            FileNotFoundError: no such file (the message names the download command).
            ValueError: the file is not the gray DenseFuse weights (e.g. ``densefuse_rgb.model``).
        """
        from datamodules.weights import weights_path

        model = cls(**kwargs)
        path = Path(path) if path is not None else weights_path("densefuse", "gray", data_root)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file (DenseFuse weights: models/ of "
                                    "https://github.com/hli1221/densefuse-pytorch)")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad file
            raise ValueError(f"{path}: not a torch weights file ({err})") from None
        expected = model.net.state_dict()
        if not isinstance(state, dict) or set(state) != set(expected):
            found = set(state) if isinstance(state, dict) else set()
            raise ValueError(f"{path}: not DenseFuse weights (missing keys {sorted(set(expected) - found)[:3]}, "
                             f"unexpected keys {sorted(found - set(expected))[:3]})")
        wrong = [k for k, v in state.items() if tuple(v.shape) != tuple(expected[k].shape)]
        if wrong:
            raise ValueError(f"{path}: not the gray DenseFuse model: {wrong[0]} is {tuple(state[wrong[0]].shape)}, "
                             f"expected {tuple(expected[wrong[0]].shape)} (densefuse_rgb.model fuses RGB images)")
        model.net.load_state_dict(state, strict=True)
        return model.eval()

    def fuse(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        """Fuse IR and VIS, N x 1 x H x W in [0, 1] (H, W >= 2), into N x 1 x H x W in [0, 1] (clamped)."""
        check_pair(ir, vis)
        phi_ir, phi_vis = self.net.encode(ir * 255), self.net.encode(vis * 255)
        strategy = self.hparams.fusion_strategy
        if strategy == "l1_norm":
            phi = l1_norm_fusion(phi_ir, phi_vis)
        else:
            phi = phi_ir + phi_vis
            if strategy == "mean":
                phi = phi / 2
        return (self.net.decode(phi) / 255).clamp(0, 1)

    def compute_loss(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Loss of reconstructing single gray images N x 1 x h x w in [0, 1] (h, w >= 11).

        Returns scalars ``loss``, ``pixel`` (MSE in gray levels^2) and ``ssim``
        (1 - SSIM, batch mean).
        """
        if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 1:
            raise ValueError(f"images must be N x 1 x H x W, got {getattr(images, 'shape', type(images).__name__)}")
        target = images * 255
        output = self.net(target)
        pixel = F.mse_loss(output, target)
        ssim = (1 - ssim_valid(output, target)).mean()
        return {"loss": pixel + self.hparams.ssim_weight * ssim, "pixel": pixel, "ssim": ssim}

    @staticmethod
    def batch_images(batch: dict[str, Any]) -> torch.Tensor:
        """The single images of a batch: ``batch["image"]``, or IR and VIS stacked (2N)."""
        if "image" in batch:
            return batch["image"]
        check_pair(batch["ir"], batch["vis"])
        return torch.cat([batch["ir"], batch["vis"]], 0)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        images = self.batch_images(batch)
        return self.log_loss_terms(self.compute_loss(images), images.shape[0])

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
