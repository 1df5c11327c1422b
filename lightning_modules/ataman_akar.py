"""Ataman and Akar's encoder-decoder trained on fusion-quality metrics (methods spec section 4).

Two encoders with separate weights (IR, VIS) turn each image into a five-level
pyramid; a 1 x 1 convolution fuses the two sources' features at every level; a
mirrored decoder of transposed convolutions with skip concatenations rebuilds
one image through ``tanh`` in [-1, 1] (pyFusionSR ``EncoderFusionDecoderv2``,
the VIS model's decoder). The network is linear except that final ``tanh``.

Layers, widths for ``base_channels = 64`` (spec 4.1), for an H x W input:

- e0 .. e4: Conv3x3 (zero pad 1, no bias) then AvgPool2, 1 -> 64 -> 128 -> 256 -> 512 -> 1024
  channels; level k is H / 2^(k+1) x W / 2^(k+1);
- fuse k: Conv1x1 with bias on cat[e_k^IR, e_k^VIS], 2 c_k -> c_k: u_k;
- d1 .. d4: ConvTranspose2d (k 4, s 2, p 1, 32 groups, no bias), then cat[skip, .]:
  d1 1024 -> 512 on u4, cat[u3, .]; d2 1024 -> 256, cat[u2, .]; d3 512 -> 128, cat[u1, .];
  d4 256 -> 64, cat[u0, .];
- d5: ConvTranspose2d 128 -> 64, back to H x W;
- out: Conv3x3 64 -> 1 (no bias), tanh: N x 1 x H x W in [-1, 1].

H and W must be multiples of 32: :meth:`AtamanAkar.fuse` zero-pads bottom/right
(zero of the network's [-1, 1] input, i.e. mid-gray) and crops back.

The loss is ``alpha (1 - Qw) + beta (1 - Qe^0.7) + gamma 0.5 (MSE(V, F) + MSE(I, F))``,
where Qw and Qe are :mod:`metrics.functional.piella`'s implementation, the same
code the evaluation metric runs, called with Ataman's parameters
(:data:`QUALITY_OPTIONS`).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from datamodules.transforms import gaussian_blur, gaussian_noise, to_signed, to_unsigned
from metrics.functional.piella import edge_dependent_fusion_quality, weighted_fusion_quality

from .base import FusionModule, check_pair, fuse_padded
from .registry import register_method

__all__ = ["EDGE_OPTIONS", "QUALITY_OPTIONS", "AtamanAkar", "AtamanAkarDecoder", "AtamanAkarEncoder",
           "AtamanAkarNet", "ataman_akar_loss"]

#: Number of encoder levels; each halves H and W, so inputs are padded to a multiple of 2^5 = 32.
LEVELS = 5
MULTIPLE = 2**LEVELS

#: Ataman-Akar's Qw / Qe options for :mod:`metrics.functional.piella` (spec 4.2, ``loss/fusionQualityLoss.py``):
#: non-overlapping 8 x 8 windows, unbiased (/63) variances, the eps-stabilised Q0 (eps 1e-8, NaN -> 0),
#: statistics on [0, 1] images, window weights c(w) normalised over the whole batch.
QUALITY_OPTIONS: dict[str, Any] = dict(
    window="block", block_size=8, variance="unbiased", stabilizer="eps", eps=1e-8, data_range=1.0,
    batch_weights=True,
)
#: Qe's extra options: Sobel_K magnitude edge maps min-max normalised per image, edge term only, ^0.7 after clamp >= 0.
EDGE_OPTIONS: dict[str, Any] = dict(edge="sobel_minmax", edge_only=True)


def _widths(base_channels: int) -> list[int]:
    return [base_channels * 2**k for k in range(LEVELS)]


class AtamanAkarEncoder(nn.Module):
    """Five levels of ``Conv3x3 (zero pad 1, no bias) -> AvgPool2``; channels double, size halves.

    Shape:
        - x: N x 1 x H x W (H, W multiples of 32), in [-1, 1]
        - output: list of 5 maps, level k: N x (base_channels 2^k) x H / 2^(k+1) x W / 2^(k+1)
    """

    def __init__(self, base_channels: int = 64) -> None:
        super().__init__()
        widths = _widths(base_channels)
        self.convs = nn.ModuleList(
            nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False)
            for c_in, c_out in zip([1] + widths[:-1], widths)
        )
        self.pool = nn.AvgPool2d(2)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:  # noqa: D102
        features = []
        for conv in self.convs:
            x = self.pool(conv(x))
            features.append(x)
        return features


class AtamanAkarDecoder(nn.Module):
    """Mirrored decoder: transposed convolutions (k4 s2 p1, grouped, no bias), skip first in each concat.

    Shape:
        - fused: list of 5 maps as :class:`AtamanAkarEncoder` returns
        - output: N x 1 x H x W in [-1, 1] (tanh)
    """

    def __init__(self, base_channels: int = 64, groups: int = 32) -> None:
        super().__init__()
        w = _widths(base_channels)  # [c0, c1, c2, c3, c4]
        # (in, out): d1 on u4; d2..d4 on cat[skip, previous]; d5 to full size.
        pairs = [(w[4], w[3]), (2 * w[3], w[2]), (2 * w[2], w[1]), (2 * w[1], w[0]), (2 * w[0], w[0])]
        for c_in, c_out in pairs:
            if c_in % groups or c_out % groups:
                raise ValueError(f"groups={groups} must divide every decoder width ({c_in} -> {c_out}); "
                                 f"lower groups or raise base_channels")
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(c_in, c_out, kernel_size=4, stride=2, padding=1, groups=groups, bias=False)
            for c_in, c_out in pairs
        )
        self.out = nn.Conv2d(w[0], 1, kernel_size=3, padding=1, bias=False)

    def forward(self, fused: Sequence[torch.Tensor]) -> torch.Tensor:  # noqa: D102
        x = fused[-1]
        for k, up in enumerate(self.up[:-1]):
            x = torch.cat([fused[LEVELS - 2 - k], up(x)], dim=1)
        return torch.tanh(self.out(self.up[-1](x)))


class AtamanAkarNet(nn.Module):
    """The whole network: IR and VIS in [-1, 1] (N x 1 x H x W, H and W multiples of 32) to [-1, 1].

    Args:
        base_channels: width of the first level (64); level k has ``base_channels * 2^k``.
        groups: groups of the transposed convolutions (32).
    """

    def __init__(self, base_channels: int = 64, groups: int = 32) -> None:
        super().__init__()
        self.encoder_ir = AtamanAkarEncoder(base_channels)
        self.encoder_vis = AtamanAkarEncoder(base_channels)
        self.fusion = nn.ModuleList(nn.Conv2d(2 * c, c, kernel_size=1, bias=True) for c in _widths(base_channels))
        self.decoder = AtamanAkarDecoder(base_channels, groups)

    def forward(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:  # noqa: D102
        height, width = ir.shape[-2:]
        if height % MULTIPLE or width % MULTIPLE:
            raise ValueError(f"AtamanAkarNet needs H and W multiples of {MULTIPLE}, got {height} x {width} "
                             f"(AtamanAkar.fuse pads for you)")
        fused = [fuse(torch.cat([a, b], dim=1))
                 for fuse, a, b in zip(self.fusion, self.encoder_ir(ir), self.encoder_vis(vis))]
        return self.decoder(fused)


def ataman_akar_loss(
    ir: torch.Tensor,
    vis: torch.Tensor,
    fused: torch.Tensor,
    alpha: float = 5.0,
    beta: float = 10.0,
    gamma: float = 30.0,
    edge_exponent: float = 0.7,
) -> dict[str, torch.Tensor]:
    """Ataman-Akar's loss (paper Eq. 3, spec 4.2) on [-1, 1] images.

    ``alpha (1 - Qw) + beta (1 - Qe) + gamma 0.5 (MSE(V, F) + MSE(I, F))`` with
    ``Qw = Qw(a = VIS, b = IR, F)`` on the images mapped to [0, 1] and
    ``Qe = max(Qw on Sobel min-max edge maps, 0) ^ edge_exponent``, both from
    :mod:`metrics.functional.piella` with :data:`QUALITY_OPTIONS` (batch-wide window
    weights, so each is one number for the batch). MSE on the [-1, 1] tensors.

    Args:
        ir, vis: sources N x 1 x H x W in [-1, 1] (the clean images, not the augmented inputs).
        fused: the network's output N x 1 x H x W in [-1, 1].
        alpha, beta, gamma: weights (5, 10, 30: pyFusionSR's ADAS+KAIST config).
        edge_exponent: the power on Qe (0.7).

    Returns:
        dict of scalars: ``loss`` and its terms ``qw``, ``qe`` (after the power) and ``mse``
        (the 0.5-weighted mean of the two MSEs).
    """
    # piella's first source is ``a`` (lambda's numerator): Ataman passes a = VIS, b = IR.
    images01 = [to_unsigned(t).clamp(0, 1) for t in (fused, vis, ir)]
    qw = weighted_fusion_quality(*images01, **QUALITY_OPTIONS)
    qe = edge_dependent_fusion_quality(*images01, **QUALITY_OPTIONS, **EDGE_OPTIONS, exponent=edge_exponent)
    mse = 0.5 * (F.mse_loss(fused, vis) + F.mse_loss(fused, ir))
    loss = alpha * (1 - qw) + beta * (1 - qe) + gamma * mse
    return {"loss": loss, "qw": qw, "qe": qe, "mse": mse}


@register_method("ataman_akar")
class AtamanAkar(FusionModule):
    """Ataman and Akar's encoder-decoder fusion network, trained on Qw / Qe / MSE.

    Training (spec 4.3): the network sees blurred, noisy copies of IR and VIS
    (Gaussian blur ``blur_sigma`` px, then Gaussian noise ``noise_sigma`` gray
    levels, clipped), mapped to [-1, 1] inside the module; the loss compares its
    output with the clean images. Adam (betas (0.9, 0.99), eps 1e-8), lr halved
    at ``lr_milestones`` epochs.

    Args:
        alpha, beta, gamma: loss weights (5, 10, 30).
        edge_exponent: power on Qe (0.7).
        augment: blur + noise on the training inputs (always on in the paper).
        blur_sigma: Gaussian blur standard deviation in pixels (0.2: PIL ``GaussianBlur(radius=0.2)``).
        noise_sigma: noise standard deviation in 8-bit gray levels (1).
        lr, betas, eps: Adam's.
        lr_milestones, lr_gamma: MultiStepLR per epoch ([10, 20, 30], 0.5).
        lr_interval: ``"epoch"`` (the paper's) or ``"step"``: the unit of ``lr_milestones``
            (short CPU profiles train for a few hundred steps, less than one epoch of patches).
        base_channels, groups: network width (64) and transposed-convolution groups (32).
    """

    receptive_field = 94  # 3x3 convs at scales 1-16 (31) + k4 s2 transposed convs (32+16+8+4+2) + out conv (1); max over alignments
    tile_multiple = MULTIPLE  # tiles start on the 32-pixel pooling grid that fuse_padded pads to

    def __init__(
        self,
        alpha: float = 5.0,
        beta: float = 10.0,
        gamma: float = 30.0,
        edge_exponent: float = 0.7,
        augment: bool = True,
        blur_sigma: float = 0.2,
        noise_sigma: float = 1.0,
        lr: float = 1e-3,
        betas: Sequence[float] = (0.9, 0.99),
        eps: float = 1e-8,
        lr_milestones: Sequence[int] = (10, 20, 30),
        lr_gamma: float = 0.5,
        lr_interval: str = "epoch",
        base_channels: int = 64,
        groups: int = 32,
    ) -> None:
        super().__init__()
        if lr_interval not in ("epoch", "step"):
            raise ValueError(f"lr_interval must be 'epoch' or 'step', got {lr_interval!r}")
        self.save_hyperparameters()
        self.network = AtamanAkarNet(base_channels, groups)

    def _fuse_signed(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        """[-1, 1] in, [-1, 1] out, any H x W (zero-padded to a multiple of 32 and cropped back)."""
        return fuse_padded(self.network, ir, vis, MULTIPLE)

    def fuse(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        """Fuse IR and VIS (N x 1 x H x W in [0, 1], any H x W) into N x 1 x H x W in [0, 1]."""
        check_pair(ir, vis)
        return to_unsigned(self._fuse_signed(to_signed(ir), to_signed(vis)))

    def augment_inputs(self, image: torch.Tensor) -> torch.Tensor:
        """The training corruption of one source, [0, 1] in and out: blur, then noise (clipped)."""
        hp = self.hparams
        if hp.blur_sigma > 0:
            image = gaussian_blur(image, hp.blur_sigma)
        if hp.noise_sigma > 0:
            image = gaussian_noise(image, hp.noise_sigma)
        return image

    def compute_loss(self, ir: torch.Tensor, vis: torch.Tensor, augment: bool | None = None) -> dict[str, torch.Tensor]:
        """The training loss and its terms for a batch of IR and VIS (N x 1 x h x w, [0, 1]).

        Args:
            augment: corrupt the network inputs (default: the ``augment`` hyper-parameter).

        Returns:
            dict of scalars ``loss``, ``qw``, ``qe``, ``mse`` (:func:`ataman_akar_loss`).
        """
        check_pair(ir, vis)
        hp = self.hparams
        augment = hp.augment if augment is None else augment
        ir_in, vis_in = (self.augment_inputs(ir), self.augment_inputs(vis)) if augment else (ir, vis)
        fused = self._fuse_signed(to_signed(ir_in), to_signed(vis_in))
        return ataman_akar_loss(to_signed(ir), to_signed(vis), fused, hp.alpha, hp.beta, hp.gamma,
                                hp.edge_exponent)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:  # noqa: D102
        ir, vis = self.paired_batch(batch)
        return self.log_loss_terms(self.compute_loss(ir, vis), ir.shape[0])

    def configure_optimizers(self):  # noqa: D102
        hp = self.hparams
        optimizer = torch.optim.Adam(self.parameters(), lr=hp.lr, betas=tuple(hp.betas), eps=hp.eps)
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(hp.lr_milestones), gamma=hp.lr_gamma)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": hp.lr_interval}}
