"""DenseFuse: architecture, loss, training, checkpoints and fusion strategies."""

from __future__ import annotations


import lightning as L
import numpy as np
import pytest
import torch

from lightning_modules import create_method, densefuse, get_method_class
from lightning_modules.densefuse import FUSION_STRATEGIES, DenseFuse
from metrics.functional import ssim as ssim_module



@pytest.fixture(scope="module")
def batch(flir_train_crops):
    return flir_train_crops((1, 2), 32)


def test_registered_parameter_count_and_port_key_names():
    model = create_method("densefuse")
    assert get_method_class("densefuse") is DenseFuse
    assert sum(p.numel() for p in model.parameters()) == 74_193
    keys = set(model.net.state_dict())
    assert {"conv1.conv2d.weight", "DB1.denseblock.2.dense_conv.conv2d.bias", "conv5.conv2d.weight"} <= keys


def test_bad_hyper_parameters_are_refused():
    with pytest.raises(ValueError, match="ssim_weight"):
        DenseFuse(ssim_weight=50)
    with pytest.raises(ValueError, match="fusion_strategy"):
        DenseFuse(fusion_strategy="sum")


def test_loss_uses_the_metric_ssim_which_is_one_for_identical_images_and_lower_otherwise(batch):
    assert densefuse.ssim_valid is ssim_module.ssim_valid  # one SSIM implementation for the loss and the metric
    ir, vis = batch
    torch.testing.assert_close(ssim_module.ssim_valid(ir * 255, ir * 255), torch.ones(len(ir)))
    assert (ssim_module.ssim_valid(ir * 255, vis * 255) < 0.99).all()


@pytest.mark.parametrize("ssim_weight", [1, 10, 100, 1000])
def test_loss_and_every_term_finite(batch, ssim_weight):
    terms = DenseFuse(ssim_weight=ssim_weight).compute_loss(torch.cat(batch))
    assert set(terms) == {"loss", "pixel", "ssim"}
    for name, value in terms.items():
        assert value.ndim == 0 and torch.isfinite(value), name
    torch.testing.assert_close(terms["loss"], terms["pixel"] + ssim_weight * terms["ssim"])


def test_paired_and_unpaired_batches_give_the_same_images(batch):
    ir, vis = batch
    assert torch.equal(DenseFuse.batch_images({"ir": ir, "vis": vis}), torch.cat([ir, vis]))
    assert DenseFuse.batch_images({"image": ir}) is ir


def test_thirty_steps_lower_the_loss(batch):
    torch.manual_seed(0)
    model = DenseFuse().train()
    images = torch.cat(batch)
    optimizer = torch.optim.Adam(model.parameters(), lr=model.hparams.lr)
    losses = []
    for _ in range(30):
        loss = model.compute_loss(images)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses  # about 0.65 after 30 steps at lr 1e-4


@pytest.mark.parametrize("strategy", FUSION_STRATEGIES)
def test_every_fusion_strategy_runs(batch, strategy):
    model = DenseFuse(fusion_strategy=strategy).eval()
    ir, vis = batch
    with torch.no_grad():
        fused = model.fuse(ir, vis)
    assert fused.shape == ir.shape and torch.isfinite(fused).all()
    assert 0 <= fused.min() and fused.max() <= 1


def test_checkpoint_round_trip_is_bit_identical(batch, tmp_path):
    ir, vis = batch
    loader = torch.utils.data.DataLoader([{"image": image} for image in torch.cat(batch)], batch_size=2)
    model = DenseFuse(fusion_strategy="l1_norm", ssim_weight=10, lr=1e-3)
    trainer = L.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", default_root_dir=tmp_path)
    trainer.fit(model, train_dataloaders=loader)
    trainer.save_checkpoint(tmp_path / "densefuse.ckpt")
    restored = DenseFuse.load_from_checkpoint(tmp_path / "densefuse.ckpt", map_location="cpu")
    assert restored.hparams.ssim_weight == 10 and restored.hparams.fusion_strategy == "l1_norm"
    with torch.no_grad():
        assert torch.equal(model.eval().fuse(ir, vis), restored.eval().fuse(ir, vis))


# ------------------------------------------------------------------ the authors' PyTorch weights
@pytest.fixture(scope="module")
def official(data_root):
    return DenseFuse.from_official(data_root=data_root)


@pytest.fixture(scope="module")
def tno_pair_1(data_root):
    """A 192 x 256 crop of TNO pair 1 (the bright scene where the sum rule saturates), N = 1."""
    from datamodules.io import read_image, to_tensor

    folder = data_root / "IVIF-DIDFuse" / "Datasets" / "Test_data_TNO"
    crop = lambda name: to_tensor(read_image(folder / name))[None, :, 192:384, 256:512]  # noqa: E731
    return crop("IR1.bmp"), crop("VIS1.bmp")


def test_default_rule_is_the_ports_mean():
    assert DenseFuse().hparams.fusion_strategy == "mean"
    assert DenseFuse.official_weights == "densefuse_weights"


def test_official_weights_load_all_16_tensors_strictly(official, data_root):
    state = torch.load(data_root / "densefuse-pytorch/models/densefuse_gray.model", map_location="cpu",
                       weights_only=True)
    assert len(state) == 16 and not official.training
    for key, value in state.items():
        assert torch.equal(official.net.state_dict()[key], value), key
    assert official.hparams.fusion_strategy == "mean"


def test_official_refuses_the_rgb_model_and_foreign_files(data_root, tmp_path):
    with pytest.raises(ValueError, match=r"densefuse_rgb.model: not the gray DenseFuse model: conv1.conv2d.weight"):
        DenseFuse.from_official(data_root / "densefuse-pytorch/models/densefuse_rgb.model")
    with pytest.raises(ValueError, match="IFCNN-MAX.pth: not DenseFuse weights"):
        DenseFuse.from_official(data_root / "IFCNN/Code/snapshots/IFCNN-MAX.pth")
    with pytest.raises(FileNotFoundError, match="nothing.model: no such file"):
        DenseFuse.from_official(tmp_path / "nothing.model")


def test_official_weights_reconstruct_and_the_sum_rule_saturates(official, tno_pair_1, data_root):
    from datamodules.io import to_uint8

    ir, vis = tno_pair_1
    with torch.no_grad():
        for image in (ir, vis):
            recon = torch.round(official.net(image * 255).clamp(0, 255))
            assert (recon - image * 255).abs().mean() < 0.5  # gray levels (0.001 over all of TNO)
        fused = {rule: to_uint8(DenseFuse.from_official(data_root=data_root, fusion_strategy=rule).fuse(ir, vis))
                 for rule in ("mean", "addition")}
    assert (fused["addition"] == 255).mean() > 0.3  # the paper's sum decodes to about IR + VIS
    assert (fused["mean"] == 255).mean() < 0.01



def test_verification_script_on_the_smallest_tno_pair(capsys, data_root):
    from benchmarks.verify.densefuse_official import bytescale, main

    assert main(["--data-root", str(data_root), "--ids", "8"]) == 0
    out = capsys.readouterr().out
    assert "reconstruction of TNO (2 images)" in out and "PASS" in out
    assert [line.split()[0] for line in out.splitlines() if line.startswith("  ") and "%" in line][-3:] == \
        ["mean", "addition", "l1_norm"]
    assert bytescale(np.array([[2.0, 4.0], [3.0, 6.0]])).tolist() == [[0, 128], [64, 255]]
