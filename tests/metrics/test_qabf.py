"""Qabf against an independent numpy / scipy port of the references (VIFB ``metricsQabf.m``,
CDDFuse ``Evaluator.Qabf``) on real pairs, its properties and degenerate images."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from scipy.signal import convolve2d

from datamodules.io import read_image
from metrics.functional.qabf import qabf

PAIR_IDS = (5, 8, 33)


@pytest.fixture(scope="module")
def triplets(data_root):
    tno = data_root / "IVIF-DIDFuse" / "Datasets" / "Test_data_TNO"
    fused = data_root / "IVIF-DIDFuse" / "Test_result" / "TNO_IJCAI"
    return [(read_image(fused / f"F{k}.png"), read_image(tno / f"IR{k}.bmp"), read_image(tno / f"VIS{k}.bmp"))
            for k in PAIR_IDS]


def as_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).to(torch.float64).div(255).view(1, 1, *image.shape)


def _edges(img):
    h1 = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=np.float64)
    h3 = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)
    sx = convolve2d(img, h3, mode="same")
    sy = convolve2d(img, h1, mode="same")
    g = np.sqrt(sx**2 + sy**2)
    a = np.full_like(img, math.pi / 2)
    nz = sx != 0
    a[nz] = np.arctan(sy[nz] / sx[nz])
    return g, a


def _preserved(g_s, a_s, g_f, a_f):
    ratio = np.zeros_like(g_s)
    m = g_s > g_f
    ratio[m] = g_f[m] / g_s[m]
    m = g_s == g_f
    ratio[m] = g_f[m]  # the references' quirk
    m = g_s < g_f
    ratio[m] = g_s[m] / g_f[m]
    orient = 1 - np.abs(a_s - a_f) / (math.pi / 2)
    return 0.9994 / (1 + np.exp(-15 * (ratio - 0.5))) * 0.9879 / (1 + np.exp(-22 * (orient - 0.8)))


def np_qabf(f, a, b):
    f, a, b = (x.astype(np.float64) for x in (f, a, b))
    (g_a, a_a), (g_b, a_b), (g_f, a_f) = _edges(a), _edges(b), _edges(f)
    return np.sum(_preserved(g_a, a_a, g_f, a_f) * g_a + _preserved(g_b, a_b, g_f, a_f) * g_b) / np.sum(g_a + g_b)


def test_matches_reference_port_on_real_pairs(triplets):
    for f, a, b in triplets:
        got = qabf(as_tensor(f), as_tensor(a), as_tensor(b))
        assert got.dtype == torch.float64 and got.shape == (1,)
        assert got.item() == pytest.approx(np_qabf(f, a, b), rel=1e-10)


def test_fused_equal_to_a_source_behaves_as_the_reference(triplets):
    """With F = IR the references' quirk (G = g_F where g_A == g_F) is kept, so Q^{AF} is not 1."""
    _, a, b = triplets[0]
    got = qabf(as_tensor(a), as_tensor(a), as_tensor(b)).item()
    assert got == pytest.approx(np_qabf(a, a, b), rel=1e-10)
    assert 0 < got < 1


def test_symmetric_in_ir_and_vis(triplets):
    f, a, b = (as_tensor(x) for x in triplets[1])
    assert qabf(f, a, b).item() == pytest.approx(qabf(f, b, a).item(), rel=1e-14)


def test_float32_input_within_tolerance(triplets):
    f, a, b = triplets[2]
    exact = qabf(as_tensor(f), as_tensor(a), as_tensor(b)).item()
    single = qabf(as_tensor(f).float(), as_tensor(a).float(), as_tensor(b).float()).item()
    assert single == pytest.approx(exact, rel=1e-4)


def test_degenerate_images():
    rng = np.random.default_rng(0)
    ramp = rng.integers(0, 256, size=(1, 9), dtype=np.uint8)
    other = rng.integers(0, 256, size=(1, 9), dtype=np.uint8)
    constant = np.full((10, 12), 90, dtype=np.uint8)
    cases = [(ramp, ramp[:, ::-1], other), (ramp.T, other.T, ramp.T),  # one pixel wide
             (constant, constant, constant + 10)]  # constant: zero padding makes border edges
    for f, a, b in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = qabf(as_tensor(f), as_tensor(a), as_tensor(b)).item()
        assert got == pytest.approx(np_qabf(f, a, b), rel=1e-10)
    zero = torch.zeros(1, 1, 8, 8, dtype=torch.float64)
    with pytest.warns(RuntimeWarning, match="Qabf"):
        assert math.isnan(qabf(zero + 0.5, zero, zero).item())
