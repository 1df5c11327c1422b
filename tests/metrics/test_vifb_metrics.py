"""VIFB's own metrics (CE, EI, Qcb, Qcv, RMSE) against the reference and an independent numpy port.

The reference values were computed by GNU Octave 7.3 (with the image package, plus
MATLAB's ``freqspace`` / ``blkproc`` written out where Octave lacks them) running
``xingchenzhang/VIFB`` ``metrics/metrics*.m`` (commit 5d29ee7) as
``metricsX(VIS, IR, F)`` on TNO pair 3 and DIDFuse's released F3.png; see
``benchmarks/verify/octave_reference.py`` to recompute them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.signal import correlate2d

from datamodules.io import read_image
from metrics import get_metric, get_metric_info, list_metrics
from metrics.functional.chen_blum import chen_blum
from metrics.functional.chen_varshney import chen_varshney
from metrics.functional.cross_entropy import cross_entropy
from metrics.functional.edge_intensity import edge_intensity
from metrics.functional.rmse import vifb_rmse

OCTAVE_TNO3 = {  # metricsX(VIS3, IR3, F3), printed with %.15g
    "CE": (cross_entropy, 1.15639179245988),
    "EI": (edge_intensity, 38.7693455182417),
    "RMSE": (vifb_rmse, 0.0668843944813761),
    "Qcb": (chen_blum, 0.526699969961964),
    "Qcv": (chen_varshney, 164.219966196171),
}


pytestmark = pytest.mark.usefixtures("one_thread")


def _load(path) -> torch.Tensor:
    """An 8-bit image as float64 1 x 1 x H x W in [0, 1] (float64 keeps 255 x exactly integer)."""
    return torch.from_numpy(read_image(path)).double().div(255)[None, None]


@pytest.fixture(scope="module")
def tno3(data_root):
    root = data_root / "IVIF-DIDFuse"
    return (_load(root / "Test_result" / "TNO_IJCAI" / "F3.png"),
            _load(root / "Datasets" / "Test_data_TNO" / "IR3.bmp"),
            _load(root / "Datasets" / "Test_data_TNO" / "VIS3.bmp"))


@pytest.fixture(scope="module")
def crops(tno3):
    """Two real crops of 45 x 70 (not a multiple of the 16 x 16 Qcv regions) as a batch of N = 2."""
    def cut(x):
        return torch.cat([x[..., 200:245, 300:370], x[..., 60:105, 500:570]])
    return tuple(cut(x) for x in tno3)


# --------------------------------------------------------------------- an independent numpy port

def _normalize1(x):
    low, high = x.min(), x.max()
    if low == 0 and high == 0:
        return x
    return np.floor((x - low) / (high - low) * 255 + 0.5)


def _freqspace(h, w):
    f1 = (np.arange(w) - w // 2) * (2 / w)
    f2 = (np.arange(h) - h // 2) * (2 / h)
    return np.meshgrid(f1, f2)


def _csf_filter(x, response):
    return np.fft.ifft2(np.fft.ifftshift(np.fft.fftshift(np.fft.fft2(x)) * response))


def numpy_qcb(vis, ir, fused):
    im1, im2, f = (_normalize1(x.astype(float)) for x in (vis, ir, fused))
    h, w = im1.shape
    u, v = _freqspace(h, w)
    r = np.sqrt((w / 30 * u) ** 2 + (h / 30 * v) ** 2)
    sd = np.exp(-(r / 15.3870) ** 2) - 0.7622 * np.exp(-(r / 1.3456) ** 2)
    x, y = np.meshgrid(np.arange(-15, 16), np.arange(-15, 16))

    def gauss(sigma):
        return np.exp(-(x * x + y * y) / (2 * sigma * sigma)) / (2 * np.pi * sigma * sigma)

    def masked(img):
        filtered = _csf_filter(img, sd)
        c = np.abs(correlate2d(filtered, gauss(2), mode="same") / correlate2d(filtered, gauss(4), mode="same") - 1)
        return c**3 / (c**2 + 1e-4)

    c1, c2, cf = masked(im1), masked(im2), masked(f)
    q1 = np.where(c1 < cf, c1 / cf, cf / c1)
    q2 = np.where(c2 < cf, c2 / cf, cf / c2)
    lam1 = c1 * c1 / (c1 * c1 + c2 * c2)
    lam2 = c2 * c2 / (c1 * c1 + c2 * c2)
    return float(np.mean(lam1 * q1 + lam2 * q2))


def numpy_qcv(vis, ir, fused):
    im1, im2, f = (_normalize1(x.astype(float)) for x in (vis, ir, fused))
    sx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float)

    def grad(img):
        return np.hypot(correlate2d(img, sx, mode="same"), correlate2d(img, sx.T, mode="same"))

    h, w = im1.shape
    u, v = _freqspace(h, w)
    r = np.sqrt((w / 8 * u) ** 2 + (h / 8 * v) ** 2)
    theta = 2.6 * (0.0192 + 0.144 * r) * np.exp(-((0.144 * r) ** 1.1))
    d1, d2 = _csf_filter(im1 - f, theta), _csf_filter(im2 - f, theta)
    g1, g2 = grad(im1), grad(im2)
    num = den = 0.0
    for i in range(0, h, 16):  # blkproc: partial blocks zero-padded, mean over 16 x 16
        for j in range(0, w, 16):
            lam1 = np.sum(g1[i:i + 16, j:j + 16] ** 5)
            lam2 = np.sum(g2[i:i + 16, j:j + 16] ** 5)
            num += lam1 * np.sum(d1[i:i + 16, j:j + 16] ** 2) / 256 + lam2 * np.sum(d2[i:i + 16, j:j + 16] ** 2) / 256
            den += lam1 + lam2
    return float(np.real(num / den))


def numpy_ce(vis, ir, fused):
    def one(src):
        p1 = np.bincount(src.ravel(), minlength=256) / src.size
        p2 = np.bincount(fused.ravel(), minlength=256) / src.size
        return sum(p1[k] * math.log2(p1[k] / p2[k]) for k in range(256) if p1[k] != 0 and p2[k] != 0)
    return (one(vis) + one(ir)) / 2


def numpy_ei(vis, ir, fused):
    w = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=float)
    p = np.pad(fused.astype(float), 1, mode="edge")
    gx, gy = correlate2d(p, w, mode="valid"), correlate2d(p, w.T, mode="valid")
    return float(np.mean(np.sqrt(gx * gx + gy * gy)))


def numpy_rmse(vis, ir, fused):
    def m(a):
        return math.sqrt(np.sum((a.astype(float) - fused.astype(float)) ** 2)) / a.size
    return (m(vis) + m(ir)) / 2


NUMPY_PORTS = {"Qcb": (chen_blum, numpy_qcb), "Qcv": (chen_varshney, numpy_qcv), "CE": (cross_entropy, numpy_ce),
               "EI": (edge_intensity, numpy_ei), "RMSE": (vifb_rmse, numpy_rmse)}


def _uint8(x: torch.Tensor) -> np.ndarray:
    return torch.round(x * 255).to(torch.uint8).numpy()


# --------------------------------------------------------------------- tests

@pytest.mark.parametrize("name", list(OCTAVE_TNO3))
def test_matches_vifb_reference_run_in_octave(name, tno3):
    fn, expected = OCTAVE_TNO3[name]
    fused, ir, vis = tno3
    assert fn(fused, ir, vis).item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", list(NUMPY_PORTS))
def test_matches_numpy_port_on_a_batch_of_real_crops(name, crops):
    fused, ir, vis = crops
    fn, port = NUMPY_PORTS[name]
    values = fn(fused, ir, vis)
    expected = [port(_uint8(vis[i, 0]), _uint8(ir[i, 0]), _uint8(fused[i, 0])) for i in range(2)]
    assert values.shape == (2,)
    assert values.tolist() == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("name", list(NUMPY_PORTS))
def test_symmetric_in_the_sources_and_batch_independent(name, crops):
    fused, ir, vis = crops
    fn = NUMPY_PORTS[name][0]
    both = fn(fused, ir, vis)
    assert torch.allclose(fn(fused, vis, ir), both, rtol=1e-12, atol=0)
    assert torch.allclose(fn(fused[1:], ir[1:], vis[1:]), both[1:], rtol=1e-12, atol=0)


def test_fused_equal_to_the_sources(crops):
    fused, ir, vis = crops
    assert chen_blum(ir, ir, ir).tolist() == [1.0, 1.0]
    assert chen_varshney(ir, ir, ir).tolist() == [0.0, 0.0]
    assert cross_entropy(ir, ir, ir).tolist() == [0.0, 0.0]
    assert vifb_rmse(ir, ir, ir).tolist() == [0.0, 0.0]
    # F = IR: the IR terms vanish and only VIS's remain.
    assert torch.allclose(cross_entropy(ir, ir, vis), cross_entropy(ir, vis, vis) / 2, rtol=1e-12)
    assert torch.allclose(vifb_rmse(ir, ir, vis), vifb_rmse(ir, vis, vis) / 2, rtol=1e-12)
    # Taking one source whole preserves its contrast fully: better than a fused image that keeps neither.
    noise = torch.rand(fused.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert (chen_blum(ir, ir, vis) > chen_blum(noise, ir, vis)).all()
    assert (chen_varshney(ir, ir, vis) < chen_varshney(noise, ir, vis)).all()
    # EI reads the fused image only.
    assert torch.equal(edge_intensity(fused, ir, vis), edge_intensity(fused, vis, ir.flip(-1)))


def test_registry_directions_and_conventions():
    assert {"Qcb", "Qcv"} <= set(list_metrics("default"))
    assert not {"CE", "EI", "RMSE"} & set(list_metrics("default"))  # VIFB-only definitions
    assert {"CE", "EI", "RMSE", "Qcb", "Qcv"} <= set(list_metrics("vifb"))
    assert get_metric_info("Qcb").higher_is_better and not get_metric_info("Qcv").higher_is_better
    for name in ("CE", "RMSE", "Qcv"):
        assert not get_metric_info(name, "vifb").higher_is_better
        assert not get_metric(name, "vifb").higher_is_better
    assert get_metric_info("EI", "vifb").higher_is_better


def test_metric_class_accumulates_over_batches(crops):
    fused, ir, vis = crops
    metric = get_metric("Qcv")
    metric.update(fused[:1], ir[:1], vis[:1])
    metric.update(fused[1:], ir[1:], vis[1:])
    assert torch.allclose(metric.per_image(), chen_varshney(fused, ir, vis), rtol=1e-12)
    assert torch.allclose(metric.compute(), chen_varshney(fused, ir, vis).mean(), rtol=1e-12)


def test_bad_input_names_the_argument(crops):
    fused, ir, vis = crops
    with pytest.raises(ValueError, match="vis"):
        chen_blum(fused, ir, vis[..., :-1])
    with pytest.raises(ValueError, match="fused"):
        chen_varshney(fused * 2, ir, vis)


def test_constant_nonzero_image_warns_and_gives_nan(crops):
    fused, ir, vis = crops
    flat = torch.full_like(fused, 0.5)
    with pytest.warns(RuntimeWarning, match="Qcb"):
        assert torch.isnan(chen_blum(flat, ir, vis)).all()
    with pytest.warns(RuntimeWarning, match="Qcv"):
        assert torch.isnan(chen_varshney(flat, ir, vis)).all()
