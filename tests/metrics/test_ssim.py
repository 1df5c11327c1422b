"""SSIM and MS_SSIM: agreement with skimage, torchmetrics and a numpy port of Wang's ``msssim.m``
on real pairs, SSIM(x, x) = 1, gradcheck and degenerate images."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.signal import correlate2d
from skimage.metrics import structural_similarity
from torchmetrics.functional.image import (multiscale_structural_similarity_index_measure,
                                           structural_similarity_index_measure)

import metrics
from datamodules.io import read_image
from metrics.functional.ssim import multiscale_ssim, ssim

PAIR_IDS = (5, 8)


@pytest.fixture(scope="module")
def triplets(data_root):
    tno = data_root / "IVIF-DIDFuse" / "Datasets" / "Test_data_TNO"
    fused = data_root / "IVIF-DIDFuse" / "Test_result" / "TNO_IJCAI"
    return [(read_image(fused / f"F{k}.png"), read_image(tno / f"IR{k}.bmp"), read_image(tno / f"VIS{k}.bmp"))
            for k in PAIR_IDS]


def as_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).to(torch.float64).div(255).view(1, 1, *image.shape)


def _skimage_ssim(x, y):
    return structural_similarity(x.astype(np.float64), y.astype(np.float64), gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, data_range=255)


def test_ssim_matches_skimage_and_torchmetrics(triplets):
    for f, a, b in triplets:
        got = ssim(as_tensor(f), as_tensor(a), as_tensor(b)).item()
        assert got == pytest.approx((_skimage_ssim(f, a) + _skimage_ssim(f, b)) / 2, abs=1e-6)
    # torchmetrics' full map (reflect padding) cropped to its 'valid' part; its float64 11 x 11
    # convolution is slow on CPU, so on a crop.
    f, a, b = (x[:96, :120] for x in triplets[0])
    tm = []
    for src in (a, b):
        _, full = structural_similarity_index_measure(
            as_tensor(f) * 255, as_tensor(src) * 255, sigma=1.5, kernel_size=11, data_range=255.0,
            reduction="none", return_full_image=True)
        tm.append(full[..., 5:-5, 5:-5].mean().item())
    assert ssim(as_tensor(f), as_tensor(a), as_tensor(b)).item() == pytest.approx(sum(tm) / 2, abs=1e-6)


def test_ssim_of_an_image_with_itself_is_one(triplets):
    f, _, _ = triplets[0]
    x = as_tensor(f)
    assert ssim(x, x, x).item() == pytest.approx(1.0, abs=1e-12)
    assert multiscale_ssim(x, x, x).item() == pytest.approx(1.0, abs=1e-12)


def _np_ssim_maps(x, y):
    g = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
    window = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = correlate2d(x, window, "valid"), correlate2d(y, window, "valid")
    sxx = correlate2d(x * x, window, "valid") - mx**2
    syy = correlate2d(y * y, window, "valid") - my**2
    sxy = correlate2d(x * y, window, "valid") - mx * my
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    return (2 * mx * my + c1) / (mx**2 + my**2 + c1) * cs, cs


def _np_downsample(x):
    """imfilter(x, ones(2)/4, 'symmetric', 'same') then x(1:2:end, 1:2:end)."""
    padded = np.pad(x, ((0, 1), (0, 1)), mode="symmetric")
    blocks = (padded[:-1, :-1] + padded[1:, :-1] + padded[:-1, 1:] + padded[1:, 1:]) / 4
    return blocks[::2, ::2]


def np_msssim(x, y):
    weights = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
    x, y = x.astype(np.float64), y.astype(np.float64)
    value = 1.0
    for level, w in enumerate(weights):
        ssim_map, cs_map = _np_ssim_maps(x, y)
        value *= (ssim_map.mean() if level == len(weights) - 1 else cs_map.mean()) ** w
        x, y = _np_downsample(x), _np_downsample(y)
    return value


def test_ms_ssim_matches_a_port_of_wang_msssim(triplets):
    f, a, b = triplets[1]
    f, a, b = f[:201, :187], a[:201, :187], b[:201, :187]  # odd sizes exercise the symmetric padding
    got = multiscale_ssim(as_tensor(f), as_tensor(a), as_tensor(b)).item()
    assert got == pytest.approx((np_msssim(f, a) + np_msssim(f, b)) / 2, rel=1e-10)
    # torchmetrics' MS-SSIM differs only in how it treats the borders (reflect padding at the last scale).
    tm = [multiscale_structural_similarity_index_measure(as_tensor(f) * 255, as_tensor(s) * 255, data_range=255.0,
                                                         normalize=None).item() for s in (a, b)]
    assert got == pytest.approx(sum(tm) / 2, abs=2e-2)


def test_ms_ssim_is_nan_where_a_scale_term_is_negative(triplets):
    """TNO pair 5: the coarsest-scale SSIM of the DIDFuse output against IR is negative (-0.125)."""
    f, a, b = triplets[0]
    with pytest.warns(RuntimeWarning, match="MS_SSIM"):
        assert math.isnan(multiscale_ssim(as_tensor(f), as_tensor(a), as_tensor(b)).item())


def test_ms_ssim_normalize_options_give_a_value_where_wang_is_undefined(triplets):
    """normalize="relu" / "simple" (torchmetrics' options): defined on TNO pair 5, "relu" unchanged elsewhere."""
    f, a, b = (as_tensor(x) for x in triplets[0])
    relu = multiscale_ssim(f, a, b, normalize="relu").item()
    # IR's coarsest SSIM is negative -> its MS-SSIM is 0 and the value is half of VIS's (all VIS terms > 0).
    assert relu == pytest.approx(np_msssim(triplets[0][0], triplets[0][2]) / 2, rel=1e-10)
    simple = multiscale_ssim(f, a, b, normalize="simple").item()
    assert 0 < simple < 1
    f1, a1, b1 = (as_tensor(x) for x in triplets[1])
    assert multiscale_ssim(f1, a1, b1, normalize="relu").item() == multiscale_ssim(f1, a1, b1).item()
    metric = metrics.get_metric("MS_SSIM", normalize="relu")
    metric.update(f, a, b)
    assert metric.compute().item() == pytest.approx(relu, rel=1e-12)
    with pytest.raises(ValueError, match="normalize"):
        multiscale_ssim(f, a, b, normalize="clip")


def test_gradcheck():
    g = torch.Generator().manual_seed(0)
    inputs = tuple(0.1 + 0.8 * torch.rand(1, 1, 24, 24, dtype=torch.float64, generator=g, requires_grad=True)
                   for _ in range(3))
    inputs = tuple(x.detach().requires_grad_() for x in inputs)
    assert torch.autograd.gradcheck(ssim, inputs, fast_mode=True)
    big = [0.1 + 0.8 * torch.rand(1, 1, 161, 161, dtype=torch.float64, generator=g) for _ in range(3)]
    big[0].requires_grad_()  # with respect to the fused image, as a loss uses it
    assert torch.autograd.gradcheck(multiscale_ssim, tuple(big), fast_mode=True)


def test_degenerate_images():
    small = torch.rand(1, 1, 10, 40, dtype=torch.float64)
    with pytest.warns(RuntimeWarning, match="SSIM"):
        assert math.isnan(ssim(small, small, small).item())
    with pytest.warns(RuntimeWarning, match="MS_SSIM"):
        assert math.isnan(multiscale_ssim(small, small, small).item())
    constant = torch.full((1, 1, 161, 161), 0.3, dtype=torch.float64)
    assert ssim(constant, constant, constant).item() == pytest.approx(1.0, abs=1e-12)
    assert multiscale_ssim(constant, constant, constant).item() == pytest.approx(1.0, abs=1e-12)
    zero = torch.zeros_like(constant)
    assert ssim(zero, zero, zero).item() == pytest.approx(1.0, abs=1e-12)
    # An inverted image has a negative contrast-structure term: its fractional power is undefined.
    ramp = torch.linspace(0, 1, 161, dtype=torch.float64).view(1, 1, 1, 161).expand(1, 1, 161, 161)
    ramp = (ramp + 0.05 * torch.sin(torch.arange(161.0, dtype=torch.float64)).view(1, 1, 161, 1)).clamp(0, 1)
    with pytest.warns(RuntimeWarning, match="MS_SSIM"):
        assert math.isnan(multiscale_ssim(1 - ramp, ramp, ramp).item())
