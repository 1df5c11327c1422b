"""The colour transform on every RGB / YCbCr triple (against exact float references and Pillow), on real
colour images, and colour fusion: the PNG's PIL "L" is the fused Y wherever the RGB did not clip."""

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
    luminance_tensor,
    merge_luminance,
    rgb_to_ycbcr,
    rgb_to_ycbcr_tensor,
    ycbcr_to_rgb,
    ycbcr_to_rgb_tensor,
)
from datamodules.io import gray_from_rgb, read_image


def _cube_rows(rows: slice) -> np.ndarray:
    """Rows of the 4096 x 4096 image holding every 24-bit triple once (pixel v = (v >> 16, v >> 8, v) & 255)."""
    v = np.arange(rows.start * 4096, rows.stop * 4096, dtype=np.uint32)
    return np.stack([(v >> 16) & 255, (v >> 8) & 255, v & 255], -1).astype(np.uint8).reshape(-1, 4096, 3)


def _float_forward(rgb: np.ndarray) -> np.ndarray:
    """An independent reference: the JPEG chroma in float64 (exact here: integer / integer, one rounding), rint."""
    r, g, b = (rgb[..., k].astype(np.float64) for k in range(3))
    cb = np.clip(128 + np.rint((886 * b - 299 * r - 587 * g) / 1772), 0, 255)
    cr = np.clip(128 + np.rint((701 * r - 587 * g - 114 * b) / 1402), 0, 255)
    return np.stack([np.asarray(Image.fromarray(rgb).convert("L"), np.float64), cb, cr], -1)


def _float_inverse(ycc: np.ndarray) -> np.ndarray:
    """The exact BT.601 inverse in float64, rint (half to even), unclipped."""
    y, cb, cr = (ycc[..., k].astype(np.float64) for k in range(3))
    cb, cr = cb - 128, cr - 128
    return np.stack([np.rint((1000 * y + 1402 * cr) / 1000),
                     np.rint((587000 * y - 202008 * cb - 419198 * cr) / 587000),
                     np.rint((1000 * y + 1772 * cb) / 1000)], -1)


def test_every_triple_numpy_torch_references_pillow_and_the_luminance():
    unclipped, y_differs = 0, 0
    for start in range(0, 4096, 512):  # the 2**24 triples, 2**21 at a time (memory), as RGB and as YCbCr
        triples = _cube_rows(slice(start, start + 512))
        chw = torch.from_numpy(triples).permute(2, 0, 1)
        ycc = rgb_to_ycbcr(triples)
        assert np.array_equal(ycc, _float_forward(triples))
        assert torch.equal(rgb_to_ycbcr_tensor(chw), torch.from_numpy(ycc).permute(2, 0, 1))
        assert torch.equal(luminance_tensor(chw)[0], torch.from_numpy(ycc[..., 0]))
        rgb, clipped = ycbcr_to_rgb(triples, return_clipped=True)
        exact = _float_inverse(triples)
        assert np.array_equal(rgb, np.clip(exact, 0, 255))
        assert np.array_equal(clipped, ((exact < 0) | (exact > 255)).any(-1))
        rgb_t, clipped_t = ycbcr_to_rgb_tensor(chw[None], return_clipped=True)
        assert torch.equal(rgb_t[0], torch.from_numpy(rgb).permute(2, 0, 1))
        assert torch.equal(clipped_t[0, 0], torch.from_numpy(clipped))
        # the point of the transform: PIL "L" of the inverse is Y at every triple that did not clip
        assert np.array_equal(gray_from_rgb(rgb)[~clipped], triples[..., 0][~clipped])
        unclipped += int((~clipped).sum())
        # ... and it is Pillow's "YCbCr" to within one level, both ways
        forward = np.abs(ycc.astype(int) - np.asarray(Image.fromarray(triples).convert("YCbCr")))
        inverse = np.abs(rgb.astype(int) - np.asarray(Image.fromarray(triples, mode="YCbCr").convert("RGB")))
        assert forward.max() == 1 and inverse.max() == 1
        y_differs += int((forward[..., 0] > 0).sum())
    assert unclipped == 3_964_187  # of the 2**24 (Y, Cb, Cr): 23.6 % lie inside the RGB cube
    assert y_differs == 8_257_695  # Pillow floors the luma, "L" rounds: 49.2 % of the colours


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
        assert np.array_equal(ycc[..., 0], np.asarray(Image.fromarray(rgb).convert("L")))
        back = ycbcr_to_rgb(ycc)
        assert torch.equal(ycbcr_to_rgb_tensor(rgb_to_ycbcr_tensor(torch.from_numpy(rgb).permute(2, 0, 1))),
                           torch.from_numpy(back).permute(2, 0, 1))
        errors.append(np.abs(back.astype(int) - rgb).ravel())
    errors = np.concatenate(errors)
    # 8-bit YCbCr is lossy: the round trip moves a channel by at most one level, here 0.7 % of them
    # (Pillow's moves them by up to 3 levels, 1 on average)
    assert errors.max() == 1 and 0.002 < errors.mean() < 0.02


def test_luminance_is_pil_l_and_gray_files_are_what_they_are(data_root):
    tno = read_image(data_root / "IVIF-DIDFuse/Datasets/Test_data_TNO/VIS8.bmp", mode="native")
    assert tno.ndim == 2 and luminance(tno) is tno  # a gray file is what it is
    tang = read_image(data_root / "Evaluation-for-Image-Fusion/Image/Source-Image/TNO/vi/05.png", mode="native")
    assert tang.ndim == 3 and not is_color(tang)
    assert np.array_equal(luminance(tang), tang[..., 0])  # equal channels: the gray image stored
    assert np.array_equal(rgb_to_ycbcr(tang)[..., 0], tang[..., 0])  # ... which is also its Y
    rgb = _colour_images(data_root)[0]
    assert np.array_equal(luminance(rgb), np.asarray(Image.fromarray(rgb).convert("L")))
    with pytest.raises(ValueError, match="uint8 H x W"):
        luminance(rgb.astype(np.float32))


def test_fuse_color_fuses_y_puts_back_the_visible_chroma_and_keeps_the_fused_luminance(data_root):
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
    expected_rgb, clipped = ycbcr_to_rgb(np.stack([expected_y, ycc[..., 1], ycc[..., 2]], -1), return_clipped=True)
    assert out.rgb.shape == (1, 3, 96, 120) and out.rgb.dtype == torch.float32
    written = (out.rgb[0] * 255).round().byte().permute(1, 2, 0).numpy()
    assert np.array_equal(written, expected_rgb) and np.array_equal(out.clipped[0, 0].numpy(), clipped)
    luma = np.asarray(Image.fromarray(written).convert("L"))
    assert np.array_equal(luma[~clipped], expected_y[~clipped])  # the PNG's luminance is the fused Y where it fits
    merged = merge_luminance(out.y, vis_rgb)
    assert all(torch.equal(a, b) for a, b in zip(merged, out))
    # fusing nothing (the visible Y back) is the transform's round trip of the visible image
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
