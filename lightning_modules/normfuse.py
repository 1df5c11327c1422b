"""NormFuse (PEAN letter, IEEE/CAA JAS) and its ResCat ablation (methods spec section 2).

An encoder splits one image into structure features S and detail features D
(plus two skip maps r1, r2); a decoder rebuilds the image by *modulating* S
with per-pixel scale and shift computed from D: pixel-adaptive normalization
(PEAN). At test time the features of IR and VIS are summed and decoded.

No code of the letter is public; the wiring copies DIDFuse (same group) and the
PEAN residual block follows SPADE (both **decisions** of the spec):

=========  =======================================================  ============
block      definition                                               output
=========  =======================================================  ============
conv1      reflect pad 1, Conv3x3 1->64, BN, PReLU                  e1 64 x H x W
res1       Conv3x3-BN-PReLU-Conv3x3-BN + identity, PReLU            r1 64
res2       same                                                     r2 64
conv_s     Conv3x3 64->64, BN, tanh                                 S  64
conv_d     Conv3x3 64->64, BN, tanh                                 D  64
pean1      PEANResBlock(64->64)(h=S, cond=D)                        p1 64
pean2      PEANResBlock(128->64)(h=cat[p1, r2], cond=D)             p2 64
conv_out   reflect pad 1, Conv3x3 128->1, BN(1), sigmoid on         x  1
           cat[p2, r1]
=========  =======================================================  ============

ResCat (the letter's Table 1 ablation) replaces every PEAN by an affine batch
norm and feeds cat[S, D] (128 channels) to the first block, which becomes a
128 -> 64 residual block with a 1 x 1 shortcut.

Every map keeps the input size, so :meth:`NormFuse.fuse` works for any H x W.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .base import FusionModule, check_pair
from .losses import l1_norm_fusion, sobel_gradients, ssim_loss_kornia
from .registry import register_method

__all__ = [
    "NormFuse",
    "NormFuseDecoder",
    "NormFuseEncoder",
    "PEAN",
    "PEANResBlock",
    "ResBlock",
    "ResCat",
]

FUSION_RULES = ("sum", "average", "l1_norm")


def _conv3x3(in_channels: int, out_channels: int, bias: bool = True) -> nn.Conv2d:
    """3 x 3 convolution, stride 1, zero padding 1 (keeps H x W)."""
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=bias)


# --------------------------------------------------------------- building blocks
class PEAN(nn.Module):
    """Pixel-adaptive normalization: ``gamma(D) * BN(h) + beta(D)``, per pixel and channel.

    ``BN`` has no affine parameters of its own. ``gamma`` and ``beta`` are
    computed from the condition (the detail features D) by a shared
    Conv3x3 + ReLU and two Conv3x3 heads (zero padding), so they vary per pixel;
    an activation at (y, x) depends on D only within the 5 x 5 window around it.
    The output is ``gamma * n + beta`` (not ``(1 + gamma) * n``, letter Fig. 4).

    Args:
        channels: C_h, channels of the normalized input ``h``.
        cond_channels: channels of the condition ``D`` (64).
        hidden: channels of the shared convolution (64, a decision; SPADE uses 128).

    Shape:
        - h: N x C_h x H x W
        - cond: N x cond_channels x H x W
        - output: N x C_h x H x W
    """

    def __init__(self, channels: int, cond_channels: int = 64, hidden: int = 64) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.shared = nn.Sequential(_conv3x3(cond_channels, hidden), nn.ReLU())
        self.gamma = _conv3x3(hidden, channels)
        self.beta = _conv3x3(hidden, channels)

    def forward(self, h: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if cond.shape[-2:] != h.shape[-2:]:
            raise ValueError(f"PEAN condition is {tuple(cond.shape[-2:])} but features are {tuple(h.shape[-2:])}")
        normalized = self.norm(h)
        activation = self.shared(cond)
        return self.gamma(activation) * normalized + self.beta(activation)


class _AffineBatchNorm(nn.BatchNorm2d):
    """Affine batch norm with PEAN's call signature (the condition is ignored): ResCat's norm."""

    def forward(self, h: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:  # noqa: D102
        return super().forward(h)


class PEANResBlock(nn.Module):
    """SPADE-style residual block with PEAN norms (spec 2.1, a decision).

    ``PEAN -> LeakyReLU(0.2) -> Conv3x3 ci->co -> PEAN -> LeakyReLU(0.2) -> Conv3x3 co->co``
    plus a shortcut: identity when ci == co, else ``PEAN -> Conv1x1`` (no bias).
    With ``pixel_adaptive=False`` every PEAN is an affine ``BatchNorm2d`` and the
    condition is unused (the ResCat ablation).

    Shape:
        - h: N x ci x H x W, cond: N x cond_channels x H x W
        - output: N x co x H x W
    """

    def __init__(self, in_channels: int, out_channels: int, cond_channels: int = 64, pixel_adaptive: bool = True) -> None:
        super().__init__()

        def norm(channels: int) -> nn.Module:
            return PEAN(channels, cond_channels) if pixel_adaptive else _AffineBatchNorm(channels)

        self.norm1 = norm(in_channels)
        self.conv1 = _conv3x3(in_channels, out_channels)
        self.norm2 = norm(out_channels)
        self.conv2 = _conv3x3(out_channels, out_channels)
        self.activation = nn.LeakyReLU(0.2)
        if in_channels != out_channels:
            self.shortcut_norm = norm(in_channels)
            self.shortcut_conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        else:
            self.shortcut_norm = self.shortcut_conv = None

    def forward(self, h: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:  # noqa: D102
        out = self.conv1(self.activation(self.norm1(h, cond)))
        out = self.conv2(self.activation(self.norm2(out, cond)))
        shortcut = h if self.shortcut_conv is None else self.shortcut_conv(self.shortcut_norm(h, cond))
        return out + shortcut


class ResBlock(nn.Module):
    """Encoder residual block: ``Conv3x3-BN-PReLU-Conv3x3-BN + identity``, then PReLU (C -> C, zero padding).

    PReLUs have one shared parameter (init 0.25), as in DIDFuse.
    """

    def __init__(self, channels: int = 64) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv3x3(channels, channels), nn.BatchNorm2d(channels), nn.PReLU(),
            _conv3x3(channels, channels), nn.BatchNorm2d(channels),
        )
        self.activation = nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.activation(self.body(x) + x)


# --------------------------------------------------------------- encoder / decoder
class NormFuseEncoder(nn.Module):
    """Three convolutions and two residual blocks: one image to (r1, r2, S, D).

    Shape:
        - x: N x 1 x H x W in [0, 1]
        - output: four maps N x 64 x H x W: skips r1, r2; structure S and detail D in [-1, 1]
    """

    def __init__(self, channels: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(1, channels, 3), nn.BatchNorm2d(channels), nn.PReLU()
        )
        self.res1 = ResBlock(channels)
        self.res2 = ResBlock(channels)
        self.conv_s = nn.Sequential(_conv3x3(channels, channels), nn.BatchNorm2d(channels), nn.Tanh())
        self.conv_d = nn.Sequential(_conv3x3(channels, channels), nn.BatchNorm2d(channels), nn.Tanh())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:  # noqa: D102
        r1 = self.res1(self.conv1(x))
        r2 = self.res2(r1)
        return r1, r2, self.conv_s(r2), self.conv_d(r2)


class NormFuseDecoder(nn.Module):
    """Two PEAN residual blocks and a convolution: (r1, r2, S, D) to one image in [0, 1].

    ``p1 = PEANRes1(S; D)``, ``p2 = PEANRes2(cat[p1, r2]; D)``, output
    ``sigmoid(BN(Conv3x3(reflect pad(cat[p2, r1]))))``. With ``pixel_adaptive=False``
    (ResCat) the first block takes ``cat[S, D]`` and every norm is an affine BN.

    Shape:
        - r1, r2, s, d: N x 64 x H x W
        - output: N x 1 x H x W in [0, 1]
    """

    def __init__(self, channels: int = 64, pixel_adaptive: bool = True) -> None:
        super().__init__()
        self.pixel_adaptive = pixel_adaptive
        first_in = channels if pixel_adaptive else 2 * channels
        self.block1 = PEANResBlock(first_in, channels, channels, pixel_adaptive)
        self.block2 = PEANResBlock(2 * channels, channels, channels, pixel_adaptive)
        self.conv_out = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(2 * channels, 1, 3), nn.BatchNorm2d(1), nn.Sigmoid()
        )

    def forward(self, r1: torch.Tensor, r2: torch.Tensor, s: torch.Tensor, d: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if self.pixel_adaptive:
            p1 = self.block1(s, d)
        else:
            p1 = self.block1(torch.cat([s, d], dim=1), None)
        p2 = self.block2(torch.cat([p1, r2], dim=1), d)
        return self.conv_out(torch.cat([p2, r1], dim=1))


# --------------------------------------------------------------- the methods
@register_method("normfuse")
class NormFuse(FusionModule):
    """NormFuse: structure/detail decomposition, fused by pixel-adaptive normalization.

    Training (spec 2.4, DIDFuse conventions): each step encodes and decodes the
    VIS batch and the IR batch in two separate passes (per-modality batch-norm
    statistics), loss :meth:`compute_loss`; Adam, MultiStepLR per epoch.
    Fusion: S, D and the skips r1, r2 of IR and VIS are combined by
    ``fusion_rule`` (``"sum"``, the letter's rule; ``"average"``; ``"l1_norm"``)
    and decoded.

    Args:
        alpha1, alpha2, alpha3, alpha4, ssim_weight: loss weights (letter: 0.5, 2, 3, 20, lambda = 5).
        lr: Adam learning rate (lost in the letter's extraction; 1e-3 as DIDFuse).
        lr_milestones: epochs where the lr is multiplied by ``lr_gamma`` (letter: every 40 of 120).
        lr_gamma: the decay factor (0.1).
        lr_interval: ``"epoch"`` (the paper's) or ``"step"``: the unit of ``lr_milestones``
            (short CPU profiles train for a few hundred steps, less than one epoch of patches).
        fusion_rule: how the two sources' features are combined at test time.
        channels: feature width (64).
    """

    #: ``False`` in :class:`ResCat`: PEAN replaced by batch norm, S and D concatenated.
    pixel_adaptive: bool = True
    receptive_field = 14  # 3x3 convs: encoder to D 6, PEAN on D 2, block1 2, block2 2, conv_out 1 = 13 px; l1_norm's box: +1

    def __init__(
        self,
        alpha1: float = 0.5,
        alpha2: float = 2.0,
        alpha3: float = 3.0,
        alpha4: float = 20.0,
        ssim_weight: float = 5.0,
        lr: float = 1e-3,
        lr_milestones: Sequence[int] = (40, 80),
        lr_gamma: float = 0.1,
        lr_interval: str = "epoch",
        fusion_rule: str = "sum",
        channels: int = 64,
    ) -> None:
        super().__init__()
        if fusion_rule not in FUSION_RULES:
            raise ValueError(f"fusion_rule must be one of {', '.join(FUSION_RULES)}, got {fusion_rule!r}")
        if lr_interval not in ("epoch", "step"):
            raise ValueError(f"lr_interval must be 'epoch' or 'step', got {lr_interval!r}")
        self.save_hyperparameters()
        self.encoder = NormFuseEncoder(channels)
        self.decoder = NormFuseDecoder(channels, pixel_adaptive=self.pixel_adaptive)

    def compute_loss(self, ir: torch.Tensor, vis: torch.Tensor) -> dict[str, torch.Tensor]:
        """The training loss and its terms for a batch of IR and VIS crops (N x 1 x h x w, [0, 1]).

        ``L = a2 f(I, I^) + a3 f(V, V^) + tanh(gap_structure) - a1 tanh(gap_detail) + a4 gradient``
        with ``f = MSE + lambda SSIM_K`` (spec 2.2, DIDFuse's code form); every mean runs over all
        elements.

        Returns:
            dict of scalars: ``loss`` (the total) and the unweighted terms ``recon_vis``,
            ``recon_ir`` (f), ``gap_structure`` = mean|S_I - S_V|, ``gap_detail`` =
            mean|D_I - D_V| and ``gradient`` = mean|Sobel_K(V) - Sobel_K(V^)|.
        """
        check_pair(ir, vis)
        hp = self.hparams
        # DIDFuse's order: encode VIS, encode IR, decode VIS, decode IR (per-modality BN statistics).
        features_vis = self.encoder(vis)
        features_ir = self.encoder(ir)
        recon_vis = self.decoder(*features_vis)
        recon_ir = self.decoder(*features_ir)

        def reconstruction(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
            return F.mse_loss(x_hat, x) + hp.ssim_weight * ssim_loss_kornia(x, x_hat)

        terms = {
            "recon_vis": reconstruction(vis, recon_vis),
            "recon_ir": reconstruction(ir, recon_ir),
            "gap_structure": (features_ir[2] - features_vis[2]).abs().mean(),
            "gap_detail": (features_ir[3] - features_vis[3]).abs().mean(),
            "gradient": (sobel_gradients(vis) - sobel_gradients(recon_vis)).abs().mean(),
        }
        terms["loss"] = (
            hp.alpha2 * terms["recon_ir"]
            + hp.alpha3 * terms["recon_vis"]
            + torch.tanh(terms["gap_structure"])
            - hp.alpha1 * torch.tanh(terms["gap_detail"])
            + hp.alpha4 * terms["gradient"]
        )
        return terms

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:  # noqa: D102
        ir, vis = self.paired_batch(batch)
        return self.log_loss_terms(self.compute_loss(ir, vis), ir.shape[0])

    def configure_optimizers(self):  # noqa: D102
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
        scheduler = torch.optim.lr_scheduler.MultiStepLR(
            optimizer, milestones=list(self.hparams.lr_milestones), gamma=self.hparams.lr_gamma
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": self.hparams.lr_interval}}

    def fuse(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        """Fuse IR and VIS (N x 1 x H x W in [0, 1], any H x W) into N x 1 x H x W in [0, 1]."""
        check_pair(ir, vis)
        rule = self.hparams.fusion_rule
        fused = []
        for a, b in zip(self.encoder(ir), self.encoder(vis)):
            if rule == "sum":
                fused.append(a + b)
            elif rule == "average":
                fused.append((a + b) / 2)
            else:
                fused.append(l1_norm_fusion(a, b))
        return self.decoder(*fused)


@register_method("rescat")
class ResCat(NormFuse):
    """ResCat, the letter's ablation (Table 1): NormFuse with every PEAN replaced by an
    affine batch norm and the decoder fed cat[S, D]. Same arguments, loss, training and fusion."""

    pixel_adaptive = False
    receptive_field = 12  # 3x3 convs: encoder 6, block1 2, block2 2, conv_out 1 = 11 px (no PEAN); l1_norm's box: +1
