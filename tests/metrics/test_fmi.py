"""FMI_pixel / FMI_dct / FMI_w against a literal per-window port of ``fmi.m`` written here, on real TNO crops."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import pywt
import scipy.fft
import torch

import metrics
from datamodules.io import read_image, to_tensor
from metrics.functional.fmi import (dct2, dwt2_dmey, feature_mutual_information, fmi_dct, fmi_map, fmi_pixel,
                                    fmi_wavelet)

TNO = "IVIF-DIDFuse/Datasets/Test_data_TNO"
FUSED = "IVIF-DIDFuse/Test_result/TNO_IJCAI"


def _load(data_root, k: int, crop: tuple[int, int, int, int]):
    top, left, height, width = crop
    images = [read_image(data_root / TNO / f"IR{k}.bmp"), read_image(data_root / TNO / f"VIS{k}.bmp"),
              read_image(data_root / FUSED / f"F{k}.png")]
    return [im[top:top + height, left:left + width] for im in images]


# ---- the reference: fmi.m transcribed line by line, one window at a time, in plain Python floats ----

def _matlab_sum(values):
    total = 0.0
    for v in values:
        total = total + v
    return total


def _ref_normalise(window):
    low, high = min(window), max(window)
    if high == low:
        return [1.0] * len(window)
    return [(v - low) / (high - low) for v in window]


def _ref_fmi_pair(x_sub, f_sub, size):
    """fmi.m's body for one source: x_sub, f_sub are normalised windows, column-major lists."""
    n = size * size
    cols_x = [_matlab_sum(x_sub[c * size:(c + 1) * size]) for c in range(size)]
    cols_f = [_matlab_sum(f_sub[c * size:(c + 1) * size]) for c in range(size)]
    x_pdf = [v / _matlab_sum(cols_x) for v in x_sub]
    f_pdf = [v / _matlab_sum(cols_f) for v in f_sub]
    x_cdf, f_cdf = [x_pdf[0]], [f_pdf[0]]
    for i in range(1, n):
        x_cdf.append(x_pdf[i] + x_cdf[i - 1])
        f_cdf.append(f_pdf[i] + f_cdf[i - 1])
    x_mean, f_mean = _matlab_sum(x_pdf) / n, _matlab_sum(f_pdf) / n
    x_t = [v - x_mean for v in x_pdf]
    f_t = [v - f_mean for v in f_pdf]
    cross = _matlab_sum([a * b for a, b in zip(x_t, f_t)])
    c = 0.0 if cross == 0 else cross / math.sqrt(_matlab_sum([a * a for a in x_t]) * _matlab_sum([b * b for b in f_t]))
    e_x = e2_x = e_f = e2_f = 0.0
    for i in range(1, n + 1):
        e_x = e_x + i * x_pdf[i - 1]
        e2_x = e2_x + (i**2) * x_pdf[i - 1]
        e_f = e_f + i * f_pdf[i - 1]
        e2_f = e2_f + (i**2) * f_pdf[i - 1]
    x_sd, f_sd = math.sqrt(e2_x - e_x**2), math.sqrt(e2_f - e_f**2)

    def upper(p, q):
        return 0.5 * (p + q - abs(p - q))

    def lower(p, q):
        return 0.5 * (p + q - 1 + abs(p + q - 1))

    bound = upper if c >= 0 else lower
    if (c >= 0 and (c == 0 or x_sd == 0 or f_sd == 0)) or (c < 0 and (x_sd == 0 or f_sd == 0)):
        phi = 0.0
    else:
        cov = 0.0
        for i in range(n):
            for j in range(n):
                cov = cov + bound(f_cdf[i], x_cdf[j]) - f_cdf[i] * x_cdf[j]
        phi = c / (cov / (f_sd * x_sd))

    def h(p):
        return 0.0 if p == 0 else -p * math.log2(abs(p))

    def cell(i, j):
        m = bound(f_cdf[i], x_cdf[j])
        if i > 0:
            m = m - bound(f_cdf[i - 1], x_cdf[j])
        if j > 0:
            m = m - bound(f_cdf[i], x_cdf[j - 1])
        if i > 0 and j > 0:
            m = m + bound(f_cdf[i - 1], x_cdf[j - 1])
        return phi * m + (1 - phi) * f_pdf[i] * x_pdf[j]

    joint = h(cell(0, 0))
    for i in range(1, n):
        joint = joint + h(cell(i, 0))
    for j in range(1, n):
        joint = joint + h(cell(0, j))
    for i in range(1, n):
        for j in range(1, n):
            joint = joint + h(cell(i, j))
    x_ent = _matlab_sum([h(p) for p in x_pdf if p != 0])
    f_ent = _matlab_sum([h(p) for p in f_pdf if p != 0])
    mi = x_ent + f_ent - joint
    return 0.0 if mi == 0 else 2 * mi / (x_ent + f_ent)


def reference_window(a_feat, b_feat, f_feat, p: int, q: int, size: int = 3) -> float:
    """fmi.m's loop body for the window centred at (p, q) (0-based)."""
    half = size // 2

    def window(img):
        return [float(v) for v in img[p - half:p + half + 1, q - half:q + half + 1].T.reshape(-1)]

    a_sub, b_sub, f_sub = window(a_feat), window(b_feat), window(f_feat)
    if a_sub == f_sub:
        fmi_af = 1.0
    else:
        a_sub, f_sub = _ref_normalise(a_sub), _ref_normalise(f_sub)
        fmi_af = _ref_fmi_pair(a_sub, f_sub, size)
    if b_sub == f_sub:  # f_sub as the A branch left it
        fmi_bf = 1.0
    else:
        b_sub, f_sub = _ref_normalise(b_sub), _ref_normalise(f_sub)
        fmi_bf = _ref_fmi_pair(b_sub, f_sub, size)
    return (fmi_af + fmi_bf) / 2


def reference_fmi(a_feat: np.ndarray, b_feat: np.ndarray, f_feat: np.ndarray, size: int = 3) -> float:
    """nfmi = mean2(fmi_map) over every window."""
    half = size // 2
    rows, cols = a_feat.shape
    return float(np.mean([reference_window(a_feat, b_feat, f_feat, p, q, size)
                          for p in range(half, rows - half) for q in range(half, cols - half)]))


def _rerange(x: np.ndarray) -> np.ndarray:
    return np.ones_like(x) if x.max() == x.min() else (x - x.min()) / (x.max() - x.min())


def _np_features(image: np.ndarray, feature: str) -> np.ndarray:
    x = image.astype(np.float64)
    if feature == "none":
        return x
    if feature == "dct":
        return scipy.fft.dctn(x, norm="ortho")
    c_a, (c_h, c_v, c_d) = pywt.dwt2(x, "dmey", mode="symmetric")
    return _rerange(np.block([[c_a, c_h], [c_v, c_d]]))


def _tensor(image: np.ndarray) -> torch.Tensor:
    return to_tensor(image).unsqueeze(0)


# ---- tests ----

@pytest.mark.parametrize("feature, crop", [("none", (200, 300, 40, 40)), ("dct", (120, 200, 24, 24))])
def test_fmi_matches_literal_port(data_root, feature, crop):
    ir, vis, fused = _load(data_root, 1, crop)
    expected = reference_fmi(*(_np_features(im, feature) for im in (ir, vis, fused)))
    got = feature_mutual_information(_tensor(fused), _tensor(ir), _tensor(vis), feature=feature)
    assert got.dtype == torch.float64
    assert abs(got.item() - expected) < 1e-10


def test_fmi_wavelet_windows_match_literal_port(data_root):
    """FMI_w's feature image is >= 62 x 62 whatever the input: check 300 of its windows, and the mean."""
    ir, vis, fused = _load(data_root, 1, (250, 100, 8, 8))
    features = [_np_features(im, "wavelet") for im in (ir, vis, fused)]
    got_map = fmi_map(*(torch.from_numpy(x)[None, None] for x in features))[0]
    assert got_map.shape == (features[0].shape[0] - 2, features[0].shape[1] - 2)
    rng = np.random.default_rng(0)
    for p, q in zip(rng.integers(1, features[0].shape[0] - 1, 300), rng.integers(1, features[0].shape[1] - 1, 300)):
        assert abs(got_map[p - 1, q - 1].item() - reference_window(*features, p, q)) < 1e-10
    value = fmi_wavelet(_tensor(fused), _tensor(ir), _tensor(vis)).item()
    assert value == pytest.approx(got_map.mean().item(), abs=1e-12)


def test_fmi_pixel_quirks_on_flat_and_copied_regions(data_root):
    """A crop with constant and copied windows exercises the equal-window and constant-window branches."""
    ir, vis, fused = _load(data_root, 3, (0, 0, 30, 30))
    ir = ir.copy()
    ir[:12, :12] = 7  # a flat IR patch
    fused = fused.copy()
    fused[:12, :12] = 200  # flat in the fused image too, at another level: both windows constant
    fused[15:, 15:] = ir[15:, 15:]  # fused copies IR: equal windows, and the quirk's B-branch comparison
    vis = vis.copy()
    vis[15:25, 15:25] = 1  # VIS constant where F = IR
    expected = reference_fmi(*(im.astype(np.float64) for im in (ir, vis, fused)))
    got = fmi_pixel(_tensor(fused), _tensor(ir), _tensor(vis)).item()
    assert abs(got - expected) < 1e-10
    # Both windows constant (different levels): MATLAB's left-to-right sums give FMI 1, not 0.
    flat_ir, flat_f = np.full((3, 3), 7, np.uint8), np.full((3, 3), 200, np.uint8)
    assert fmi_pixel(_tensor(flat_f), _tensor(flat_ir), _tensor(flat_ir)).item() == pytest.approx(1.0, abs=1e-12)


def test_dct_and_wavelet_features_match_scipy_and_pywt(data_root):
    ir, _, _ = _load(data_root, 2, (10, 20, 37, 50))
    x = torch.from_numpy(ir.astype(np.float64))
    assert torch.allclose(dct2(x), torch.from_numpy(scipy.fft.dctn(ir.astype(np.float64), norm="ortho")),
                          rtol=0, atol=1e-9)
    c_a, (c_h, c_v, c_d) = pywt.dwt2(ir.astype(np.float64), "dmey", mode="symmetric")
    assert torch.allclose(dwt2_dmey(x), torch.from_numpy(np.block([[c_a, c_h], [c_v, c_d]])), rtol=0, atol=1e-9)


def test_fmi_properties_and_batches(data_root):
    images = [_load(data_root, k, (100, 100, 24, 24)) for k in (1, 2)]
    ir = torch.cat([_tensor(im[0]) for im in images])
    vis = torch.cat([_tensor(im[1]) for im in images])
    fused = torch.cat([_tensor(im[2]) for im in images])
    for fn in (fmi_pixel, fmi_dct, fmi_wavelet):
        batch = fn(fused, ir, vis)
        single = torch.cat([fn(fused[i:i + 1], ir[i:i + 1], vis[i:i + 1]) for i in range(2)])
        assert torch.allclose(batch, single, rtol=0, atol=1e-12)  # batch composition does not matter
        assert ((batch > 0) & (batch <= 1)).all()
    # every window equal: 1 exactly
    assert torch.equal(fmi_pixel(ir, ir, ir), torch.ones(2, dtype=torch.float64))
    # chunking changes float rounding only
    assert torch.allclose(fmi_pixel(fused, ir, vis, chunk_size=97), fmi_pixel(fused, ir, vis), rtol=0, atol=1e-13)


def test_fmi_registered_and_bad_input(data_root):
    ir, vis, fused = (_tensor(im) for im in _load(data_root, 1, (0, 0, 20, 20)))
    for name in ("FMI_pixel", "FMI_dct", "FMI_w"):
        metric = metrics.get_metric(name)
        metric.update(fused, ir, vis)
        assert metric.compute().item() == pytest.approx(metrics.get_metric_info(name).functional(fused, ir, vis).item())
    with pytest.raises(ValueError, match="fused"):
        fmi_pixel(fused * 2, ir, vis)
    with pytest.raises(ValueError, match="vis"):
        fmi_pixel(fused, ir, vis[..., :-1])
    with pytest.raises(ValueError, match="feature"):
        feature_mutual_information(fused, ir, vis, feature="edge")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = fmi_pixel(fused[..., :2, :], ir[..., :2, :], vis[..., :2, :])
    assert torch.isnan(value).all() and caught
