"""The two-layer GAN (3 generators + 3 discriminators) and its one-layer case, FusionGAN.

Methods spec section 5. One :class:`TwoLayerGAN` LightningModule with manual
optimization owns every network and optimizer:

* layer one: G1 fuses [IR, VIS] with VIS as the discriminator's "real" image,
  G2 fuses [VIS, IR] with IR as "real";
* layer two: G3 fuses [F1, F2] (the outputs of G1 and G2) with F2 as "real";
  its output is the fused image.

With ``layers=1`` only the first pair exists: that is FusionGAN (Ma et al.
2019), registered as ``fusiongan`` (:class:`FusionGAN`).

Images inside the networks are in [-1, 1] (``to11``); :meth:`TwoLayerGAN.fuse`
takes and returns [0, 1].

Training schedule (``schedule="sequential"``, the default):

* stage 1 (epochs ``0 .. stage1_epochs - 1``, or the first ``stage1_steps``
  optimizer steps): per batch, pair 1 then pair 2; per pair one generator
  forward, ``d_steps`` (2) discriminator steps on that detached fake, then one
  generator step. G3 and D3 idle.
* stage 2: G1 and G2 frozen (eval BN, no gradients); ``d_steps`` D3 steps and
  one G3 step per batch.

``schedule="joint"`` trains all three pairs on every batch (F1, F2 detached).

A *step* (``trainer.global_step``, ``max_steps``) is one optimizer step, as
Lightning counts them under manual optimization: a stage-1 batch is 6 steps
(2 D + 1 G for each of pairs 1 and 2), a stage-2 batch 3, a joint batch 9,
a FusionGAN batch 3.

Multi-device: each backward reaches one network only, so DDP needs
``strategy="ddp_find_unused_parameters_true"`` (plain ``"ddp"`` stops with
Lightning's error about unused parameters).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_warn
from torch import nn

from datamodules.transforms import to_signed, to_unsigned

from .base import FusionModule, check_pair
from .losses import laplacian
from .registry import register_method

__all__ = ["Discriminator", "FusionGAN", "Generator", "TwoLayerGAN", "discriminator_output_size"]

GENERATOR_PAD = 4  # four 3 x 3 valid convolutions shrink each side by 4


def _dcgan_init(module: nn.Module) -> None:
    """DCGAN init: conv / linear weights N(0, 0.02), BN weights N(1, 0.02), biases 0."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class Generator(nn.Module):
    """Five valid convolutions (3 x 3 x 4, then 1 x 1), stride 1; output size = input size.

    The input is reflect-padded by 4 once, then conv 2->256->128->64->32 (3 x 3,
    no padding, BN, LeakyReLU 0.2) and conv 32->1 (1 x 1, tanh).

    Args:
        widths: output channels of the four 3 x 3 convolutions (FusionGAN's
            256, 128, 64, 32; smaller only for CPU-sized profiles: the cost is
            about 392k multiply-adds per pixel at the default widths).

    Shape:
        - Input: N x 2 x H x W in [-1, 1], channels [primary, other]; H, W >= 5.
        - Output: N x 1 x H x W in [-1, 1].
    """

    def __init__(self, widths: Sequence[int] = (256, 128, 64, 32)) -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) != 4 or min(widths) < 1:
            raise ValueError(f"generator widths must be 4 positive channel counts, got {widths!r}")
        self.widths = widths
        layers: list[nn.Module] = [nn.ReflectionPad2d(GENERATOR_PAD)]
        for c_in, c_out in zip((2, *widths[:-1]), widths):
            layers += [nn.Conv2d(c_in, c_out, 3), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]
        layers += [nn.Conv2d(widths[-1], 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(_dcgan_init)

    def forward(self, x: torch.Tensor, batch_statistics: bool = False) -> torch.Tensor:
        """Generate; ``batch_statistics=True`` normalises with the input's own BN statistics
        (as in training) and leaves the running statistics untouched, in any mode."""
        if x.ndim != 4 or x.shape[1] != 2:
            raise ValueError(f"Generator expects N x 2 x H x W, got {tuple(x.shape)}")
        if min(x.shape[-2:]) <= GENERATOR_PAD:
            raise ValueError(
                f"Generator needs images of at least {GENERATOR_PAD + 1} x {GENERATOR_PAD + 1} pixels "
                f"(reflect padding by {GENERATOR_PAD}), got {x.shape[-2]} x {x.shape[-1]}"
            )
        if not batch_statistics:
            return self.net(x)
        for layer in self.net:
            if isinstance(layer, nn.BatchNorm2d):
                x = F.batch_norm(x, None, None, layer.weight, layer.bias, training=True, eps=layer.eps)
            else:
                x = layer(x)
        return x


def discriminator_output_size(patch_size: int) -> int:
    """Side of the discriminator's last feature map for a ``patch_size`` square input (7 at 128).

    Each of the four 3 x 3 stride-2 valid convolutions maps n to (n - 3) // 2 + 1.

    Raises:
        ValueError: ``patch_size`` below 31, where a feature map would vanish.
    """
    size = int(patch_size)
    for _ in range(4):
        size = (size - 3) // 2 + 1
        if size < 1:
            raise ValueError(f"patch_size must be at least 31 for the discriminator's four stride-2 convolutions, got {patch_size}")
    return size


class Discriminator(nn.Module):
    """Four 3 x 3 stride-2 valid convolutions 1->32->64->128->256 (BN, LeakyReLU 0.2), then Linear -> 1.

    The linear layer's input size depends on the training patch size
    (256 x 7 x 7 = 12,544 at 128), so a discriminator only scores patches of
    the size it was built for. No sigmoid (LSGAN).

    Shape:
        - Input: N x 1 x patch_size x patch_size in [-1, 1].
        - Output: N scores.
    """

    widths = (1, 32, 64, 128, 256)

    def __init__(self, patch_size: int = 128) -> None:
        super().__init__()
        self.patch_size = int(patch_size)
        side = discriminator_output_size(self.patch_size)
        layers: list[nn.Module] = []
        for c_in, c_out in zip(self.widths[:-1], self.widths[1:]):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        self.linear = nn.Linear(self.widths[-1] * side * side, 1)
        self.apply(_dcgan_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if x.ndim != 4 or x.shape[1] != 1 or tuple(x.shape[-2:]) != (self.patch_size, self.patch_size):
            raise ValueError(
                f"Discriminator built for N x 1 x {self.patch_size} x {self.patch_size} patches "
                f"(the model's patch_size) got {tuple(x.shape)}; set patch_size to the training crop size"
            )
        return self.linear(self.features(x).flatten(1)).squeeze(1)


@register_method("two_layer_gan")
class TwoLayerGAN(FusionModule):
    """Two-layer GAN fusion (spec section 5): G1 / D1, G2 / D2, then G3 / D3 on their outputs.

    Args:
        layers: 2 (two-layer GAN, six networks) or 1 (FusionGAN: G1 / D1 only).
        patch_size: side of the square training patches, in pixels (>= 31);
            sizes the discriminators' linear layer. ``fuse`` takes any size.
        generator_widths: channels of the generators' four 3 x 3 convolutions
            (FusionGAN's 256, 128, 64, 32; smaller only to fit a CPU budget).
        lr: Adam learning rate of all six optimizers.
        betas: Adam betas.
        d_steps: discriminator steps per generator step (2).
        label_real: LSGAN target of D on real images (0.8).
        label_fake: LSGAN target of D on generated images (0.2).
        label_generator: the target the generator pushes D towards (l1 = 0.8).
        content_weight: zeta, weight of the content term (100).
        gradient_weight: lambda, weight of the Laplacian term in the content loss (2).
        schedule: ``"sequential"`` (stage 1 then stage 2) or ``"joint"`` (all
            pairs on every batch).
        stage1_epochs: epochs of stage 1 in the sequential schedule (10).
        stage1_steps: if set, stage 1 lasts this many optimizer steps
            (``global_step``; 6 per stage-1 batch) instead of ``stage1_epochs``.
        gradient_clip_val: clip each network's gradients before its step
            (Lightning forbids Trainer-level clipping under manual optimization);
            ``None`` = no clipping.
        gradient_clip_algorithm: ``"norm"`` or ``"value"``.
        fuse_normalization: BN statistics :meth:`fuse` uses: ``"running"``
            (eval-mode BN, the running averages of training) or ``"batch"``
            (each fused batch, i.e. each test image, normalised by its own
            statistics, as FusionGAN's official test script does: its TF
            ``batch_norm`` runs with ``is_training=True``).

    Batches: ``{"ir", "vis"}`` N x 1 x patch_size x patch_size in [0, 1].
    """

    # receptive field: per generator reflect pad 4, four valid 3x3 convs, 1x1 = 4 px (G3 after G1 / G2: 8);
    # fuse_normalization="batch" normalises each image by its own statistics: not local, never tiled
    receptive_field = property(lambda self: None if self.hparams.fuse_normalization == "batch" else 4 * self.hparams.layers)

    def __init__(
        self,
        layers: int = 2,
        patch_size: int = 128,
        generator_widths: Sequence[int] = (256, 128, 64, 32),
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.999),
        d_steps: int = 2,
        label_real: float = 0.8,
        label_fake: float = 0.2,
        label_generator: float = 0.8,
        content_weight: float = 100.0,
        gradient_weight: float = 2.0,
        schedule: str = "sequential",
        stage1_epochs: int = 10,
        stage1_steps: int | None = None,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str = "norm",
        fuse_normalization: str = "running",
    ) -> None:
        super().__init__()
        if layers not in (1, 2):
            raise ValueError(f"layers must be 1 (FusionGAN) or 2 (two-layer GAN), got {layers!r}")
        if schedule not in ("sequential", "joint"):
            raise ValueError(f"schedule must be 'sequential' or 'joint', got {schedule!r}")
        if int(d_steps) < 1:
            raise ValueError(f"d_steps must be >= 1, got {d_steps!r}")
        if gradient_clip_algorithm not in ("norm", "value"):
            raise ValueError(f"gradient_clip_algorithm must be 'norm' or 'value', got {gradient_clip_algorithm!r}")
        if fuse_normalization not in ("running", "batch"):
            raise ValueError(f"fuse_normalization must be 'running' or 'batch', got {fuse_normalization!r}")
        discriminator_output_size(patch_size)  # validates patch_size
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.restored_stage: int | None = None  # the stage a loaded checkpoint recorded
        self.generators = nn.ModuleList(Generator(generator_widths) for _ in range(2 * layers - 1))
        self.discriminators = nn.ModuleList(Discriminator(patch_size) for _ in range(2 * layers - 1))

    # ---------------------------------------------------------------- fusion
    def fuse(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        """F1 = G1([IR, VIS]), F2 = G2([VIS, IR]), out = G3([F1, F2]); BN per ``fuse_normalization``.

        Running statistics are never updated here, whatever the module's mode.

        Args:
            ir, vis: N x 1 x H x W in [0, 1], H and W >= 5.

        Returns:
            (out + 1) / 2, N x 1 x H x W in [0, 1]. FusionGAN: G1 only.
        """
        check_pair(ir, vis)
        ir11, vis11 = to_signed(ir), to_signed(vis)
        batch_statistics = self.hparams.fuse_normalization == "batch"
        modes = [g.training for g in self.generators]
        self.generators.eval()
        try:
            f1 = self.generators[0](torch.cat([ir11, vis11], 1), batch_statistics)
            if self.hparams.layers == 1:
                out = f1
            else:
                f2 = self.generators[1](torch.cat([vis11, ir11], 1), batch_statistics)
                out = self.generators[2](torch.cat([f1, f2], 1), batch_statistics)
        finally:
            for g, mode in zip(self.generators, modes):
                g.train(mode)
        return to_unsigned(out)

    # -------------------------------------------------------------- training
    @property
    def stage(self) -> int:
        """1 (layer one: pairs 1 and 2) or 2 (layer two: pair 3), from the trainer's progress.

        FusionGAN is always stage 1; the joint schedule reports 1 too (it trains all pairs).
        """
        if self.hparams.layers == 1 or self.hparams.schedule == "joint" or self._trainer is None:
            return 1
        if self.hparams.stage1_steps is not None:
            return 1 if self.trainer.global_step < self.hparams.stage1_steps else 2
        return 1 if self.current_epoch < self.hparams.stage1_epochs else 2

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        """Adam per network, ordered [G1, D1, G2, D2, G3, D3] ([G, D] for FusionGAN)."""
        hp = self.hparams
        optimizers = []
        for generator, discriminator in zip(self.generators, self.discriminators):
            optimizers.append(torch.optim.Adam(generator.parameters(), lr=hp.lr, betas=tuple(hp.betas)))
            optimizers.append(torch.optim.Adam(discriminator.parameters(), lr=hp.lr, betas=tuple(hp.betas)))
        return optimizers

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        check_pair(batch["ir"], batch["vis"])
        ir, vis = to_signed(batch["ir"]), to_signed(batch["vis"])
        logs: dict[str, torch.Tensor | float] = {}
        stage = self.stage
        if self.hparams.layers == 2:  # stage 2 freezes G1 and G2: eval BN, no gradients
            for generator in self.generators[:2]:
                generator.requires_grad_(stage == 1)
                if stage == 2:
                    generator.eval()
        if self.hparams.layers == 2 and stage == 2:
            with torch.no_grad():
                f1 = self.generators[0](torch.cat([ir, vis], 1))
                f2 = self.generators[1](torch.cat([vis, ir], 1))
            self._train_pair(2, torch.cat([f1, f2], 1), intensity=f1, gradient=f2, real=f2, logs=logs)
        else:
            f1 = self._train_pair(0, torch.cat([ir, vis], 1), intensity=ir, gradient=vis, real=vis, logs=logs)
            if self.hparams.layers == 2:
                f2 = self._train_pair(1, torch.cat([vis, ir], 1), intensity=vis, gradient=ir, real=ir, logs=logs)
                if self.hparams.schedule == "joint":
                    self._train_pair(2, torch.cat([f1, f2], 1), intensity=f1, gradient=f2, real=f2, logs=logs)
        logs["train/stage"] = float(stage)
        self.log_dict(logs, on_step=True, on_epoch=True, batch_size=ir.shape[0], sync_dist=True)

    def _train_pair(
        self,
        index: int,
        inputs: torch.Tensor,
        intensity: torch.Tensor,
        gradient: torch.Tensor,
        real: torch.Tensor,
        logs: dict[str, torch.Tensor | float],
    ) -> torch.Tensor:
        """One generator forward, ``d_steps`` D steps on the detached fake, one G step.

        Args:
            index: 0, 1, 2 for pairs 1, 2, 3.
            inputs: N x 2 x h x w generator input in [-1, 1].
            intensity, gradient: content-loss targets A_k (MSE) and B_k (Laplacian MSE), N x 1 x h x w.
            real: the discriminator's real images, N x 1 x h x w.
            logs: filled with ``train/g<k>_*`` and ``train/d<k>_*`` losses.

        Returns:
            The fake, detached, N x 1 x h x w in [-1, 1].
        """
        hp = self.hparams
        g_opt, d_opt = self.optimizers()[2 * index : 2 * index + 2]
        generator, discriminator = self.generators[index], self.discriminators[index]
        name = index + 1

        fake = generator(inputs)

        d_totals = []
        for _ in range(hp.d_steps):
            self.toggle_optimizer(d_opt)
            score_real = discriminator(real)
            score_fake = discriminator(fake.detach())
            d_real = torch.mean((score_real - hp.label_real) ** 2)
            d_fake = torch.mean((score_fake - hp.label_fake) ** 2)
            self._optimizer_step(d_opt, d_real + d_fake)
            self.untoggle_optimizer(d_opt)
            d_totals.append(torch.stack([d_real.detach(), d_fake.detach()]))
        d_mean = torch.stack(d_totals).mean(0)

        self.toggle_optimizer(g_opt)
        adversarial = torch.mean((discriminator(fake) - hp.label_generator) ** 2)
        intensity_term = F.mse_loss(fake, intensity)
        gradient_term = F.mse_loss(laplacian(fake), laplacian(gradient))
        content = hp.content_weight * (intensity_term + hp.gradient_weight * gradient_term)
        g_loss = adversarial + content
        self._optimizer_step(g_opt, g_loss)
        self.untoggle_optimizer(g_opt)

        logs.update(
            {
                f"train/g{name}_loss": g_loss.detach(),
                f"train/g{name}_adversarial": adversarial.detach(),
                f"train/g{name}_content": content.detach(),
                f"train/g{name}_intensity": intensity_term.detach(),
                f"train/g{name}_gradient": gradient_term.detach(),
                f"train/d{name}_loss": d_mean.sum(),
                f"train/d{name}_real": d_mean[0],
                f"train/d{name}_fake": d_mean[1],
            }
        )
        return fake.detach()

    def _optimizer_step(self, optimizer, loss: torch.Tensor) -> None:
        """Backward, optional clipping, step, zero_grad: for the toggled optimizer only."""
        self.manual_backward(loss)
        if self.hparams.gradient_clip_val is not None:
            self.clip_gradients(
                optimizer,
                gradient_clip_val=self.hparams.gradient_clip_val,
                gradient_clip_algorithm=self.hparams.gradient_clip_algorithm,
            )
        optimizer.step()
        optimizer.zero_grad()

    def on_train_end(self) -> None:
        """Warn when a two-layer run ended before G3 ever stepped (its untrained output is the fusion)."""
        if self.hparams.layers == 2 and not self.optimizers()[4].optimizer.state:
            rank_zero_warn(
                "two_layer_gan: training ended in stage 1, G3 was never trained and fuse() returns its output; "
                "train past stage1_epochs / stage1_steps (stage 2) or use schedule='joint'"
            )

    # ----------------------------------------------------------- checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Record the training stage (all nets and optimizer states are saved by Lightning)."""
        checkpoint["gan_stage"] = self.stage

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep the recorded stage for inspection; the live stage is derived from the restored progress."""
        self.restored_stage = checkpoint.get("gan_stage")


@register_method("fusiongan")
class FusionGAN(TwoLayerGAN):
    """FusionGAN: the one-layer case of :class:`TwoLayerGAN`, one G / D pair.

    G fuses [IR, VIS]; content loss MSE(F, IR) + gradient_weight * MSE(Lap F, Lap VIS);
    D's real images are VIS. Takes :class:`TwoLayerGAN`'s keyword arguments;
    ``layers`` is fixed to 1 (the argument exists so that saved hyper-parameters reload).
    """

    def __init__(self, layers: int = 1, **kwargs: Any) -> None:
        if layers != 1:
            raise ValueError(f"FusionGAN has one layer (layers=1), got layers={layers!r}; use TwoLayerGAN")
        super().__init__(layers=1, **kwargs)
