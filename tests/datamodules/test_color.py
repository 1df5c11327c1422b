"""The colour transform against Pillow (every RGB / YCbCr triple, real colour images) and colour fusion."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from datamodules import load_pairs
from datamodules.color import (
    fuse_color,
    is_color,
    luminance,
    merge_luminance,
    rgb_to_ycbcr,
    rgb_to_ycbcr_tensor,
    ycbcr_to_rgb,
    ycbcr_to_rgb_tensor,
)
from datamodules.io import read_image


def _cube_rows(rows: slice) -> np.ndarray:
    """Rows of the 4096 x 4096 image holding every 24-bit triple once (pixel v = (v >> 16, v >> 8, v) & 255)."""
    v = np.arange(rows.start * 4096, rows.stop * 4096, dtype=np.uint32)
    return np.stack([(v >> 16) & 255, (v >> 8) & 255, v & 255], -1).astype(np.uint8).reshape(-1, 4096, 3)


@pytest.mark.parametrize("rows", [slice(0, 2048), slice(2048, 4096)])
def test_both_directions_equal_pillow_on_every_triple(rows):
    triples = _cube_rows(rows)  # as RGB, then as YCbCr
    pil_ycc = np.array(Image.fromarray(triples).convert("YCbCr"))
    pil_rgb = np.array(Image.fromarray(triples, mode="YCbCr").convert("RGB"))
    assert np.array_equal(rgb_to_ycbcr(triples), pil_ycc)
    assert np.array_equal(ycbcr_to_rgb(triples), pil_rgb)
    chw = torch.from_numpy(triples).permute(2, 0, 1)
    assert torch.equal(rgb_to_ycbcr_tensor(chw), torch.from_numpy(pil_ycc).permute(2, 0, 1))
    assert torch.equal(ycbcr_to_rgb_tensor(chw[None])[0], torch.from_numpy(pil_rgb).permute(2, 0, 1))


def _colour_images(data_root) -> list[np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # RoadScene's Thumbs.db
        pairs = load_pairs("vifb", data_root)[::5] + load_pairs("roadscene", data_root, ids="FLIR_00006,FLIR_00211")
    return [read_image(p.vis_path, mode="native") for p in pairs]


def test_real_colour_images_and_the_round_trip_error(data_root):
    errors = []
    for rgb in _colour_images(data_root):
        assert is_color(rgb)
        ycc = rgb_to_ycbcr(rgb)
        assert np.array_equal(ycc, np.asarray(Image.fromarray(rgb).convert("YCbCr")))
        back = ycbcr_to_rgb(ycc)
        assert np.array_equal(back, np.asarray(Image.fromarray(ycc, mode="YCbCr").convert("RGB")))
        assert torch.equal(ycbcr_to_rgb_tensor(rgb_to_ycbcr_tensor(torch.from_numpy(rgb).permute(2, 0, 1))),
                           torch.from_numpy(back).permute(2, 0, 1))
        errors.append(np.abs(back.astype(int) - rgb).ravel())
    errors = np.concatenate(errors)
    # Pillow's 6-bit transform is lossy: the round trip moves a channel by up to 3 levels (about 1 on average)
    assert errors.max() == 3 and 0.8 < errors.mean() < 1.3


def test_luminance_rules(data_root):
    tno = read_image(data_root / "IVIF-DIDFuse/Datasets/Test_data_TNO/VIS8.bmp", mode="native")
    assert tno.ndim == 2 and luminance(tno) is tno  # a gray file is what it is
    tang = read_image(data_root / "Evaluation-for-Image-Fusion/Image/Source-Image/TNO/vi/05.png", mode="native")
    assert tang.ndim == 3 and not is_color(tang)
    assert np.array_equal(luminance(tang), tang[..., 0])  # equal channels: the gray image stored
    assert not np.array_equal(rgb_to_ycbcr(tang)[..., 0], tang[..., 0])  # Y of (v, v, v) is v - 1 at some levels
    rgb = _colour_images(data_root)[0]
    y = luminance(rgb)
    assert y.shape == rgb.shape[:2] and np.array_equal(y, np.asarray(Image.fromarray(rgb).convert("YCbCr"))[..., 0])
    pil_l = np.asarray(Image.fromarray(rgb).convert("L"))
    assert 0 < np.mean(pil_l != y) and np.abs(pil_l.astype(int) - y).max() == 1  # not PIL "L": rounded, not floored
    with pytest.raises(ValueError, match="uint8 H x W"):
        luminance(rgb.astype(np.float32))


def test_fuse_color_fuses_y_and_puts_back_the_visible_chroma(data_root):
    rgb = _colour_images(data_root)[1][:96, :120]
    vis_rgb = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    ycc = rgb_to_ycbcr(rgb)
    ir = torch.rand(1, 1, 96, 120, generator=torch.Generator().manual_seed(0))
    seen = {}

    def average(ir_, vis_):
        seen["vis"] = vis_
        return (ir_ + vis_) / 2

    out = fuse_color(average, ir, vis_rgb)
    assert torch.equal(seen["vis"][0, 0], torch.from_numpy(ycc[..., 0]).float() / 255)  # the method fused Y
    assert torch.equal(out.vis_y, seen["vis"])
    expected_y = np.rint(np.clip((ir[0, 0].numpy() + ycc[..., 0] / 255) / 2, 0, 1) * 255).astype(np.uint8)
    assert np.array_equal((out.y[0, 0] * 255).round().byte().numpy(), expected_y)
    merged = np.stack([expected_y, ycc[..., 1], ycc[..., 2]], -1)
    expected_rgb = np.asarray(Image.fromarray(merged, mode="YCbCr").convert("RGB"))
    assert out.rgb.shape == (1, 3, 96, 120) and out.rgb.dtype == torch.float32
    assert np.array_equal((out.rgb[0] * 255).round().byte().permute(1, 2, 0).numpy(), expected_rgb)
    assert torch.equal(merge_luminance(out.y, vis_rgb), out.rgb)
    # fusing nothing (the visible Y back) gives Pillow's round trip of the visible image
    identity = fuse_color(lambda _ir, vis: vis, ir, vis_rgb).rgb
    assert np.array_equal((identity[0] * 255).round().byte().permute(1, 2, 0).numpy(), ycbcr_to_rgb(ycc))


def test_fuse_color_refuses_bad_shapes():
    ir = torch.rand(1, 1, 8, 8)
    with pytest.raises(ValueError, match="vis_rgb must be a tensor N x 3 x H x W"):
        fuse_color(lambda a, b: a, ir, torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match="differ in N, H or W"):
        fuse_color(lambda a, b: a, ir, torch.rand(1, 3, 8, 9))
    with pytest.raises(ValueError, match="uint8 H x W x 3"):
        rgb_to_ycbcr(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="uint8 tensor ... x 3 x H x W"):
        rgb_to_ycbcr_tensor(torch.zeros(3, 4, 4))
