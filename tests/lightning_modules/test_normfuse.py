"""NormFuse and its ResCat ablation: PEAN locality, loss, training, checkpoints, fusion rules, configs.

Training tests use ``channels=8`` (the real code path, a narrow width) on 32 x 32
centre crops of real flir_train pairs, so that they run in seconds on a CPU.
"""

from __future__ import annotations


import lightning as L
import pytest
import torch

from lightning_modules import create_method, get_method_class, list_methods
from lightning_modules.normfuse import FUSION_RULES, PEAN, NormFuse, PEANResBlock, ResCat

METHODS = {"normfuse": NormFuse, "rescat": ResCat}


@pytest.fixture(scope="module")
def batch(flir_train_crops) -> tuple[torch.Tensor, torch.Tensor]:
    """IR and VIS 32 x 32 centre crops of flir_train pairs 1-4, each 4 x 1 x 32 x 32 in [0, 1]."""
    return flir_train_crops((1, 2, 3, 4), 32)


# ------------------------------------------------------------------ PEAN
def _changed_pixels(module, h, cond, at: tuple[int, int]) -> torch.Tensor:
    """Boolean H x W map of output pixels that change when ``cond`` changes at pixel ``at`` (all channels)."""
    changed_cond = cond.clone()
    changed_cond[..., at[0], at[1]] += torch.linspace(0.5, 1.5, cond.shape[1]).view(1, -1)
    with torch.no_grad():
        before, after = module(h, cond), module(h, changed_cond)
    return (after - before).abs().amax(dim=(0, 1)) > 0


def test_pean_modulates_per_pixel():
    """Changing D at one pixel changes PEAN's output only within the 5 x 5 window there.

    gamma and beta come from two stacked 3 x 3 convolutions of D, so each output pixel
    sees D within +-2 pixels. BN is in eval mode (running statistics) so that no batch
    statistic couples pixels; PEAN normalizes h, not D, so D could not reach the
    statistics anyway.
    """
    torch.manual_seed(0)
    pean = PEAN(channels=6, cond_channels=4, hidden=5).eval()
    h, d = torch.randn(2, 6, 15, 17), torch.randn(2, 4, 15, 17)
    y, x = 7, 9
    changed = _changed_pixels(pean, h, d, (y, x))
    window = torch.zeros_like(changed)
    window[y - 2:y + 3, x - 2:x + 3] = True
    assert changed[y, x], "the change of D at a pixel must modulate that pixel"
    assert not (changed & ~window).any(), "PEAN output changed outside the 5 x 5 receptive field"
    assert changed.sum() > 1  # and it is a field, not a single pixel
    # a global (AdaIN-like) modulation would change every pixel; a constant one none: PEAN is neither
    assert changed.sum() < changed.numel()


def test_pean_block_receptive_field_and_rescat_ignores_detail():
    """A PEANResBlock sees D within +-4 px (PEAN 5 x 5, conv, PEAN, conv); ResCat's block does not see D."""
    torch.manual_seed(0)
    block = PEANResBlock(6, 6, cond_channels=4).eval()
    h, d = torch.randn(1, 6, 21, 21), torch.randn(1, 4, 21, 21)
    changed = _changed_pixels(block, h, d, (10, 10))
    rows, cols = torch.nonzero(changed, as_tuple=True)
    assert changed[10, 10] and rows.min() >= 6 and rows.max() <= 14 and cols.min() >= 6 and cols.max() <= 14
    plain = PEANResBlock(6, 6, cond_channels=4, pixel_adaptive=False).eval()
    assert not _changed_pixels(plain, h, d, (10, 10)).any()


def test_decoder_sees_detail_locally():
    """The whole NormFuse decoder (eval) sees D within +-7 px: block1 +-4, block2 +-6, output conv +-1."""
    torch.manual_seed(0)
    decoder = NormFuse(channels=8).decoder.eval()
    r1, r2, s, d = torch.randn(4, 1, 8, 25, 25).unbind(0)
    changed = _changed_pixels(lambda h, cond: decoder(r1, r2, h, cond), s, d, (12, 12))
    rows, cols = torch.nonzero(changed, as_tuple=True)
    assert changed[12, 12] and rows.min() >= 5 and rows.max() <= 19 and cols.min() >= 5 and cols.max() <= 19


# ------------------------------------------------------------------ the methods
@pytest.mark.parametrize("name", METHODS)
def test_registered_and_shaped(name):
    cls = METHODS[name]
    assert get_method_class(name) is cls and name in list_methods(trainable=True)
    model = create_method(name)
    assert model.pixel_adaptive is (name == "normfuse")
    # ResCat: no PEAN anywhere, the first decoder block takes cat[S, D] (128 channels)
    peans = [m for m in model.modules() if isinstance(m, PEAN)]
    assert (len(peans) > 0) is (name == "normfuse")
    assert model.decoder.block1.conv1.in_channels == (64 if name == "normfuse" else 128)
    assert model.decoder.block1.conv1.out_channels == 64


def test_bad_fusion_rule_is_refused():
    with pytest.raises(ValueError, match="fusion_rule"):
        NormFuse(fusion_rule="max")


@pytest.mark.parametrize("name", METHODS)
def test_odd_size_fusion_every_rule(name, batch):
    ir, vis = (t[:1, :, :29, :31] for t in batch)
    for rule in FUSION_RULES:
        model = create_method(name, channels=8, fusion_rule=rule).eval()
        with torch.no_grad():
            fused = model.fuse(ir, vis)
        assert fused.shape == (1, 1, 29, 31) and torch.isfinite(fused).all(), rule
        assert 0 <= fused.min() and fused.max() <= 1, rule


@pytest.mark.parametrize("name", METHODS)
def test_loss_and_every_term_finite(name, batch):
    terms = create_method(name, channels=8).compute_loss(*batch)
    assert set(terms) == {"loss", "recon_vis", "recon_ir", "gap_structure", "gap_detail", "gradient"}
    for term, value in terms.items():
        assert value.ndim == 0 and torch.isfinite(value), term
    hp = NormFuse().hparams  # the letter's weights are the defaults
    assert (hp.alpha1, hp.alpha2, hp.alpha3, hp.alpha4, hp.ssim_weight) == (0.5, 2.0, 3.0, 20.0, 5.0)
    expected = (2 * terms["recon_ir"] + 3 * terms["recon_vis"] + torch.tanh(terms["gap_structure"])
                - 0.5 * torch.tanh(terms["gap_detail"]) + 20 * terms["gradient"])
    torch.testing.assert_close(terms["loss"], expected)
    terms["loss"].backward()


@pytest.mark.parametrize("name", METHODS)
def test_thirty_steps_lower_the_loss(name, batch):
    torch.manual_seed(0)
    model = create_method(name, channels=8).train()
    optimizer = model.configure_optimizers()["optimizer"]
    losses = []
    for _ in range(30):
        loss = model.compute_loss(*batch)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses


@pytest.mark.parametrize("name", METHODS)
def test_checkpoint_round_trip_is_bit_identical(name, batch, tmp_path):
    ir, vis = batch
    loader = torch.utils.data.DataLoader([{"ir": ir[i], "vis": vis[i], "pair_id": str(i)} for i in range(len(ir))],
                                         batch_size=2)
    model = create_method(name, channels=8, fusion_rule="average")
    trainer = L.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", default_root_dir=tmp_path)
    trainer.fit(model, train_dataloaders=loader)
    for term in ("loss", "recon_vis", "recon_ir", "gap_structure", "gap_detail", "gradient"):
        assert f"train/{term}" in trainer.callback_metrics, term  # every loss term is logged
    trainer.save_checkpoint(tmp_path / f"{name}.ckpt")
    restored = METHODS[name].load_from_checkpoint(tmp_path / f"{name}.ckpt", map_location="cpu")
    assert type(restored) is METHODS[name]
    assert restored.hparams.channels == 8 and restored.hparams.fusion_rule == "average"
    model.eval()
    restored.eval()
    with torch.no_grad():
        assert torch.equal(model.fuse(ir, vis), restored.fuse(ir, vis))


def test_unpaired_batches_are_refused(batch):
    with pytest.raises(ValueError, match="unpaired"):
        NormFuse(channels=8).training_step({"image": batch[0], "pair_id": ["1"] * 4}, 0)


@pytest.mark.parametrize("profile", ["smoke", "quick", "paper"])
@pytest.mark.parametrize("name", METHODS)
def test_configs_build_the_method(name, profile):
    from benchmarks.profiles import instantiate, method_config

    config = method_config(name, profile)
    model, data, _, _ = instantiate(config, config["__file__"])  # the config interpreter of run, repro and train
    assert type(model) is METHODS[name]
    assert data.hparams.train_dataset == "flir_train" and list(data.hparams.test_datasets) == ["tno", "flir", "nir"]
    if profile == "paper":  # the letter's protocol (spec 2.4)
        hp = model.hparams
        assert (hp.alpha1, hp.alpha2, hp.alpha3, hp.alpha4, hp.ssim_weight, hp.channels) == (0.5, 2, 3, 20, 5, 64)
        assert list(hp.lr_milestones) == [40, 80] and hp.lr_interval == "epoch"
        assert config["trainer"]["max_epochs"] == 120
        assert (data.hparams.train_mode, data.hparams.crop_size, data.hparams.batch_size) == ("center_crop", 128, 24)
    if profile == "smoke":
        assert config["trainer"]["max_steps"] <= 8 and data.hparams.test_ids == "1-2"
