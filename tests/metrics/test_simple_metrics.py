"""EN, MI, SD, SF, AG, SCD, CC, MSE, PSNR against independent numpy computations on real pairs,
their known properties and degenerate images (bad input: test_registry.py)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.metrics import mutual_info_score

from datamodules.io import read_image
from metrics import get_metric_info

# Small real TNO pairs (280 x 280, 256 x 256, 360 x 270) and the DIDFuse authors' fused images.
PAIR_IDS = (5, 8, 33)
SIMPLE = ("EN", "MI", "SD", "SF", "AG", "SCD", "CC", "MSE", "PSNR")


@pytest.fixture(scope="module")
def triplets(data_root):
    """(fused, ir, vis) uint8 H x W arrays for the pairs in PAIR_IDS."""
    tno = data_root / "IVIF-DIDFuse" / "Datasets" / "Test_data_TNO"
    fused = data_root / "IVIF-DIDFuse" / "Test_result" / "TNO_IJCAI"
    return [(read_image(fused / f"F{k}.png"), read_image(tno / f"IR{k}.bmp"), read_image(tno / f"VIS{k}.bmp"))
            for k in PAIR_IDS]


def as_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 H x W -> float64 1 x 1 x H x W in [0, 1]."""
    return torch.from_numpy(image).to(torch.float64).div(255).view(1, 1, *image.shape)


# ---- independent numpy references (on the 0-255 values, float64) --------------------------------

def np_en(f, a, b):
    p = np.bincount(f.ravel(), minlength=256) / f.size
    p = p[p > 0]
    return -np.sum(p * np.log2(p))


def np_mi(f, a, b):
    return (mutual_info_score(f.ravel(), a.ravel()) + mutual_info_score(f.ravel(), b.ravel())) / math.log(2)


def np_sd(f, a, b):
    return np.std(f.astype(np.float64))


def np_sf(f, a, b):
    f = f.astype(np.float64)
    return math.sqrt(np.mean(np.diff(f, axis=1) ** 2) + np.mean(np.diff(f, axis=0) ** 2))


def np_ag(f, a, b):
    gy, gx = np.gradient(f.astype(np.float64))  # central inside, one-sided at the border, as MATLAB
    h, w = f.shape
    return np.sum(np.sqrt((gx**2 + gy**2) / 2)) / ((h - 1) * (w - 1))


def _corr(x, y):
    return np.corrcoef(x.ravel().astype(np.float64), y.ravel().astype(np.float64))[0, 1]


def np_scd(f, a, b):
    f, a, b = (x.astype(np.float64) for x in (f, a, b))
    return _corr(f - b, a) + _corr(f - a, b)


def np_cc(f, a, b):
    return (_corr(f, a) + _corr(f, b)) / 2


def np_mse(f, a, b):
    f, a, b = (x.astype(np.float64) for x in (f, a, b))
    return (np.mean((f - a) ** 2) + np.mean((f - b) ** 2)) / 2


def np_psnr(f, a, b):
    return 10 * math.log10(255.0**2 / np_mse(f, a, b))


NUMPY = {"EN": np_en, "MI": np_mi, "SD": np_sd, "SF": np_sf, "AG": np_ag, "SCD": np_scd, "CC": np_cc,
         "MSE": np_mse, "PSNR": np_psnr}


def value(name, fused, ir, vis):
    return get_metric_info(name).functional(fused, ir, vis)


@pytest.mark.parametrize("name", SIMPLE)
def test_matches_numpy_on_real_pairs(name, triplets):
    for f, a, b in triplets:
        got = value(name, as_tensor(f), as_tensor(a), as_tensor(b))
        assert got.shape == (1,) and got.dtype == torch.float64
        assert got.item() == pytest.approx(NUMPY[name](f, a, b), rel=1e-10, abs=1e-12), name


def test_float32_input_agrees_within_float_noise(triplets):
    """float32 [0, 1] inputs (as a model produces) give the same values to ~1e-6."""
    f, a, b = triplets[0]
    for name in SIMPLE:
        exact = value(name, as_tensor(f), as_tensor(a), as_tensor(b)).item()
        single = value(name, as_tensor(f).float(), as_tensor(a).float(), as_tensor(b).float()).item()
        assert single == pytest.approx(exact, rel=1e-6), name


def test_entropy_of_constant_image_is_zero():
    for level in (0.0, 0.5, 1.0):
        x = torch.full((2, 1, 9, 7), level, dtype=torch.float64)
        en = value("EN", x, x, x)
        assert torch.equal(en, torch.zeros(2, dtype=torch.float64)) and not torch.signbit(en).any()


def test_mi_of_image_with_itself_is_twice_its_entropy(triplets):
    f, _, _ = triplets[0]
    t = as_tensor(f)
    assert value("MI", t, t, t).item() == pytest.approx(2 * value("EN", t, t, t).item(), rel=1e-12)


@pytest.mark.parametrize("name", ["MI", "SCD", "CC", "MSE", "PSNR"])
def test_two_source_metrics_are_symmetric_in_ir_and_vis(name, triplets):
    f, a, b = (as_tensor(x) for x in triplets[1])
    assert value(name, f, a, b).item() == pytest.approx(value(name, f, b, a).item(), rel=1e-13)


# ---- degenerate images ----------------------------------------------------------------------------

def _call(name, fused, ir, vis):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = value(name, fused, ir, vis)
    return out, [w for w in caught if issubclass(w.category, RuntimeWarning)]


def test_constant_images():
    c = torch.full((1, 1, 16, 16), 0.4, dtype=torch.float64)
    d = torch.full((1, 1, 16, 16), 0.8, dtype=torch.float64)
    expected = {"EN": 0.0, "MI": 0.0, "SD": 0.0, "SF": 0.0, "AG": 0.0,
                "MSE": ((0.4 * 255) ** 2 + 0) / 2, "PSNR": 10 * math.log10(255**2 / (((0.4 * 255) ** 2) / 2))}
    for name, want in expected.items():
        out, caught = _call(name, c, d, c)
        assert out.item() == pytest.approx(want, abs=1e-9), name
        assert not caught, name
    for name in ("SCD", "CC"):  # a correlation with a constant is undefined: NaN, with a warning
        out, caught = _call(name, c, d, c)
        assert torch.isnan(out).all() and caught and name in str(caught[0].message), name


def test_psnr_of_identical_images_is_inf_with_warning():
    x = torch.rand(1, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out, caught = _call("PSNR", x, x, x)
    assert math.isinf(out.item()) and out.item() > 0 and caught


def test_one_pixel_wide_images():
    row = torch.tensor([[[[0.0, 0.2, 0.6, 1.0, 0.4]]]], dtype=torch.float64)  # 1 x 5
    other = torch.tensor([[[[0.1, 0.3, 0.2, 0.9, 0.0]]]], dtype=torch.float64)
    # SF: the vertical direction has no pixel pairs and contributes 0, so SF = RF.
    diffs = np.diff(row.numpy().ravel() * 255)
    out, caught = _call("SF", row, row, other)
    assert out.item() == pytest.approx(math.sqrt(np.mean(diffs**2)), rel=1e-12) and not caught
    out, caught = _call("SF", row[..., :1], row[..., :1], row[..., :1])  # 1 x 1
    assert out.item() == 0.0 and not caught
    # AG divides by (H-1)(W-1) = 0: undefined.
    for x in (row, row.transpose(-1, -2)):
        out, caught = _call("AG", x, x, x)
        assert torch.isnan(out).all() and caught
    for name in ("EN", "MI", "SD", "SCD", "CC", "MSE"):
        out, caught = _call(name, row, row.flip(-1), other)
        assert torch.isfinite(out).all() and not caught, name


def test_all_zero_images():
    z = torch.zeros(1, 1, 12, 12, dtype=torch.float64)
    for name, want in {"EN": 0.0, "MI": 0.0, "SD": 0.0, "SF": 0.0, "AG": 0.0, "MSE": 0.0}.items():
        out, caught = _call(name, z, z, z)
        assert out.item() == want and not caught, name
