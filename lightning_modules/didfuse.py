"""DIDFuse: deep image decomposition for infrared and visible image fusion (Zhao et al., IJCAI 2020).

An auto-encoder whose encoder splits an image into background (B) and detail (D)
feature maps; training pulls the IR and VIS backgrounds together and pushes the
details apart while both images are reconstructed. At test time the encoder
features of IR and VIS are fused pair by pair and decoded.

Follows ``shared/spec/methods.md`` section 1 (checked against the authors'
``DIDFuse.py``, ``train.py`` and ``utils_didfuse.py``). Where the paper and the
authors' code disagree, the code is followed (it is what produced the released
weights and fused images); the paper's values are options:

* decomposition weight ``alpha1`` = 0.5 (paper: 0.05);
* decomposition gaps are mean absolute differences, ``decomp_norm="l1"``
  (paper: squared L2, ``decomp_norm="l2"`` = mean squared difference);
* the gradient operator is kornia's normalised Sobel (``sobel_gradients``);
* all **four** encoder outputs (f1, f2, B, D) are fused, skips included
  (the paper only names B and D).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .base import FusionModule, check_pair
from .losses import l1_norm_fusion, sobel_gradients, ssim_loss_kornia
from .registry import register_method

__all__ = ["DIDFuse", "DIDFuseDecoder", "DIDFuseEncoder", "FUSION_STRATEGIES", "OFFICIAL_DECODER", "OFFICIAL_ENCODER"]

CHANNELS = 64
FUSION_STRATEGIES = ("sum", "average", "l1_norm")
# The authors' released weights, relative to the data root (github.com/Zhaozixiang1228/IVIF-DIDFuse, Models/).
OFFICIAL_ENCODER = "IVIF-DIDFuse/Models/Encoder_weight_IJCAI.pkl"
OFFICIAL_DECODER = "IVIF-DIDFuse/Models/Decoder_weight_IJCAI.pkl"


def _layer(name: str, in_channels: int, out_channels: int, activation: nn.Module, reflect: bool) -> nn.Sequential:
    """One official layer: [reflect pad] -> 3 x 3 conv (bias) -> BN -> activation.

    Wrapped as ``Sequential(name=Sequential(...))`` so the parameter keys are the
    authors' ``<name>.<name>.<idx>.<param>`` (idx 0 is the pad when ``reflect``).
    """
    if reflect:
        body = [nn.ReflectionPad2d(1), nn.Conv2d(in_channels, out_channels, 3, padding=0)]
    else:
        body = [nn.Conv2d(in_channels, out_channels, 3, padding=1)]
    body += [nn.BatchNorm2d(out_channels), activation]
    return nn.Sequential(OrderedDict([(name, nn.Sequential(*body))]))


class DIDFuseEncoder(nn.Module):
    """Image -> (f1, f2, B, D), each N x 64 x H x W.

    cov1: reflect pad, 1 -> 64, PReLU (f1); cov2: 64 -> 64, PReLU (f2);
    cov3 / cov4: 64 -> 64 from f2, tanh (background B / detail D, in (-1, 1)).
    111,938 trainable parameters.
    """

    def __init__(self) -> None:
        super().__init__()
        self.cov1 = _layer("cov1", 1, CHANNELS, nn.PReLU(), reflect=True)
        self.cov2 = _layer("cov2", CHANNELS, CHANNELS, nn.PReLU(), reflect=False)
        self.cov3 = _layer("cov3", CHANNELS, CHANNELS, nn.Tanh(), reflect=False)
        self.cov4 = _layer("cov4", CHANNELS, CHANNELS, nn.Tanh(), reflect=False)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """image N x 1 x H x W in [0, 1] -> (f1, f2, B, D), each N x 64 x H x W."""
        f1 = self.cov1(image)
        f2 = self.cov2(f1)
        return f1, f2, self.cov3(f2), self.cov4(f2)


class DIDFuseDecoder(nn.Module):
    """(f1, f2, B, D) -> image N x 1 x H x W in (0, 1).

    cov5: cat[B, D] 128 -> 64, PReLU; cov6: cat[o5, f2] 128 -> 64, PReLU;
    cov7: cat[o6, f1], reflect pad, 128 -> 1, BN(1), sigmoid.
    148,997 trainable parameters. The concatenation orders are the authors'.
    """

    def __init__(self) -> None:
        super().__init__()
        self.cov5 = _layer("cov5", 2 * CHANNELS, CHANNELS, nn.PReLU(), reflect=False)
        self.cov6 = _layer("cov6", 2 * CHANNELS, CHANNELS, nn.PReLU(), reflect=False)
        self.cov7 = _layer("cov7", 2 * CHANNELS, 1, nn.Sigmoid(), reflect=True)

    def forward(self, f1: torch.Tensor, f2: torch.Tensor, background: torch.Tensor, detail: torch.Tensor) -> torch.Tensor:
        """Four N x 64 x H x W maps -> N x 1 x H x W in (0, 1) (the raw sigmoid, no rescaling)."""
        out = self.cov5(torch.cat([background, detail], 1))
        out = self.cov6(torch.cat([out, f2], 1))
        return self.cov7(torch.cat([out, f1], 1))


@register_method("didfuse")
class DIDFuse(FusionModule):
    """DIDFuse as a LightningModule.

    Training batches: ``{"ir", "vis"}`` N x 1 x h x w in [0, 1] (the paper: 128 x 128
    center crops of ``flir_train``, gray). The encoder and decoder run on the VIS
    batch and on the IR batch separately, so BatchNorm keeps per-modality batch
    statistics as in the authors' code.

    Loss (authors' ``train.py``), every mean over all elements::

        L = alpha2 f(I, I^) + alpha3 f(V, V^) + tanh(gap(B_I, B_V)) - alpha1 tanh(gap(D_I, D_V))
            + alpha4 mean|Sobel(V) - Sobel(V^)|,     f(X, X^) = MSE(X, X^) + ssim_weight SSIM_K(X, X^)

    Attributes:
        official_weights: the weights artifact (``datamodules.weights``), ``"didfuse_weights"``.

    Args:
        fusion_strategy: test-time rule for each of the four feature pairs:
            ``"sum"`` (default, the paper's choice), ``"average"`` (weighted with
            ``gammas``) or ``"l1_norm"`` (L1FUSE: l1 activity, 3 x 3 box blur).
        gammas: (gamma1, gamma2, gamma3, gamma4) of the weighted average: B_F =
            gamma1 B_I + gamma2 B_V, D_F = gamma3 D_I + gamma4 D_V; the skip features
            f1, f2 are always averaged 0.5 / 0.5 as in the authors' code.
        alpha1: weight of the detail gap (code 0.5; paper 0.05).
        alpha2, alpha3: weights of the IR and VIS reconstruction terms (2, 2).
        alpha4: weight of the VIS gradient term (10).
        ssim_weight: lambda in f(X, X^) (5).
        decomp_norm: ``"l1"`` mean |difference| (code) or ``"l2"`` mean squared
            difference (the paper's squared L2 norm, normalised by the element count).
        lr: Adam learning rate (1e-3).
        lr_milestones: epochs (or steps, see ``lr_interval``) at which the learning
            rate is multiplied by ``lr_gamma`` (the paper: epochs [40, 80] of 120).
        lr_gamma: step factor (0.1).
        lr_interval: ``"epoch"`` (the paper) or ``"step"``: what ``lr_milestones`` count,
            for runs shorter than an epoch.
    """

    official_weights = "didfuse_weights"
    receptive_field = 7  # 3x3 convs cov1, cov2, cov3|4, cov5, cov6, cov7 on the longest path: 6 px; l1_norm's 3x3 box: +1

    def __init__(
        self,
        fusion_strategy: str = "sum",
        gammas: Sequence[float] = (0.5, 0.5, 0.5, 0.5),
        alpha1: float = 0.5,
        alpha2: float = 2.0,
        alpha3: float = 2.0,
        alpha4: float = 10.0,
        ssim_weight: float = 5.0,
        decomp_norm: str = "l1",
        lr: float = 1e-3,
        lr_milestones: Sequence[int] = (40, 80),
        lr_gamma: float = 0.1,
        lr_interval: str = "epoch",
    ) -> None:
        super().__init__()
        if fusion_strategy not in FUSION_STRATEGIES:
            raise ValueError(f"fusion_strategy must be one of {FUSION_STRATEGIES}, got {fusion_strategy!r}")
        if decomp_norm not in ("l1", "l2"):
            raise ValueError(f"decomp_norm must be 'l1' or 'l2', got {decomp_norm!r}")
        if lr_interval not in ("epoch", "step"):
            raise ValueError(f"lr_interval must be 'epoch' or 'step', got {lr_interval!r}")
        if len(gammas) != 4:
            raise ValueError(f"gammas must be four numbers (gamma1..gamma4), got {list(gammas)}")
        self.save_hyperparameters()
        self.encoder = DIDFuseEncoder()
        self.decoder = DIDFuseDecoder()

    # ---------------------------------------------------------------- weights
    @classmethod
    def from_official(cls, encoder_path: str | Path | None = None, decoder_path: str | Path | None = None,
                      data_root: str | Path | None = None, **kwargs: Any) -> "DIDFuse":
        """Build the model with the authors' released weights.

        Args:
            encoder_path: ``IVIF-DIDFuse/Models/Encoder_weight_IJCAI.pkl``; default the
                released file from the data root (else the user cache), checked
                against its sha256 (``datamodules.weights.weights_path("didfuse", "encoder")``).
            decoder_path: ``IVIF-DIDFuse/Models/Decoder_weight_IJCAI.pkl``; default likewise.
            data_root: where to look for the released files (``--data-root``, else
                ``$IVIF_BENCH_DATA``, else the user cache dir).
            **kwargs: hyper-parameters (e.g. ``fusion_strategy``).

        The files hold ``{"weight": state_dict, "epoch": 120}``; their keys
        ``covN.covN.<idx>.<param>`` are this model's ``encoder.`` / ``decoder.``
        keys, loaded with ``strict=True``. Returns the model in eval mode.

        Raises:
            FileNotFoundError: a missing file (for a released one, the message names
                the command that fetches it).
            ValueError: not the DIDFuse weights, or a released file that is altered.
        """
        from datamodules.weights import weights_path

        model = cls(**kwargs)
        paths = (encoder_path if encoder_path is not None else weights_path("didfuse", "encoder", data_root),
                 decoder_path if decoder_path is not None else weights_path("didfuse", "decoder", data_root))
        for path, module in zip(paths, (model.encoder, model.decoder)):
            module.load_state_dict(_read_official_state(path, module), strict=True)
        return model.eval()

    @classmethod
    def from_data_root(cls, data_root: str | Path | None = None, **kwargs: Any) -> "DIDFuse":
        """:meth:`from_official` with the released files under the data root (``--data-root``,
        else ``$IVIF_BENCH_DATA``), else the user cache dir: ``OFFICIAL_ENCODER`` / ``OFFICIAL_DECODER``."""
        return cls.from_official(data_root=data_root, **kwargs)

    # ----------------------------------------------------------------- fusion
    def fuse_features(self, features_ir: Sequence[torch.Tensor], features_vis: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Fuse the encoder outputs (f1, f2, B, D) of IR and VIS with ``fusion_strategy``."""
        strategy = self.hparams.fusion_strategy
        if strategy == "sum":
            return [a + b for a, b in zip(features_ir, features_vis)]
        if strategy == "l1_norm":
            return [l1_norm_fusion(a, b) for a, b in zip(features_ir, features_vis)]
        g1, g2, g3, g4 = self.hparams.gammas
        weights = ((0.5, 0.5), (0.5, 0.5), (g1, g2), (g3, g4))
        return [w_ir * a + w_vis * b for (w_ir, w_vis), a, b in zip(weights, features_ir, features_vis)]

    def fuse(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        """Fuse IR and VIS, N x 1 x H x W in [0, 1] (H, W >= 2), into N x 1 x H x W in (0, 1).

        Uses BatchNorm in its current mode: call ``.eval()`` first (Lightning does
        in test / predict). The output is the raw sigmoid map, as the authors save it.
        """
        check_pair(ir, vis)
        fused = self.fuse_features(self.encoder(ir), self.encoder(vis))
        return self.decoder(*fused)

    # --------------------------------------------------------------- training
    def _gap(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        diff = a - b
        return diff.abs().mean() if self.hparams.decomp_norm == "l1" else diff.pow(2).mean()

    def compute_loss(self, ir: torch.Tensor, vis: torch.Tensor) -> dict[str, torch.Tensor]:
        """The training loss and its terms for a batch of IR and VIS crops (N x 1 x h x w, [0, 1]).

        Returns a dict of scalars: ``loss`` (the total) and the unweighted terms
        ``recon_vis``, ``recon_ir`` (f), ``gap_background``, ``gap_detail`` and
        ``gradient``.
        """
        check_pair(ir, vis)
        hp = self.hparams
        # Authors' order: encode VIS, encode IR, decode VIS, decode IR (per-modality BN).
        features_vis = self.encoder(vis)
        features_ir = self.encoder(ir)
        recon_vis = self.decoder(*features_vis)
        recon_ir = self.decoder(*features_ir)

        def reconstruction(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
            return F.mse_loss(x_hat, x) + hp.ssim_weight * ssim_loss_kornia(x, x_hat)

        terms = {
            "recon_vis": reconstruction(vis, recon_vis),
            "recon_ir": reconstruction(ir, recon_ir),
            "gap_background": self._gap(features_ir[2], features_vis[2]),
            "gap_detail": self._gap(features_ir[3], features_vis[3]),
            "gradient": (sobel_gradients(vis) - sobel_gradients(recon_vis)).abs().mean(),
        }
        terms["loss"] = (
            hp.alpha2 * terms["recon_ir"]
            + hp.alpha3 * terms["recon_vis"]
            + torch.tanh(terms["gap_background"])
            - hp.alpha1 * torch.tanh(terms["gap_detail"])
            + hp.alpha4 * terms["gradient"]
        )
        return terms

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        ir, vis = self.paired_batch(batch)
        return self.log_loss_terms(self.compute_loss(ir, vis), ir.shape[0])

    def configure_optimizers(self):
        hp = self.hparams
        optimizer = torch.optim.Adam(self.parameters(), lr=hp.lr)
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(hp.lr_milestones), gamma=hp.lr_gamma)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": hp.lr_interval}}


def _read_official_state(path: str | Path, module: nn.Module) -> dict[str, torch.Tensor]:
    """Read one authors' ``.pkl`` and check its keys against ``module``, with errors naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (the DIDFuse authors' weights: "
                                "Models/ of https://github.com/Zhaozixiang1228/IVIF-DIDFuse)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad file
        raise ValueError(f"{path}: not a torch weights file ({err})") from None
    state = payload.get("weight", payload) if isinstance(payload, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected {{'weight': state_dict}}, got {type(payload).__name__}")
    expected, found = set(module.state_dict()), set(state)
    if expected != found:
        missing, extra = sorted(expected - found), sorted(found - expected)
        raise ValueError(f"{path}: not DIDFuse {type(module).__name__} weights (missing keys {missing[:3]}, "
                         f"unexpected keys {extra[:3]})")
    return state
