"""DIDFuse: architecture, loss, training, checkpoints, fusion strategies and the authors' weights."""

from __future__ import annotations


import lightning as L
import numpy as np
import pytest
import torch

from datamodules.io import read_image, to_tensor, to_uint8
from lightning_modules import create_method, get_method_class
from lightning_modules.didfuse import FUSION_STRATEGIES, DIDFuse

MODELS = "IVIF-DIDFuse/Models"


@pytest.fixture(scope="module")
def batch(flir_train_crops):
    return flir_train_crops((1, 2), 32)


def test_registered_and_parameter_counts():
    model = create_method("didfuse")
    assert get_method_class("didfuse") is DIDFuse
    trainable = lambda m: sum(p.numel() for p in m.parameters() if p.requires_grad)  # noqa: E731
    assert trainable(model.encoder) == 111_938
    assert trainable(model.decoder) == 148_997


def test_bad_hyper_parameters_are_refused():
    with pytest.raises(ValueError, match="fusion_strategy"):
        DIDFuse(fusion_strategy="max")
    with pytest.raises(ValueError, match="decomp_norm"):
        DIDFuse(decomp_norm="l3")
    with pytest.raises(ValueError, match="lr_interval"):
        DIDFuse(lr_interval="batch")


@pytest.mark.parametrize("interval", ["epoch", "step"])
def test_learning_rate_schedule(interval):
    """Adam at lr, x lr_gamma at each milestone, counted in epochs (the paper) or steps."""
    config = DIDFuse(lr=1e-3, lr_milestones=(2, 4), lr_interval=interval).configure_optimizers()
    assert config["lr_scheduler"]["interval"] == interval
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    rates = []
    for _ in range(5):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates == pytest.approx([1e-3, 1e-3, 1e-4, 1e-4, 1e-5])


@pytest.mark.parametrize("decomp_norm", ["l1", "l2"])
def test_loss_and_every_term_finite(batch, decomp_norm):
    terms = DIDFuse(decomp_norm=decomp_norm).compute_loss(*batch)
    assert set(terms) == {"loss", "recon_vis", "recon_ir", "gap_background", "gap_detail", "gradient"}
    for name, value in terms.items():
        assert value.ndim == 0 and torch.isfinite(value), name
    terms["loss"].backward()


def test_thirty_steps_lower_the_loss(batch):
    torch.manual_seed(0)
    model = DIDFuse().train()
    optimizer = torch.optim.Adam(model.parameters(), lr=model.hparams.lr)
    losses = []
    for _ in range(30):
        loss = model.compute_loss(*batch)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


@pytest.mark.parametrize("strategy", FUSION_STRATEGIES)
def test_every_fusion_strategy_runs(batch, strategy):
    model = DIDFuse(fusion_strategy=strategy).eval()
    ir, vis = batch
    with torch.no_grad():
        fused = model.fuse(ir, vis)
    assert fused.shape == ir.shape and torch.isfinite(fused).all()
    assert 0 <= fused.min() and fused.max() <= 1


def test_average_uses_the_gammas(batch):
    """gamma weights change B and D only; 0.5 everywhere is the authors' Average (= Sum / 2 of features)."""
    model = DIDFuse(fusion_strategy="average", gammas=(1.0, 0.0, 0.0, 1.0)).eval()
    ir, vis = batch
    with torch.no_grad():
        f_ir, f_vis = model.encoder(ir), model.encoder(vis)
        fused = model.fuse_features(f_ir, f_vis)
    torch.testing.assert_close(fused[2], f_ir[2])
    torch.testing.assert_close(fused[3], f_vis[3])
    torch.testing.assert_close(fused[0], (f_ir[0] + f_vis[0]) * 0.5)


def test_checkpoint_round_trip_is_bit_identical(batch, tmp_path):
    ir, vis = batch
    loader = torch.utils.data.DataLoader([{"ir": ir[i], "vis": vis[i], "pair_id": str(i)} for i in range(len(ir))],
                                         batch_size=2)
    model = DIDFuse(fusion_strategy="l1_norm", lr=1e-3)
    trainer = L.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", default_root_dir=tmp_path)
    trainer.fit(model, train_dataloaders=loader)
    trainer.save_checkpoint(tmp_path / "didfuse.ckpt")
    restored = DIDFuse.load_from_checkpoint(tmp_path / "didfuse.ckpt", map_location="cpu")
    assert restored.hparams.fusion_strategy == "l1_norm"
    model.eval()
    restored.eval()
    with torch.no_grad():
        assert torch.equal(model.fuse(ir, vis), restored.fuse(ir, vis))


def test_official_weights_bad_file_named(tmp_path, data_root):
    bad = tmp_path / "enc.pkl"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="enc.pkl"):
        DIDFuse.from_official(bad, data_root / MODELS / "Decoder_weight_IJCAI.pkl")
    with pytest.raises(FileNotFoundError, match="missing.pkl"):
        DIDFuse.from_official(tmp_path / "missing.pkl", data_root / MODELS / "Decoder_weight_IJCAI.pkl")
    with pytest.raises(ValueError, match="Decoder_weight_IJCAI.pkl"):  # decoder weights where the encoder's go
        DIDFuse.from_official(data_root / MODELS / "Decoder_weight_IJCAI.pkl",
                              data_root / MODELS / "Decoder_weight_IJCAI.pkl")


# The smallest pair of each test set (one official fusion of a 256 x 256 image takes about a second).
OFFICIAL_PAIRS = [("Test_data_TNO", "TNO_IJCAI", 8, "bmp"), ("Test_data_FLIR", "FLIR_IJCAI", 36, "jpg"),
                  ("Test_data_NIR_Country", "NIR_IJCAI", 12, "png")]


@pytest.fixture(scope="module")
def official(data_root):
    return DIDFuse.from_official(data_root / MODELS / "Encoder_weight_IJCAI.pkl",
                                 data_root / MODELS / "Decoder_weight_IJCAI.pkl")


def test_official_weights_load_strictly(official):
    assert not official.training
    assert int(official.encoder.cov1.cov1[2].num_batches_tracked) == 1920  # 120 epochs x 8 batches x 2


@pytest.mark.parametrize("folder,result,k,ext", OFFICIAL_PAIRS)
def test_official_weights_reproduce_released_images(official, data_root, folder, result, k, ext):
    """Sum rule + the authors' preprocessing (gray, /255, no crop) gives their released F<k>.png."""
    base = data_root / "IVIF-DIDFuse"
    ir = to_tensor(read_image(base / "Datasets" / folder / f"IR{k}.{ext}"))[None]
    vis = to_tensor(read_image(base / "Datasets" / folder / f"VIS{k}.{ext}"))[None]
    with torch.no_grad():
        fused = to_uint8(official.fuse(ir, vis)).astype(np.int16)
    released = read_image(base / "Test_result" / result / f"F{k}.png").astype(np.int16)
    diff = np.abs(fused - released)
    assert (diff <= 1).mean() >= 0.999
    assert diff.max() <= 1 and diff.mean() < 1e-3
