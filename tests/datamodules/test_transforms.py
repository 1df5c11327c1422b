"""Every transform on real images from ../shared/data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from datamodules import load_pairs, read_pair
from datamodules import transforms as T
from datamodules.io import read_image, to_tensor

FLIR_TRAIN_VIS1 = "IVIF-DIDFuse/Datasets/Train_data_FLIR/VIS/VIS/VIS1.jpg"


@pytest.fixture(scope="module")
def flir_pair(data_root):
    """FLIR test pair 14: 447 x 211 (W x H), odd sizes; 1 x H x W float in [0, 1] each."""
    ir, vis = read_pair(load_pairs("flir", data_root, ids="14")[0])
    return to_tensor(ir), to_tensor(vis)


def test_rgb_to_gray_is_pil_luma(data_root):
    with Image.open(data_root / FLIR_TRAIN_VIS1) as image:
        rgb = torch.from_numpy(np.asarray(image.convert("RGB")).copy()).permute(2, 0, 1)  # 3 x H x W uint8
        expected = np.array(image.convert("L"))
    gray = T.rgb_to_gray(rgb)
    assert gray.dtype == torch.uint8 and gray.shape == (1, *expected.shape)
    assert np.array_equal(gray[0].numpy(), expected)  # bit-exact with PIL "L"
    as_float = T.rgb_to_gray(rgb.unsqueeze(0).float() / 255)  # batched float
    assert as_float.shape == (1, 1, *expected.shape)
    assert (as_float[0, 0] * 255 - torch.from_numpy(expected).float()).abs().max() <= 0.5 + 1e-4
    with pytest.raises(ValueError, match="3 channels"):
        T.rgb_to_gray(gray)


def test_center_crop_follows_torchvision_rule(flir_pair):
    ir, vis = flir_pair
    assert ir.shape == (1, 211, 447)
    # torchvision: top = int(round((211 - 128) / 2.0)) = round(41.5) = 42 (half to even), left = round(159.5) = 160
    assert T.center_crop_window(211, 447, 128) == (42, 160)
    out = T.center_crop(ir, 128)
    assert out.shape == (1, 128, 128) and torch.equal(out, ir[:, 42:170, 160:288])
    assert T.center_crop_window(212, 448, (100, 64)) == (56, 192)
    with pytest.raises(ValueError, match="does not fit"):
        T.center_crop(ir, 300)


def test_random_crop_same_window_for_ir_and_vis_and_seeded(flir_pair):
    ir, vis = flir_pair
    windows = set()
    for seed in range(6):
        a_ir, a_vis = T.random_crop(ir, vis, size=64, generator=torch.Generator().manual_seed(seed))
        b_ir, b_vis = T.random_crop(ir, vis, size=64, generator=torch.Generator().manual_seed(seed))
        assert torch.equal(a_ir, b_ir) and torch.equal(a_vis, b_vis)  # seeded: reproducible
        top, left = T.random_crop_window(211, 447, 64, torch.Generator().manual_seed(seed))
        assert 0 <= top <= 211 - 64 and 0 <= left <= 447 - 64
        assert torch.equal(a_ir, ir[:, top:top + 64, left:left + 64])
        assert torch.equal(a_vis, vis[:, top:top + 64, left:left + 64])  # the same window
        windows.add((top, left))
    assert len(windows) == 6
    with pytest.raises(ValueError, match="differ in size"):
        T.random_crop(ir, vis[:, 1:], size=64)


def test_patch_count_of_the_gan_protocol_is_exact(data_root):
    total = 0
    for pair in load_pairs("tno_gan_train", data_root):
        with Image.open(pair.ir_path) as image:  # header only
            width, height = image.size
        total += T.patch_count(height, width, 128, 12)
    assert total == 37143  # methods spec 5.4: TNO k = 1..30, 128 x 128 at stride 12


def test_extract_patches_matches_positions(flir_pair):
    ir, _ = flir_pair
    patches = T.extract_patches(ir, 128, 12)
    count = T.patch_count(211, 447, 128, 12)
    assert count == (83 // 12 + 1) * (319 // 12 + 1) == 7 * 27
    positions = T.patch_positions(211, 447, 128, 12)
    assert patches.shape == (count, 1, 128, 128) and len(positions) == count
    for index in (0, 1, 26, 27, count - 1):
        top, left = positions[index]
        assert torch.equal(patches[index], ir[:, top:top + 128, left:left + 128])
    assert positions[-1] == (72, 312)
    assert T.extract_patches(ir, 300, 12).shape == (0, 1, 300, 300)


def test_signed_range_and_inverse(flir_pair):
    ir, _ = flir_pair
    signed = T.to_signed(ir)
    assert signed.min() >= -1 and signed.max() <= 1
    assert signed.min() == -1 + 2 * ir.min() and signed.max() == -1 + 2 * ir.max()
    assert torch.allclose(T.to_unsigned(signed), ir, atol=1e-7)


def test_gaussian_blur_matches_scipy(flir_pair):
    ir, _ = flir_pair
    for sigma, radius in ((0.2, None), (1.5, 5), (2.0, None)):
        out = T.gaussian_blur(ir, sigma, radius)
        r = radius if radius is not None else max(1, int(np.ceil(3 * sigma)))
        # torch "reflect" (d c b | a b c d) is scipy's "mirror"
        reference = ndimage.gaussian_filter(ir[0].double().numpy(), sigma, mode="mirror", truncate=r / sigma)
        assert out.shape == ir.shape
        assert np.abs(out[0].double().numpy() - reference).max() < 1e-5
    batched = T.gaussian_blur(torch.stack([ir, ir]), 1.0)
    assert batched.shape == (2, 1, 211, 447) and torch.equal(batched[0], batched[1])
    assert T.gaussian_blur(ir, 2.0).diff(dim=-1).abs().mean() < ir.diff(dim=-1).abs().mean()
    with pytest.raises(ValueError, match="sigma"):
        T.gaussian_blur(ir, 0)


def test_gaussian_noise_sigma_in_gray_levels_clipped_and_seeded(flir_pair):
    _, vis = flir_pair
    sigma = 4.0
    noisy = T.gaussian_noise(vis, sigma, generator=torch.Generator().manual_seed(0))
    again = T.gaussian_noise(vis, sigma, generator=torch.Generator().manual_seed(0))
    other = T.gaussian_noise(vis, sigma, generator=torch.Generator().manual_seed(1))
    assert torch.equal(noisy, again) and not torch.equal(noisy, other)
    assert noisy.min() >= 0 and noisy.max() <= 1
    interior = (vis > 0.1) & (vis < 0.9)  # away from clipping
    std = ((noisy - vis)[interior] * 255).std().item()
    assert abs(std - sigma) < 0.05 * sigma
    assert torch.equal(T.gaussian_noise(vis, 0.0), vis)


def test_pad_to_multiple_has_an_exact_inverse(flir_pair):
    ir, _ = flir_pair
    for mode in ("constant", "reflect", "replicate"):
        padded, size = T.pad_to_multiple(ir, 32, mode)
        assert padded.shape == (1, 224, 448) and size == (211, 447)
        assert torch.equal(T.crop_to(padded, size), ir)
    padded, _ = T.pad_to_multiple(ir.unsqueeze(0), 32)
    assert padded.shape == (1, 1, 224, 448) and padded[..., 211:, :].abs().sum() == 0
    square = ir[:, :192, :256]
    assert T.pad_to_multiple(square, 32)[0] is square


def test_resize_bilinear_and_nearest(data_root):
    image = to_tensor(read_image(data_root / FLIR_TRAIN_VIS1))
    for mode in ("bilinear", "nearest"):
        out = T.resize(image, 256, mode)
        assert out.shape == (1, 256, 256) and out.min() >= 0 and out.max() <= 1
    nearest = T.resize(image, (image.shape[1] // 2, image.shape[2] // 2), "nearest")
    assert torch.equal(nearest[0], image[0, ::2, ::2][: nearest.shape[1], : nearest.shape[2]])
    with pytest.raises(ValueError, match="interpolation"):
        T.resize(image, 8, "bicubic")
