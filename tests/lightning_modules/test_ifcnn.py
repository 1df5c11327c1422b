"""IFCNN: architecture, the authors' weights and test path, OpenCV's gray conversion, published fusions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from datamodules.io import read_image, to_tensor, to_uint8
from lightning_modules import create_method, get_method_class, list_methods
from lightning_modules.ifcnn import IFCNN, IFCNNNet, rgb_to_gray_opencv

TANG = "Evaluation-for-Image-Fusion/Image"
IV = "IFCNN/Code/datasets/IVDataset"


def _gray(path) -> torch.Tensor:
    return to_tensor(read_image(path, mode="gray_strict"))[None]


@pytest.fixture(scope="module")
def official(data_root):
    return {scheme: IFCNN.from_official(scheme, data_root=data_root) for scheme in ("max", "sum")}


def _within_one(model, ir_path, vis_path, reference_path) -> float:
    with torch.no_grad():
        ours = to_uint8(model.fuse(_gray(ir_path), _gray(vis_path))).astype(int)
    return float((np.abs(ours - read_image(reference_path, mode="gray_strict").astype(int)) <= 1).mean())


def test_registered_pretrained_only_with_the_authors_architecture():
    assert "ifcnn" in list_methods() and get_method_class("ifcnn") is IFCNN
    assert IFCNN.pretrained_only and IFCNN.official_weights == "ifcnn_weights"
    model = create_method("ifcnn")
    assert model.hparams.scheme == "max" and model.hparams.normalization == "imagenet"
    assert sum(p.numel() for p in model.parameters()) == 83_587  # 9,408 + 2 x (36,864 + 128) + 195
    assert model.net.conv1.kernel_size == (7, 7) and model.net.conv1.stride == (1, 1) and model.net.conv1.bias is None
    assert model.net.conv4.kernel_size == (1, 1) and model.net.conv4.out_channels == 3
    with pytest.raises(ValueError, match="scheme"):
        IFCNN(scheme="median")
    with pytest.raises(ValueError, match="normalization"):
        IFCNN(normalization="zscore")


def test_official_weights_load_strictly_every_tensor(data_root):
    from datamodules.weights import weights_path

    for scheme in ("max", "mean", "sum"):
        model = IFCNN.from_official(scheme, data_root=data_root)
        state = torch.load(weights_path("ifcnn", scheme, data_root), map_location="cpu", weights_only=True)
        assert len(state) == 13 and not model.training and model.net.scheme == scheme
        for key, value in state.items():
            assert torch.equal(model.net.state_dict()[key], value), key


def test_official_refuses_foreign_and_missing_files(data_root, tmp_path):
    with pytest.raises(ValueError, match="densefuse_gray.model: not IFCNN weights"):
        IFCNN.from_official("max", path=data_root / "densefuse-pytorch/models/densefuse_gray.model")
    with pytest.raises(FileNotFoundError, match="missing.pth: no such file"):
        IFCNN.from_official("max", path=tmp_path / "missing.pth")


def test_rgb_to_gray_is_opencvs_fixed_point_kernel():
    levels = torch.arange(256, dtype=torch.uint8)
    gray = levels.view(1, 1, 1, 256).expand(1, 3, 1, 256)
    assert torch.equal(rgb_to_gray_opencv(gray)[0, 0, 0], levels)  # gray replicated to RGB is unchanged
    rgb = torch.randint(0, 256, (1, 3, 64, 64), generator=torch.Generator().manual_seed(0))
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64).view(1, 3, 1, 1)
    exact = (rgb.double() * weights).sum(1, keepdim=True)
    assert (rgb_to_gray_opencv(rgb).double() - exact).abs().max() <= 0.5 + 0.011  # weights x 2^15, rounded
    with pytest.raises(ValueError, match="N x 3 x H x W"):
        rgb_to_gray_opencv(torch.zeros(1, 1, 4, 4))


def test_rgb_to_gray_matches_opencv_on_every_rgb_triple():
    cv2 = pytest.importorskip("cv2", reason="opencv-python-headless is a check-only tool, not a dependency")
    v = np.arange(256, dtype=np.uint8)
    rgb = np.stack(np.meshgrid(v, v, v, indexing="ij"), -1).reshape(4096, 4096, 3)
    ours = rgb_to_gray_opencv(torch.from_numpy(rgb).permute(2, 0, 1)[None])[0, 0].numpy()
    assert np.array_equal(ours, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))


def test_fusion_is_on_the_8bit_grid_symmetric_and_fuse_rgb_takes_several_images(official, data_root):
    ir, vis = _gray(data_root / IV / "Camp_IR.png")[..., :64, :80], _gray(data_root / IV / "Camp_Vis.png")[..., :64, :80]
    for scheme, model in official.items():
        with torch.no_grad():
            fused = model.fuse(ir, vis)
            assert fused.shape == ir.shape and fused.dtype == torch.float32
            assert torch.equal(torch.round(fused * 255) / 255, fused)  # exactly k / 255: the authors' uint8 values
            assert torch.equal(fused, model.fuse(vis, ir)), scheme  # max and sum are symmetric
    three = official["max"].fuse_rgb(*(x.expand(-1, 3, -1, -1) for x in (ir, vis, ir)))
    assert three.dtype == torch.uint8 and three.shape == (1, 3, 64, 80)
    with pytest.raises(ValueError, match="N x 3 x H x W"):
        official["max"].fuse_rgb(ir, vis)
    with pytest.raises(ValueError, match="two or more"):
        IFCNNNet()(ir.expand(-1, 3, -1, -1))


@pytest.mark.parametrize("pair_id", ["08", "05"])  # the two smallest tang_tno pairs
def test_max_weights_reproduce_the_published_tno_fusions(official, data_root, pair_id):
    """The IFCNN fusions the field's tables use (SeAFusion / PIAFusion's evaluation code): ImageNet normalisation."""
    paths = (data_root / TANG / f"Source-Image/TNO/ir/{pair_id}.png", data_root / TANG / f"Source-Image/TNO/vi/{pair_id}.png",
             data_root / TANG / f"Algorithm/IFCNN_TNO/{pair_id}.png")
    assert _within_one(official["max"], *paths) >= 0.999
    assert _within_one(IFCNN.from_official("max", data_root=data_root, normalization="none"), *paths) < 0.9


@pytest.mark.parametrize("scheme", ["max", "sum"])
def test_repository_results_iv_reproduced_for_max_and_sum(official, data_root, scheme):
    paths = (data_root / IV / "Dune_IR.png", data_root / IV / "Dune_Vis.png",
             data_root / f"IFCNN/Results/IV/IFCNN-{scheme.upper()}-IV-Dune.png")
    assert _within_one(official[scheme], *paths) >= 0.999


def test_verification_script_passes_on_a_pair(capsys, data_root):
    from benchmarks.verify.ifcnn_official import main

    argv = ["--data-root", str(data_root), "--references", "tang_tno", "--ids", "08", "--schemes", "max",
            "--normalizations", "imagenet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "tang_tno     max    imagenet           1" in out and "100.0000%" in out and "PASS" in out
