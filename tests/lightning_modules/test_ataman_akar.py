"""Ataman-Akar encoder-decoder: architecture, the Qw / Qe / MSE loss (shared with the metrics), training, checkpoints.

The training tests use ``base_channels=16, groups=8`` (the real code path, a
narrow width) on 64 x 64 centre crops of real flir_train pairs.
"""

from __future__ import annotations


import lightning as L
import numpy as np
import pytest
import torch

from lightning_modules import create_method, get_method_class, list_methods
from lightning_modules import ataman_akar as module
from lightning_modules.ataman_akar import AtamanAkar, AtamanAkarNet, ataman_akar_loss
from metrics.functional import piella

NARROW = dict(base_channels=16, groups=8)


@pytest.fixture(scope="module")
def batch(flir_train_crops):
    """IR and VIS 64 x 64 centre crops of flir_train pairs 5 and 6: 2 x 1 x 64 x 64 in [0, 1]."""
    return flir_train_crops((5, 6), 64)


# ------------------------------------------------------------------ architecture
def test_registered_and_the_spec_architecture():
    assert get_method_class("ataman_akar") is AtamanAkar and "ataman_akar" in list_methods(trainable=True)
    model = create_method("ataman_akar")
    # spec 4.1 widths: encoders 2 x 6,267,456; 1 x 1 fusion 2,795,456; decoder 438,848 (pyFusionSR's layers)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(model.network.encoder_ir) == count(model.network.encoder_vis) == 6_267_456
    assert count(model.network.fusion) == 2_795_456
    assert count(model.network.decoder) == 438_848
    encoder = model.network.encoder_ir
    assert all(conv.bias is None for conv in encoder.convs)  # linear, no bias, no BN
    with torch.no_grad():
        shapes = [tuple(f.shape[1:]) for f in encoder(torch.zeros(1, 1, 64, 96))]
    assert shapes == [(64, 32, 48), (128, 16, 24), (256, 8, 12), (512, 4, 6), (1024, 2, 3)]


def test_network_needs_multiples_of_32_and_fuse_pads(batch):
    net = AtamanAkarNet(**NARROW)
    with pytest.raises(ValueError, match="multiples of 32"):
        net(torch.zeros(1, 1, 48, 64), torch.zeros(1, 1, 48, 64))
    with pytest.raises(ValueError, match="groups"):
        AtamanAkarNet(base_channels=16, groups=32)
    model = AtamanAkar(**NARROW).eval()
    ir, vis = (t[:1, :, :45, :37] for t in batch)
    with torch.no_grad():
        fused = model.fuse(ir, vis)
    assert fused.shape == (1, 1, 45, 37) and torch.isfinite(fused).all()
    assert 0 <= fused.min() and fused.max() <= 1


# ------------------------------------------------------------------ loss
def _qw_reference(a: np.ndarray, b: np.ndarray, f: np.ndarray, eps: float = 1e-8) -> float:
    """Spec 4.2 written out in numpy: 8 x 8 blocks, unbiased moments, eps Q0, batch-wide c(w)."""
    num = den = 0.0
    for n in range(a.shape[0]):
        for y in range(0, a.shape[-2] - 7, 8):
            for x in range(0, a.shape[-1] - 7, 8):
                wa, wb, wf = (t[n, 0, y:y + 8, x:x + 8].ravel() for t in (a, b, f))
                va, vb, vf = (np.var(t, ddof=1) for t in (wa, wb, wf))

                def q0(wx, vx):
                    cov = np.cov(wx, wf, ddof=1)[0, 1]
                    sx, sf = np.sqrt(vx + eps), np.sqrt(vf + eps)
                    mx, mf = wx.mean(), wf.mean()
                    return (cov / (sx * sf + eps)) * (2 * mx * mf / (mx**2 + mf**2 + eps)) * (2 * sx * sf / (vx + vf + eps))

                lam = va / (va + vb + eps)
                c = max(va, vb)
                num += c * (lam * q0(wa, va) + (1 - lam) * q0(wb, vb))
                den += c
    return num / den


def _edges_reference(x: np.ndarray) -> np.ndarray:
    """kornia ``normalize_min_max(sobel(x))``: Sobel / 8, replicate padding, sqrt(gx^2 + gy^2 + 1e-6), min-max."""
    kx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64) / 8
    out = np.empty_like(x)
    for n in range(x.shape[0]):
        p = np.pad(x[n, 0], 1, mode="edge")
        h, w = x.shape[-2:]
        gx = sum(kx[i, j] * p[i:i + h, j:j + w] for i in range(3) for j in range(3))
        gy = sum(kx.T[i, j] * p[i:i + h, j:j + w] for i in range(3) for j in range(3))
        m = np.sqrt(gx**2 + gy**2 + 1e-6)
        out[n, 0] = (m - m.min()) / (m.max() - m.min() + 1e-6)
    return out


def test_loss_is_the_spec_formula_on_real_images(batch):
    """Every term against an independent numpy transcription of spec 4.2 (and the metrics' own functions)."""
    ir01, vis01 = (t[..., :32, :32].double() for t in batch)
    fused01 = 0.6 * vis01 + 0.4 * ir01
    terms = ataman_akar_loss(ir01 * 2 - 1, vis01 * 2 - 1, fused01 * 2 - 1)
    assert set(terms) == {"loss", "qw", "qe", "mse"}
    for name, value in terms.items():
        assert value.ndim == 0 and torch.isfinite(value), name
    a, b, f = vis01.numpy(), ir01.numpy(), fused01.numpy()
    qw = _qw_reference(a, b, f)
    qe = max(_qw_reference(*(_edges_reference(t) for t in (a, b, f))), 0.0) ** 0.7
    mse = 0.5 * (np.mean((2 * f - 2 * a) ** 2) + np.mean((2 * f - 2 * b) ** 2))
    assert terms["qw"].item() == pytest.approx(qw, abs=1e-10)
    assert terms["qe"].item() == pytest.approx(qe, abs=1e-10)
    assert terms["mse"].item() == pytest.approx(mse, abs=1e-12)
    assert terms["loss"].item() == pytest.approx(5 * (1 - qw) + 10 * (1 - qe) + 30 * mse, abs=1e-9)
    # one implementation, two uses: the loss calls the metrics package's functions
    assert module.weighted_fusion_quality is piella.weighted_fusion_quality
    assert module.edge_dependent_fusion_quality is piella.edge_dependent_fusion_quality


def test_loss_gradcheck_float64():
    """Analytic gradients of the whole loss (Qw, Qe^0.7 on min-max Sobel edges, MSE) match finite differences.

    Full Jacobian check w.r.t. the fused image on 1 x 1 x 16 x 16 (four 8 x 8 windows); fast-mode check
    w.r.t. all three inputs on a batch of 2 (batch-wide window weights).
    """
    generator = torch.Generator().manual_seed(0)
    base = torch.linspace(-0.6, 0.6, 16, dtype=torch.float64)
    ramp = (base.view(1, 1, 16, 1) + base.view(1, 1, 1, 16)) / 2
    noise = lambda: 0.2 * torch.rand(2, 1, 16, 16, generator=generator, dtype=torch.float64)  # noqa: E731
    ir, vis = (ramp + noise()).clamp(-0.9, 0.9), (ramp.flip(-1) + noise()).clamp(-0.9, 0.9)
    fused = 0.5 * ir + 0.5 * vis + 0.25 * noise()
    assert ataman_akar_loss(ir, vis, fused)["qe"] > 0.1  # away from the clamp at 0

    first = fused[:1].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda f: ataman_akar_loss(ir[:1], vis[:1], f)["loss"], (first,),
                                    eps=1e-6, atol=1e-6)
    inputs = tuple(t.clone().requires_grad_(True) for t in (ir, vis, fused))
    assert torch.autograd.gradcheck(lambda i, v, f: ataman_akar_loss(i, v, f)["loss"], inputs,
                                    eps=1e-6, atol=1e-6, fast_mode=True)


def test_augmentation_blurs_and_adds_one_gray_level_of_noise(batch):
    torch.manual_seed(0)
    model = AtamanAkar(**NARROW)
    ir = batch[0]
    corrupted = model.augment_inputs(ir)
    assert corrupted.shape == ir.shape and 0 <= corrupted.min() and corrupted.max() <= 1
    inside = (ir > 2 / 255) & (ir < 253 / 255)  # away from the clip
    noise = (corrupted - ir)[inside] * 255
    assert 0.8 < noise.std().item() < 1.2  # sigma 1 gray level (blur 0.2 px barely changes an image)
    no_noise = AtamanAkar(**NARROW, noise_sigma=0.0).augment_inputs(ir)
    assert (no_noise - ir).abs().max() < 0.02 and not torch.equal(no_noise, ir)


def test_optimizer_and_schedule_are_the_papers():
    config = AtamanAkar(**NARROW).configure_optimizers()
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    group = optimizer.param_groups[0]
    assert isinstance(optimizer, torch.optim.Adam)
    assert group["lr"] == 1e-3 and tuple(group["betas"]) == (0.9, 0.99) and group["eps"] == 1e-8
    assert config["lr_scheduler"]["interval"] == "epoch"
    lrs = []
    for _ in range(31):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[9] == 1e-3 and lrs[10] == 5e-4 and lrs[20] == 2.5e-4 and lrs[30] == 1.25e-4


# ------------------------------------------------------------------ training
def test_thirty_steps_lower_the_loss(batch):
    torch.manual_seed(0)
    model = AtamanAkar(**NARROW).train()
    optimizer = model.configure_optimizers()["optimizer"]
    start = model.compute_loss(*batch, augment=False)["loss"].item()
    for _ in range(30):
        loss = model.compute_loss(*batch)["loss"]  # blurred, noisy inputs; loss on the clean images
        assert torch.isfinite(loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    end = model.compute_loss(*batch, augment=False)["loss"].item()
    assert end < 0.7 * start, (start, end)


def test_checkpoint_round_trip_is_bit_identical(batch, tmp_path):
    ir, vis = batch
    loader = torch.utils.data.DataLoader([{"ir": ir[i], "vis": vis[i], "pair_id": str(i)} for i in range(len(ir))],
                                         batch_size=2)
    model = AtamanAkar(**NARROW, alpha=4.0)
    trainer = L.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", default_root_dir=tmp_path)
    trainer.fit(model, train_dataloaders=loader)
    for term in ("loss", "qw", "qe", "mse"):
        assert f"train/{term}" in trainer.callback_metrics, term  # every loss term is logged
    trainer.save_checkpoint(tmp_path / "ataman_akar.ckpt")
    restored = AtamanAkar.load_from_checkpoint(tmp_path / "ataman_akar.ckpt", map_location="cpu")
    assert restored.hparams.alpha == 4.0 and restored.hparams.base_channels == 16
    model.eval()
    restored.eval()
    odd_ir, odd_vis = ir[..., :41, :57], vis[..., :41, :57]
    with torch.no_grad():
        assert torch.equal(model.fuse(odd_ir, odd_vis), restored.fuse(odd_ir, odd_vis))


def test_unpaired_batches_are_refused(batch):
    with pytest.raises(ValueError, match="unpaired"):
        AtamanAkar(**NARROW).training_step({"image": batch[0], "pair_id": ["5", "6"]}, 0)


@pytest.mark.parametrize("profile", ["smoke", "quick", "paper"])
def test_configs_build_the_method(profile):
    from benchmarks.profiles import instantiate, method_config

    config = method_config("ataman_akar", profile)
    model, data, _, _ = instantiate(config, config["__file__"])  # the config interpreter of run, repro and train
    assert type(model) is AtamanAkar
    assert list(data.hparams.test_datasets) == ["tno", "flir", "nir"]
    if profile == "paper":  # spec 4.3, on the benchmark's training pairs
        hp = model.hparams
        assert (hp.alpha, hp.beta, hp.gamma, hp.base_channels, hp.groups) == (5, 10, 30, 64, 32)
        assert list(hp.lr_milestones) == [10, 20, 30] and hp.lr_gamma == 0.5 and hp.lr_interval == "epoch"
        assert config["trainer"]["max_epochs"] == 30
        assert (data.hparams.train_mode, data.hparams.crop_size, data.hparams.batch_size) == ("resize", 256, 10)
    if profile == "smoke":
        assert config["trainer"]["max_steps"] <= 8 and data.hparams.test_ids == "1-2"
