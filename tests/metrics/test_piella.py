"""Piella's Q / Qw / Qe: metricPeilla.m + ssim_index.m transcribed with scipy, the Ataman-Akar form, gradcheck."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.signal
import torch

import metrics
from datamodules.io import read_image, to_tensor
from metrics.functional.piella import (edge_dependent_fusion_quality, edge_map, fusion_quality_index,
                                       weighted_fusion_quality)

TNO = "IVIF-DIDFuse/Datasets/Test_data_TNO"
FUSED = "IVIF-DIDFuse/Test_result/TNO_IJCAI"
FUNCTIONS = (fusion_quality_index, weighted_fusion_quality, edge_dependent_fusion_quality)


@pytest.fixture(scope="module")
def crop(data_root):
    """A 60 x 72 crop of TNO pair 2 on the 0-255 scale (255 x of the float32 images the metrics see)."""
    paths = (data_root / TNO / "IR2.bmp", data_root / TNO / "VIS2.bmp", data_root / FUSED / "F2.png")
    return [(to_tensor(read_image(p)[300:360, 200:272]).double() * 255)[0].numpy() for p in paths]


def _t(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image / 255)[None, None]


# ---- reference: metricPeilla.m (sw = 1, 2 and the intended 3) + ssim_index.m, written with scipy ----

def _ssim_index(img1, img2):
    half = 5
    y, x = np.mgrid[-half:half + 1, -half:half + 1]
    window = np.exp(-(x * x + y * y) / (2 * 1.5**2))
    window /= window.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def filt(a):
        return scipy.signal.correlate2d(a, window, mode="valid")

    mu1, mu2 = filt(img1), filt(img2)
    sigma1_sq = filt(img1 * img1) - mu1 * mu1
    sigma2_sq = filt(img2 * img2) - mu2 * mu2
    sigma12 = filt(img1 * img2) - mu1 * mu2
    ssim_map = ((2 * mu1 * mu2 + c1) * (2 * sigma12 + c2)) / ((mu1**2 + mu2**2 + c1) * (sigma1_sq + sigma2_sq + c2))
    return ssim_map, sigma1_sq, sigma2_sq


def _peilla(img1, img2, fuse, sw):
    _, sigma1_sq, sigma2_sq = _ssim_index(img1, img2)
    # exact zeros of a constant window are rounding noise in filter2 too; compare with a tolerance
    sigma1_sq = np.where(np.abs(sigma1_sq) < 1e-9, 0.0, sigma1_sq)
    sigma2_sq = np.where(np.abs(sigma2_sq) < 1e-9, 0.0, sigma2_sq)
    test = (sigma1_sq + sigma2_sq == 0) * 0.5
    sigma1_sq, sigma2_sq = sigma1_sq + test, sigma2_sq + test
    ramda = sigma1_sq / (sigma1_sq + sigma2_sq)
    ssim_map1, _, _ = _ssim_index(fuse, img1)
    ssim_map2, _, _ = _ssim_index(fuse, img2)
    q = ramda * ssim_map1 + (1 - ramda) * ssim_map2
    if sw == 1:
        return q.mean()
    cw = np.maximum(sigma1_sq, sigma2_sq)
    return np.sum(cw / cw.sum() * q)


def _edges(img):
    flt1 = np.array([[1.0, 0, -1], [1, 0, -1], [1, 0, -1]])
    gx = scipy.signal.correlate2d(img, flt1, mode="same")
    gy = scipy.signal.correlate2d(img, flt1.T, mode="same")
    return np.sqrt(gx * gx + gy * gy)


def reference_piella(ir, vis, fused):
    """(Q, Qw, Qe) as metricPeilla.m computes them (Qe = Qw * Qw of the edge maps, case 3 as intended)."""
    qe = _peilla(ir, vis, fused, 2) * _peilla(_edges(ir), _edges(vis), _edges(fused), 2)
    return _peilla(ir, vis, fused, 1), _peilla(ir, vis, fused, 2), qe


# ---- reference: Ataman-Akar's fusionQualityLoss.py form (methods spec 4.2), in numpy ----

def _ataman_qw(a, b, f, eps=1e-8):
    """Batch Qw on [0, 1] images N x H x W: 8 x 8 blocks, /63 variances, eps form, c(w) over the whole batch."""
    def blocks(x):
        n, h, w = x.shape
        x = x[:, : h // 8 * 8, : w // 8 * 8].reshape(n, h // 8, 8, w // 8, 8)
        return x.transpose(0, 1, 3, 2, 4).reshape(n, -1, 64)

    a, b, f = blocks(a), blocks(b), blocks(f)
    mu = {k: v.mean(-1, keepdims=True) for k, v in dict(a=a, b=b, f=f).items()}
    d = dict(a=a - mu["a"], b=b - mu["b"], f=f - mu["f"])

    def cov(x, y):
        return (d[x] * d[y]).sum(-1) / 63

    var_a, var_b, var_f = cov("a", "a"), cov("b", "b"), cov("f", "f")

    def q0(x, var_x, cov_xf):
        sx, sf = np.sqrt(var_x + eps), np.sqrt(var_f + eps)
        mx, mf = mu[x][..., 0], mu["f"][..., 0]
        q = (cov_xf / (sx * sf + eps)) * (2 * mx * mf / (mx**2 + mf**2 + eps)) * (2 * sx * sf / (var_x + var_f + eps))
        return np.nan_to_num(q, nan=0.0)

    lam = var_a / (var_a + var_b + eps)
    quality = lam * q0("a", var_a, cov("a", "f")) + (1 - lam) * q0("b", var_b, cov("b", "f"))
    cw = np.maximum(var_a, var_b)
    return np.sum(cw / cw.sum() * quality)


def _sobel_minmax(x):
    """kornia sobel (normalised Sobel, replicate padding, sqrt(gx^2 + gy^2 + 1e-6)), min-max per image."""
    kx = np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]) / 8
    out = []
    for img in x:
        padded = np.pad(img, 1, mode="edge")
        gx = scipy.signal.correlate2d(padded, kx, mode="valid")
        gy = scipy.signal.correlate2d(padded, kx.T, mode="valid")
        mag = np.sqrt(gx * gx + gy * gy + 1e-6)
        out.append((mag - mag.min()) / (mag.max() - mag.min() + 1e-6))
    return np.stack(out)


ATAMAN = dict(window="block", block_size=8, variance="unbiased", stabilizer="eps", eps=1e-8, data_range=1.0,
              batch_weights=True)


# ---- tests ----

def test_q_qw_qe_match_metric_peilla(crop):
    ir, vis, fused = crop
    expected = reference_piella(ir, vis, fused)
    for fn, value in zip(FUNCTIONS, expected):
        got = fn(_t(fused), _t(ir), _t(vis))
        assert got.dtype == torch.float64 and got.shape == (1,)
        assert got.item() == pytest.approx(value, abs=1e-10), fn.__name__


def test_constant_windows_follow_the_reference_quirk(crop):
    """Where both sources are flat, metricPeilla.m adds 0.5 to both variances (lambda = 0.5, c = 0.5)."""
    ir, vis, fused = (x.copy() for x in crop)
    ir[:25, :30] = 40.0
    vis[:25, :30] = 90.0
    expected = reference_piella(ir, vis, fused)
    for fn, value in zip(FUNCTIONS, expected):
        assert fn(_t(fused), _t(ir), _t(vis)).item() == pytest.approx(value, abs=1e-10), fn.__name__


def test_ataman_akar_form(crop):
    ir, vis, fused = (np.stack([x[:32, :40], x[20:52, 30:70]]) / 255 for x in crop)
    a, b, f = (torch.from_numpy(x)[:, None] for x in (vis, ir, fused))
    qw = weighted_fusion_quality(f, a, b, **ATAMAN)
    assert qw.shape == () and qw.item() == pytest.approx(_ataman_qw(vis, ir, fused), abs=1e-12)
    qe = edge_dependent_fusion_quality(f, a, b, **ATAMAN, edge="sobel_minmax", edge_only=True, exponent=0.7)
    edges = [_sobel_minmax(x) for x in (vis, ir, fused)]
    assert qe.item() == pytest.approx(max(_ataman_qw(*edges), 0) ** 0.7, abs=1e-12)
    assert torch.allclose(edge_map(a, "sobel_minmax")[:, 0], torch.from_numpy(edges[0]), rtol=0, atol=1e-12)
    # float32 under autograd stays float32 (a training loss on CPU)
    f32 = f.float().requires_grad_()
    loss = 1 - weighted_fusion_quality(f32, a.float(), b.float(), **ATAMAN)
    loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(f32.grad).all()


@pytest.mark.parametrize("options", [{}, dict(ATAMAN, batch_weights=False)], ids=["piella", "block-eps"])
def test_gradcheck(options):
    """float64 gradcheck (random Jacobian projections: full Jacobians of the sliding window take too long)."""
    generator = torch.Generator().manual_seed(0)
    shape = (1, 1, 12, 13) if not options else (2, 1, 8, 16)
    ir, vis = (torch.rand(shape, generator=generator, dtype=torch.float64) for _ in range(2))
    fused = (0.1 + 0.8 * torch.rand(shape, generator=generator, dtype=torch.float64)).requires_grad_()
    for fn in FUNCTIONS:
        assert torch.autograd.gradcheck(lambda x: fn(x, ir, vis, **options), (fused,), fast_mode=True), fn.__name__
    if options:
        edge = dict(ATAMAN, edge="sobel_minmax", edge_only=True, exponent=0.7)
        assert torch.autograd.gradcheck(lambda x: edge_dependent_fusion_quality(x, ir, vis, **edge), (fused,),
                                        fast_mode=True)
        # and one full Jacobian on a single 8 x 8 block
        assert torch.autograd.gradcheck(lambda x: weighted_fusion_quality(x, ir[:1, :, :, :8], vis[:1, :, :, :8],
                                                                          **options), (fused[:1, :, :, :8],))


def test_properties_batches_and_metric_state(crop):
    ir, vis, fused = (_t(x) for x in crop)
    for fn in FUNCTIONS:
        assert fn(ir, ir, ir).item() == pytest.approx(1.0, abs=1e-12)  # F = A = B
        assert fn(fused, ir, vis).item() == pytest.approx(fn(fused, vis, ir).item(), abs=1e-12)  # symmetric
        batch = fn(torch.cat([fused, ir]), torch.cat([ir, vis]), torch.cat([vis, fused]))
        single = torch.cat([fn(fused, ir, vis), fn(ir, vis, fused)])
        assert torch.allclose(batch, single, rtol=0, atol=1e-12)
    for name in ("Q", "Qw", "Qe"):
        whole, halves = metrics.get_metric(name), metrics.get_metric(name)
        whole.update(torch.cat([fused, ir]), torch.cat([ir, vis]), torch.cat([vis, fused]))
        halves.update(fused, ir, vis)
        halves.update(ir, vis, fused)
        assert torch.allclose(whole.compute(), halves.compute(), rtol=0, atol=1e-12)
        assert torch.equal(whole.per_image(), halves.per_image())
        assert metrics.get_metric_info(name).higher_is_better and type(whole).is_differentiable


def test_bad_input_and_degenerate_images(crop):
    ir, vis, fused = (_t(x) for x in crop)
    with pytest.raises(ValueError, match="fused"):
        fusion_quality_index(fused - 0.5, ir, vis)
    with pytest.raises(ValueError, match="ir"):
        weighted_fusion_quality(fused, ir[0], vis)
    with pytest.raises(ValueError, match="vis"):
        edge_dependent_fusion_quality(fused, ir, vis[..., 1:, :])
    with pytest.raises(ValueError, match="window"):
        fusion_quality_index(fused, ir, vis, window="box")
    with pytest.raises(ValueError, match="unbiased"):
        weighted_fusion_quality(fused, ir, vis, variance="unbiased")
    with pytest.raises(ValueError, match="edge"):
        edge_dependent_fusion_quality(fused, ir, vis, edge="canny")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = [fn(fused[..., :10, :], ir[..., :10, :], vis[..., :10, :]) for fn in FUNCTIONS]
    assert all(torch.isnan(v).all() for v in values) and len(caught) == 3
    # all-constant images: every window takes the 0.5 quirk; the reference's value, not NaN
    flat = torch.full_like(fused, 0.5)
    zero = torch.zeros_like(fused)
    expected = reference_piella(np.zeros((60, 72)), np.zeros((60, 72)), np.full((60, 72), 127.5))
    for fn, value in zip(FUNCTIONS, expected):
        assert fn(flat, zero, zero).item() == pytest.approx(value, abs=1e-10), fn.__name__
