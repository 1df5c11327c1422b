"""IFCNN: a general image fusion framework based on a convolutional neural network (Zhang et al., Information Fusion 2020).

A four-layer network on three-channel images: each source goes through
ResNet-101's first convolution (7 x 7, 3 -> 64, no bias, here at stride 1
after replicate padding 3) and a 3 x 3 conv-BN-ReLU block; the feature maps
of the sources are fused element-wise by the scheme's rule (max, mean or
sum); a second conv-BN-ReLU block and a 1 x 1 conv (64 -> 3, bias)
reconstruct the image. Architecture and test path as the authors'
``Code/model.py`` and ``Code/IFCNN_Main.py`` (github.com/uzeful/IFCNN):

1. each image read as RGB (a gray image is its value in all three channels),
   ``ToTensor`` (u8 / 255) and ``Normalize(mean, std)``;
2. fused; de-normalised (x std + mean), clamped to [0, 1], x 255 and
   **truncated** to uint8 (numpy ``astype``);
3. for gray output, OpenCV's ``cvtColor(RGB2GRAY)`` on that uint8 image:
   its 8-bit fixed-point kernel (:func:`rgb_to_gray_opencv`).

So :meth:`IFCNN.fuse` returns values exactly on the 8-bit grid (k / 255).

**Normalisation** (``normalization``), which decides which published images are reproduced
(``python -m benchmarks.verify.ifcnn_official``, max scheme, share of pixels within one gray level):

* ``"imagenet"`` (default): ImageNet's mean / std, as the repository's script
  does for colour images. Reproduces the IFCNN fusions the field's tables use
  (``Evaluation-for-Image-Fusion``'s ``IFCNN_TNO``, SeAFusion / PIAFusion's
  evaluation code: 42 TNO pairs, 100 % within one level, max |d| 1) and the
  repository's ``Results/IV`` for the max and sum schemes (100 %);
* ``"none"``: mean 0 / std 1, what the released script uses for infrared-visible
  pairs; reproduces the fusions committed with the weights
  (``Code/results/IFCNN-MAX-IV-*.png``, 100 %), not ``Results/IV`` (13 %).

The repository's ``Results/IV`` mean-scheme fusions (committed five months
before the weights) are reproduced by neither normalisation (42 % / 15 %).

IFCNN is **pretrained only** here (``pretrained_only = True``): the paper
trains on a large multi-focus image set of its own making (repository
README), which is not in the benchmark's data, so the module has no training step; build it with
:meth:`IFCNN.from_official` (the constructor alone has random weights).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .base import FusionModule, check_pair
from .registry import register_method

__all__ = ["IFCNN", "IFCNNNet", "NORMALIZATIONS", "SCHEMES", "rgb_to_gray_opencv"]

SCHEMES = ("max", "mean", "sum")
# (mean, std) per channel of Normalize in the authors' script.
NORMALIZATIONS = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "none": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
}
# OpenCV's RGB2GRAY for 8-bit images (4.x and 5.x): Y = (9798 R + 19235 G + 3735 B + 2^14) >> 15,
# the ITU-R 601 weights x 2^15 rounded (B's chosen so the three sum to 2^15).
_GRAY_WEIGHTS = (9798, 19235, 3735)
_GRAY_SHIFT = 15


def rgb_to_gray_opencv(rgb: torch.Tensor) -> torch.Tensor:
    """OpenCV's ``cvtColor(img, COLOR_RGB2GRAY)`` of an 8-bit RGB image, bit-exact.

    ``Y = (9798 R + 19235 G + 3735 B + 16384) >> 15``, OpenCV's fixed-point
    kernel for uint8 (the same in 4.x and 5.x; checked on all 2^24 RGB triples
    against opencv-python-headless 4.14 and 5.0 by ``tests/lightning_modules/test_ifcnn.py``).
    OpenCV 3.x used 14-bit weights (4899, 9617, 1868), one level apart on
    43,864 of the 2^24 triples; the 15-bit kernel matches the published IFCNN
    fusions more often (TNO: 99.9985 % of pixels equal, against 99.9972 %).

    Args:
        rgb: N x 3 x H x W integer levels 0..255 (any integer dtype, or float holding integers).

    Returns:
        N x 1 x H x W uint8 (gray images, R = G = B, map to themselves).
    """
    if rgb.ndim != 4 or rgb.shape[1] != 3:
        raise ValueError(f"rgb must be N x 3 x H x W, got {tuple(rgb.shape)}")
    levels = rgb.to(torch.int32)
    r, g, b = levels[:, 0:1], levels[:, 1:2], levels[:, 2:3]
    weight_r, weight_g, weight_b = _GRAY_WEIGHTS
    gray = (r * weight_r + g * weight_g + b * weight_b + (1 << (_GRAY_SHIFT - 1))) >> _GRAY_SHIFT
    return gray.to(torch.uint8)


class _ConvBlock(nn.Module):
    """Replicate pad 1 -> 3 x 3 conv 64 -> 64 (no bias) -> BN -> ReLU (the authors' ``ConvBlock``)."""

    def __init__(self, channels: int = 64) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size=3, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(F.pad(x, (1, 1, 1, 1), mode="replicate"))))


class IFCNNNet(nn.Module):
    """The IFCNN network on normalised three-channel images.

    conv1: replicate pad 3, 7 x 7 conv 3 -> 64, stride 1, no bias (ResNet-101's
    conv1, frozen in the paper); conv2: :class:`_ConvBlock` (per source);
    fusion rule; conv3: :class:`_ConvBlock`; conv4: 1 x 1 conv 64 -> 3 with bias.
    Parameter names are the authors' (``conv1.weight``, ``conv2.conv.weight``,
    ``conv2.bn.*``, ..., ``conv4.bias``): 83,587 parameters.

    Args:
        scheme: ``"max"``, ``"mean"`` or ``"sum"`` (element-wise over the sources' conv2 features).
    """

    def __init__(self, scheme: str = "max") -> None:
        super().__init__()
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
        self.scheme = scheme
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=1, padding=0, bias=False)
        self.conv2 = _ConvBlock()
        self.conv3 = _ConvBlock()
        self.conv4 = nn.Conv2d(64, 3, kernel_size=1, bias=True)
        for module in self.modules():  # the authors' initialisation (conv1 then comes from ResNet-101)
            if isinstance(module, nn.Conv2d):
                fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
                nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))

    def features(self, image: torch.Tensor) -> torch.Tensor:
        """Normalised image N x 3 x H x W -> conv2 features N x 64 x H x W."""
        return self.conv2(self.conv1(F.pad(image, (3, 3, 3, 3), mode="replicate")))

    def forward(self, *images: torch.Tensor) -> torch.Tensor:
        """Two or more normalised images N x 3 x H x W -> the fused image N x 3 x H x W (normalised units)."""
        if len(images) < 2:
            raise ValueError(f"IFCNN fuses two or more images, got {len(images)}")
        fused = None
        for features in map(self.features, images):
            if fused is None:
                fused = features
            elif self.scheme == "max":
                fused = torch.maximum(fused, features)
            else:
                fused = fused + features
        if self.scheme == "mean":
            fused = fused / len(images)
        return self.conv4(self.conv3(fused))


@register_method("ifcnn")
class IFCNN(FusionModule):
    """IFCNN as a FusionModule: the authors' test path around :class:`IFCNNNet` (see the module docstring).

    Pretrained only: build it with :meth:`from_official`; there is no training step.

    Args:
        scheme: fusion rule and released weights: ``"max"`` (default; the one the
            authors use for infrared-visible images), ``"mean"`` or ``"sum"``.
        normalization: ``"imagenet"`` (default; reproduces the published TNO fusions
            the field compares against) or ``"none"`` (mean 0 / std 1, the
            repository script's infrared-visible setting).

    Attributes:
        pretrained_only: ``True``: the weights come only from the authors' release.
        official_weights: the weights artifact (``datamodules.weights``), ``"ifcnn_weights"``.
    """

    pretrained_only = True
    official_weights = "ifcnn_weights"
    receptive_field = 5  # 7x7 conv1 (3 px) + 3x3 conv2, conv3 (1 px each) + 1x1 conv4; fusion and gray are pixel-wise

    def __init__(self, scheme: str = "max", normalization: str = "imagenet") -> None:
        super().__init__()
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {tuple(NORMALIZATIONS)}, got {normalization!r}")
        self.save_hyperparameters()
        self.net = IFCNNNet(scheme)

    # ---------------------------------------------------------------- weights
    @classmethod
    def from_official(cls, scheme: str = "max", path: str | Path | None = None,
                      data_root: str | Path | None = None, **kwargs: Any) -> "IFCNN":
        """The model with the authors' released weights of ``scheme``, in eval mode.

        Args:
            scheme: ``"max"``, ``"mean"`` or ``"sum"``.
            path: an ``IFCNN-<SCHEME>.pth`` file; default the released one from the
                data root (else the user cache), checked against its sha256
                (``datamodules.weights.weights_path("ifcnn", scheme)``).
            data_root: where to look for it (``--data-root``, else ``$IVIF_BENCH_DATA``).
            **kwargs: other hyper-parameters (``normalization``).

        The file is a state dict of 13 tensors with the authors' names, loaded
        with ``strict=True`` (its BatchNorm layers predate ``num_batches_tracked``).

        Raises:
            FileNotFoundError: no such file (the message names the download command).
            ValueError: the file is not IFCNN weights, or is not the released file.
        """
        from datamodules.weights import weights_path

        model = cls(scheme=scheme, **kwargs)
        path = Path(path) if path is not None else weights_path("ifcnn", scheme, data_root)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file (IFCNN weights: Code/snapshots/ of "
                                    "https://github.com/uzeful/IFCNN)")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad file
            raise ValueError(f"{path}: not a torch weights file ({err})") from None
        expected = {k for k in model.net.state_dict() if not k.endswith("num_batches_tracked")}
        if not isinstance(state, dict) or set(state) != expected:
            found = set(state) if isinstance(state, dict) else set()
            raise ValueError(f"{path}: not IFCNN weights (missing keys {sorted(expected - found)[:3]}, "
                             f"unexpected keys {sorted(found - expected)[:3]})")
        model.net.load_state_dict(state, strict=True)
        return model.eval()

    # ----------------------------------------------------------------- fusion
    def _normalization(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, std = NORMALIZATIONS[self.hparams.normalization]
        as_tensor = lambda v: torch.tensor(v, dtype=like.dtype, device=like.device).view(1, 3, 1, 1)  # noqa: E731
        return as_tensor(mean), as_tensor(std)

    def fuse_rgb(self, *images: torch.Tensor) -> torch.Tensor:
        """The authors' fusion of RGB images, before any gray conversion.

        Args:
            *images: two or more N x 3 x H x W float in [0, 1] (``u8 / 255``).

        Returns:
            N x 3 x H x W uint8: ``trunc(clamp(net(normalised) x std + mean, 0, 1) x 255)``.
        """
        for k, image in enumerate(images):
            if not isinstance(image, torch.Tensor) or image.ndim != 4 or image.shape[1] != 3:
                shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
                raise ValueError(f"image {k} must be a float tensor N x 3 x H x W, got {shape}")
            if image.shape != images[0].shape:
                raise ValueError(f"images differ in shape: {tuple(images[0].shape)} vs {tuple(image.shape)}")
        mean, std = self._normalization(images[0])
        out = self.net(*[(image - mean) / std for image in images])
        return ((out * std + mean).clamp(0, 1) * 255).to(torch.uint8)  # float -> uint8 truncates, as numpy astype

    def fuse(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        """Fuse IR and VIS, N x 1 x H x W in [0, 1], into N x 1 x H x W on the 8-bit grid (k / 255).

        Each gray image is replicated to three channels (as PIL's ``convert("RGB")``),
        fused by :meth:`fuse_rgb` (the authors pass the visible image first; every
        scheme is symmetric) and converted with OpenCV's RGB2GRAY. Uses
        BatchNorm in its current mode: call ``.eval()`` first (Lightning does
        in test / predict; :meth:`from_official` returns an eval model).
        """
        check_pair(ir, vis)
        rgb = self.fuse_rgb(vis.expand(-1, 3, -1, -1), ir.expand(-1, 3, -1, -1))
        return rgb_to_gray_opencv(rgb).to(ir.dtype) / 255
