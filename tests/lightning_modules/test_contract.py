"""The FusionModule contract, checked on every registered method (later methods included)."""

from __future__ import annotations

import pytest
import torch

from datamodules.io import read_image, to_tensor
from lightning_modules import FusionModule, create_method, get_method_class, list_methods

ODD = (97, 131)  # H x W that no pooling network divides


@pytest.fixture(scope="module")
def odd_pair(data_root):
    """A real TNO pair cropped to 97 x 131, N = 1."""
    folder = data_root / "IVIF-DIDFuse" / "Datasets" / "Test_data_TNO"
    crop = lambda name: to_tensor(read_image(folder / name))[None, :, 40:40 + ODD[0], 60:60 + ODD[1]]  # noqa: E731
    return crop("IR8.bmp"), crop("VIS8.bmp")


def test_registry_lists_and_builds_methods():
    names = list_methods()
    assert {"average", "max", "didfuse", "densefuse"} <= set(names)
    assert names == sorted(names)
    assert {"didfuse", "densefuse"} <= set(list_methods(trainable=True))
    assert {"average", "max"} <= set(list_methods(trainable=False))
    assert not set(list_methods(trainable=True)) & set(list_methods(trainable=False))
    with pytest.raises(KeyError, match="didfuse"):  # the message lists what is registered
        create_method("no-such-method")


@pytest.mark.parametrize("name", list_methods())
def test_fuse_contract_on_odd_sizes(name, odd_pair):
    model = create_method(name).eval()
    assert isinstance(model, FusionModule) and isinstance(model, get_method_class(name))
    ir, vis = odd_pair
    with torch.no_grad():
        fused = model.fuse(ir, vis)
    assert fused.shape == (1, 1, *ODD)
    assert fused.dtype == ir.dtype and torch.isfinite(fused).all()
    assert fused.min() >= 0 and fused.max() <= 1


@pytest.mark.parametrize("name", list_methods())
def test_hyper_parameters_rebuild_the_method(name):
    """save_hyperparameters() holds every constructor argument, so a checkpoint alone rebuilds the model."""
    model = create_method(name)
    rebuilt = get_method_class(name)(**dict(model.hparams))
    assert dict(rebuilt.hparams) == dict(model.hparams)
    assert set(rebuilt.state_dict()) == set(model.state_dict())


@pytest.mark.parametrize("name", list_methods())
def test_fuse_refuses_mismatched_inputs(name, odd_pair):
    ir, vis = odd_pair
    with pytest.raises(ValueError):
        create_method(name).eval().fuse(ir, vis[..., :-1])


@pytest.fixture(scope="module")
def colour_pair(data_root):
    """A real VIFB colour pair (``fight``) cropped to 97 x 131: IR N x 1, VIS RGB N x 3 (k / 255)."""
    from datamodules import load_pairs, read_pair_color

    ir, _, vis_rgb = read_pair_color(load_pairs("vifb", data_root, ids="fight")[0])
    ir = to_tensor(ir)[None, :, 60:60 + ODD[0], 80:80 + ODD[1]]
    vis_rgb = torch.from_numpy(vis_rgb.transpose(2, 0, 1).copy())[None, :, 60:60 + ODD[0], 80:80 + ODD[1]]
    return ir, vis_rgb.float() / 255


@pytest.mark.parametrize("name", list_methods())
def test_fuse_color_fuses_the_visible_y_and_its_png_has_the_fused_luminance(name, colour_pair, tmp_path):
    import numpy as np
    from PIL import Image

    from datamodules.color import rgb_to_ycbcr_tensor, to_levels, ycbcr_to_rgb_tensor
    from datamodules.io import save_png

    torch.manual_seed(0)
    model = create_method(name).eval()
    ir, vis_rgb = colour_pair
    ycbcr = rgb_to_ycbcr_tensor(to_levels(vis_rgb))
    with torch.no_grad():
        out = model.fuse_color(ir, vis_rgb)
        fused = model.fuse(ir, ycbcr[:, :1].float() / 255)
        predicted = model.predict_step({"ir": ir, "vis": ycbcr[:, :1].float() / 255, "vis_rgb": vis_rgb}, 0)
    assert out.rgb.shape == (1, 3, *ODD) and torch.equal(out.y, to_levels(fused).float() / 255)
    assert torch.equal(out.rgb, ycbcr_to_rgb_tensor(torch.cat([to_levels(fused), ycbcr[:, 1:]], 1)).float() / 255)
    assert torch.equal(predicted["fused_rgb"], out.rgb) and torch.equal(predicted["fused"], fused.clamp(0, 1))
    # the Done-when: an RGB PNG whose luminance (PIL "L") is the method's fused Y wherever the RGB did not clip
    with Image.open(save_png(tmp_path / f"{name}.png", out.rgb)) as png:
        assert png.mode == "RGB"
        luma = np.asarray(png.convert("L"))
    kept = ~out.clipped[0, 0].numpy()  # all 12,707 pixels, but 705 for untrained DenseFuse (fused Y = 0, black)
    assert kept.sum() >= 700 and np.array_equal(luma[kept], to_levels(out.y)[0, 0].numpy()[kept])


@pytest.mark.parametrize("name", ["ataman_akar", "didfuse", "normfuse", "rescat"])
def test_paired_training_step_refuses_unpaired_and_mismatched_batches(name, odd_pair):
    """The paired methods' training_step (FusionModule.paired_batch) names the class, or the two shapes."""
    model = create_method(name)
    ir, vis = odd_pair
    with pytest.raises(ValueError, match=f"{type(model).__name__} trains on paired batches"):
        model.training_step({"image": ir}, 0)
    with pytest.raises(ValueError, match="shape"):
        model.training_step({"ir": ir, "vis": vis[..., :-1]}, 0)
