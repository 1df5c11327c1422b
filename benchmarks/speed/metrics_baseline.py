"""The peer of ``metrics_speed.py``: every metric in plain numpy / scipy / scikit-image / scikit-learn, float64.

Written the way the reference Python / MATLAB code computes them (``scipy.signal``
filters, ``mutual_info_score``, ``structural_similarity``, ``numpy.fft`` CSF filters,
Python loops over 16 x 16 blocks for Qcv and over 3 x 3 windows for FMI, as
``fmi.m``), on the 0-255 gray levels: ``f`` = fused, ``a`` = IR, ``b`` = VIS, uint8
H x W or float64. Not a second implementation of the project: only the speed
script times it, beside ours, and prints both values as a check.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np
import pywt
import scipy.fft
import scipy.signal
from skimage.metrics import structural_similarity
from sklearn.metrics import mutual_info_score

__all__ = ["BASELINES", "base_fmi"]


def _gaussian(n: int, sigma: float) -> np.ndarray:
    half = (n - 1) / 2
    y, x = np.mgrid[-half:half + 1, -half:half + 1]
    g = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    return g / g.sum()


def _filter2(window: np.ndarray, image: np.ndarray, mode: str = "valid") -> np.ndarray:
    return scipy.signal.correlate2d(image, window, mode=mode)


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.corrcoef(x.ravel(), y.ravel())[0, 1])


def base_en(f, a, b):
    p = np.bincount(f.astype(np.int64).ravel(), minlength=256) / f.size
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def base_mi(f, a, b):
    fl = f.astype(np.int64).ravel()
    return (mutual_info_score(fl, a.astype(np.int64).ravel())
            + mutual_info_score(fl, b.astype(np.int64).ravel())) / math.log(2)


def base_sd(f, a, b):
    return float(f.std())


def base_sf(f, a, b):
    return float(np.sqrt(np.mean(np.diff(f, axis=1) ** 2) + np.mean(np.diff(f, axis=0) ** 2)))


def base_ag(f, a, b):
    gy, gx = np.gradient(f)
    return float(np.sqrt((gx * gx + gy * gy) / 2).sum() / ((f.shape[0] - 1) * (f.shape[1] - 1)))


def _sobel_strength_orientation(x):
    sx = scipy.signal.convolve2d(x, np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]), mode="same")
    sy = scipy.signal.convolve2d(x, np.array([[1.0, 2, 1], [0, 0, 0], [-1, -2, -1]]), mode="same")
    g = np.sqrt(sx * sx + sy * sy)
    with np.errstate(divide="ignore", invalid="ignore"):
        angle = np.where(sx == 0, np.pi / 2, np.arctan(sy / sx))
    return g, angle


def base_qabf(f, a, b):
    gf, af = _sobel_strength_orientation(f)
    total, weights = 0.0, 0.0
    for src in (a, b):
        gs, as_ = _sobel_strength_orientation(src)
        with np.errstate(divide="ignore", invalid="ignore"):
            strength = np.where(gs > gf, gf / gs, np.where(gs < gf, gs / gf, gf))
        orientation = 1 - np.abs(as_ - af) / (np.pi / 2)
        q = 0.9994 / (1 + np.exp(-15 * (strength - 0.5))) * 0.9879 / (1 + np.exp(-22 * (orientation - 0.8)))
        total += (q * gs).sum()
        weights += gs.sum()
    return float(total / weights)


def base_scd(f, a, b):
    return _corr(f - b, a) + _corr(f - a, b)


def base_ssim(f, a, b):
    opts = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    return (structural_similarity(f, a, **opts) + structural_similarity(f, b, **opts)) / 2


def _ssim_cs(x, y):
    window, c1, c2 = _gaussian(11, 1.5), (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = _filter2(window, x), _filter2(window, y)
    vx, vy = _filter2(window, x * x) - mx * mx, _filter2(window, y * y) - my * my
    cov = _filter2(window, x * y) - mx * my
    cs = (2 * cov + c2) / (vx + vy + c2)
    return ((2 * mx * my + c1) / (mx * mx + my * my + c1) * cs).mean(), cs.mean()


def _halve(x):
    x = np.pad(x, ((0, x.shape[0] % 2), (0, x.shape[1] % 2)), mode="symmetric")
    return (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2]) / 4


def base_ms_ssim(f, a, b):
    weights = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
    values = []
    for src in (a, b):
        x, y, value = f, src, 1.0
        for scale, w in enumerate(weights):
            ssim_mean, cs_mean = _ssim_cs(x, y)
            value *= (ssim_mean if scale == len(weights) - 1 else cs_mean) ** w
            x, y = _halve(x), _halve(y)
        values.append(value)
    return sum(values) / 2


def base_cc(f, a, b):
    return (_corr(f, a) + _corr(f, b)) / 2


def base_mse(f, a, b):
    return (np.mean((f - a) ** 2) + np.mean((f - b) ** 2)) / 2


def base_psnr(f, a, b):
    return 10 * math.log10(255**2 / base_mse(f, a, b))


def _vid_vind_g(ref, dist, sigma_nsq):
    out = []
    for scale in range(1, 5):
        n = 2 ** (4 - scale + 1) + 1
        win = _gaussian(n, n / 5)
        if scale > 1:
            ref, dist = _filter2(win, ref)[::2, ::2], _filter2(win, dist)[::2, ::2]
        mu1, mu2 = _filter2(win, ref), _filter2(win, dist)
        s1 = np.maximum(_filter2(win, ref * ref) - mu1 * mu1, 0)
        s2 = np.maximum(_filter2(win, dist * dist) - mu2 * mu2, 0)
        s12 = _filter2(win, ref * dist) - mu1 * mu2
        g = s12 / (s1 + 1e-10)
        sv = s2 - g * s12
        m = s1 < 1e-10
        g[m], sv[m], s1[m] = 0, s2[m], 0
        m = s2 < 1e-10
        g[m], sv[m] = 0, 0
        m = g < 0
        sv[m], g[m] = s2[m], 0
        sv[sv <= 1e-10] = 1e-10
        out.append((np.log10(1 + g * g * s1 / (sv + sigma_nsq)), np.log10(1 + s1 / sigma_nsq), g))
    return out


def base_vif(f, a, b):
    maps_a, maps_b = _vid_vind_g(a, f, 0.005 * 255**2), _vid_vind_g(b, f, 0.005 * 255**2)
    total = 0.0
    for p, (na, da, ga), (nb, db, gb) in zip(np.array([1, 0, 0.15, 1]) / 2.15, maps_a, maps_b):
        use_a = ga < gb
        total += p * np.sum(np.where(use_a, na, nb) + 1e-7) / np.sum(np.where(use_a, da, db) + 1e-7)
    return float(total)


def base_vifp(f, a, b):
    return sum(sum(n.sum() for n, _, _ in m) / sum(d.sum() for _, d, _ in m)
               for m in (_vid_vind_g(a, f, 2.0), _vid_vind_g(b, f, 2.0)))


def _piella(a, b, f, weighted):
    window, c1, c2 = _gaussian(11, 1.5), (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def stats(x, y):
        mx, my = _filter2(window, x), _filter2(window, y)
        vx, vy = _filter2(window, x * x) - mx * mx, _filter2(window, y * y) - my * my
        cov = _filter2(window, x * y) - mx * my
        return ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2)), vx, vy

    _, va, vb = stats(a, b)
    va, vb = np.where(np.abs(va) < 1e-9, 0, va), np.where(np.abs(vb) < 1e-9, 0, vb)
    flat = (va + vb == 0) * 0.5
    va, vb = va + flat, vb + flat
    lam = va / (va + vb)
    q = lam * stats(f, a)[0] + (1 - lam) * stats(f, b)[0]
    if not weighted:
        return float(q.mean())
    c = np.maximum(va, vb)
    return float((c / c.sum() * q).sum())


def _edges(x):
    k = np.array([[1.0, 0, -1], [1, 0, -1], [1, 0, -1]])
    return np.hypot(_filter2(k, x, "same"), _filter2(k.T, x, "same"))


def base_q(f, a, b):
    return _piella(a, b, f, weighted=False)


def base_qw(f, a, b):
    return _piella(a, b, f, weighted=True)


def base_qe(f, a, b):
    return _piella(a, b, f, weighted=True) * _piella(_edges(a), _edges(b), _edges(f), weighted=True)


def _normalize1(x):
    return np.floor((x - x.min()) / (x.max() - x.min()) * 255 + 0.5)


def _freq_radius(height, width, divisor):
    def axis(n):
        return (np.arange(n) - n // 2) * (2 / n) * (n / divisor)

    v, u = np.meshgrid(axis(height), axis(width), indexing="ij")
    return np.sqrt(u * u + v * v)


def _csf_filter(x, response):
    return np.real(np.fft.ifft2(np.fft.ifftshift(np.fft.fftshift(np.fft.fft2(x)) * response)))


def base_qcb(f, a, b):
    images = [_normalize1(x) for x in (a, b, f)]
    r = _freq_radius(*f.shape, 30)
    csf = np.exp(-(r / 15.3870) ** 2) - 0.7622 * np.exp(-(r / 1.3456) ** 2)
    y, x = np.mgrid[-15:16, -15:16]
    g1, g2 = (np.exp(-(x * x + y * y) / (2 * s * s)) / (2 * np.pi * s * s) for s in (2.0, 4.0))
    contrasts = []
    for image in images:
        filtered = _csf_filter(image, csf)
        c = np.abs(_filter2(g1, filtered, "same") / _filter2(g2, filtered, "same") - 1)
        contrasts.append(c**3 / (c**2 + 1e-4))
    ca, cb, cf = contrasts
    with np.errstate(divide="ignore", invalid="ignore"):
        qa = np.where(np.maximum(ca, cf) > 0, np.minimum(ca, cf) / np.maximum(ca, cf), 1)
        qb = np.where(np.maximum(cb, cf) > 0, np.minimum(cb, cf) / np.maximum(cb, cf), 1)
        total = ca * ca + cb * cb
        q = np.where(total > 0, (ca * ca * qa + cb * cb * qb) / total, (qa + qb) / 2)
    return float(q.mean())


def _blocks(x, fn):
    """MATLAB blkproc(x, [16 16], [0 0], fn): zero-padded 16 x 16 blocks, a Python loop."""
    h, w = x.shape
    padded = np.zeros((-(-h // 16) * 16, -(-w // 16) * 16))
    padded[:h, :w] = x
    return np.array([[fn(padded[i:i + 16, j:j + 16]) for j in range(0, padded.shape[1], 16)]
                     for i in range(0, padded.shape[0], 16)])


def base_qcv(f, a, b):
    a, b, f = (_normalize1(x) for x in (a, b, f))
    kx = np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    r = _freq_radius(*f.shape, 8)
    csf = 2.6 * (0.0192 + 0.144 * r) * np.exp(-(0.144 * r) ** 1.1)
    num, den = 0.0, 0.0
    for src in (a, b):
        g = np.hypot(_filter2(kx, src, "same"), _filter2(kx.T, src, "same"))
        saliency = _blocks(g, lambda blk: np.sum(blk**5))
        distortion = _blocks(_csf_filter(src - f, csf), lambda blk: np.mean(blk**2))
        num += (saliency * distortion).sum()
        den += saliency.sum()
    return float(num / den)


def _fmi_pair_reference(x, f):
    """fmi.m's body for one normalised window pair (column-major lists of 9)."""
    n = len(x)
    xp = [v / sum(x) for v in x]
    fp = [v / sum(f) for v in f]
    xc, fc = np.cumsum(xp).tolist(), np.cumsum(fp).tolist()
    xm, fm = sum(xp) / n, sum(fp) / n
    xt, ft = [v - xm for v in xp], [v - fm for v in fp]
    cross = sum(p * q for p, q in zip(xt, ft))
    c = 0.0 if cross == 0 else cross / math.sqrt(sum(p * p for p in xt) * sum(q * q for q in ft))
    e = [sum((i + 1) ** k * p for i, p in enumerate(pdf)) for pdf in (xp, fp) for k in (1, 2)]
    xsd, fsd = math.sqrt(max(e[1] - e[0] ** 2, 0)), math.sqrt(max(e[3] - e[2] ** 2, 0))

    def bound(u, v):
        return 0.5 * (u + v - abs(u - v)) if c >= 0 else 0.5 * (u + v - 1 + abs(u + v - 1))

    if c == 0 or xsd == 0 or fsd == 0:
        phi = 0.0
    else:
        cov = sum(bound(fc[i], xc[j]) - fc[i] * xc[j] for i in range(n) for j in range(n))
        phi = c / (cov / (fsd * xsd))
    joint = 0.0
    for i in range(n):
        for j in range(n):
            m = bound(fc[i], xc[j]) - (bound(fc[i - 1], xc[j]) if i else 0) - (bound(fc[i], xc[j - 1]) if j else 0)
            m += bound(fc[i - 1], xc[j - 1]) if i and j else 0
            p = phi * m + (1 - phi) * fp[i] * xp[j]
            joint -= p * math.log2(abs(p)) if p != 0 else 0.0
    hx = -sum(p * math.log2(p) for p in xp if p)
    hf = -sum(p * math.log2(p) for p in fp if p)
    mi = hx + hf - joint
    return 0.0 if mi == 0 else 2 * mi / (hx + hf)


def _fmi_window_reference(af, bf, ff, p, q):
    def window(img):
        return img[p - 1:p + 2, q - 1:q + 2].T.ravel().tolist()

    def normalise(w):
        lo, hi = min(w), max(w)
        return [1.0] * len(w) if hi == lo else [(v - lo) / (hi - lo) for v in w]

    a_sub, b_sub, f_sub = window(af), window(bf), window(ff)
    if a_sub == f_sub:
        fmi_af = 1.0
    else:
        a_sub, f_sub = normalise(a_sub), normalise(f_sub)
        fmi_af = _fmi_pair_reference(a_sub, f_sub)
    if b_sub == f_sub:
        fmi_bf = 1.0
    else:
        b_sub, f_sub = normalise(b_sub), normalise(f_sub)
        fmi_bf = _fmi_pair_reference(b_sub, f_sub)
    return (fmi_af + fmi_bf) / 2


def _np_fmi_features(x, feature):
    if feature == "none":
        return x
    if feature == "dct":
        return scipy.fft.dctn(x, norm="ortho")
    c_a, (c_h, c_v, c_d) = pywt.dwt2(x, "dmey", mode="symmetric")
    y = np.block([[c_a, c_h], [c_v, c_d]])
    return (y - y.min()) / (y.max() - y.min())


def base_fmi(f, a, b, feature: str, windows: int, clock: Callable[[], float] = time.perf_counter):
    """Baseline FMI on the first ``windows`` windows only.

    Returns (their mean, windows done, all windows, the estimated seconds for the whole image by ``clock``:
    the feature transform plus the loop time scaled by the window count).
    """
    start = clock()
    af, bf, ff = (_np_fmi_features(x, feature) for x in (a, b, f))
    feature_seconds = clock() - start
    rows, cols = af.shape[0] - 2, af.shape[1] - 2
    done = min(windows, rows * cols)
    start = clock()
    values = [_fmi_window_reference(af, bf, ff, 1 + k // cols, 1 + k % cols) for k in range(done)]
    loop_seconds = clock() - start
    return float(np.mean(values)), done, rows * cols, feature_seconds + loop_seconds * rows * cols / done


BASELINES: dict[str, Callable] = {
    "EN": base_en, "MI": base_mi, "SD": base_sd, "SF": base_sf, "AG": base_ag, "Qabf": base_qabf,
    "SCD": base_scd, "SSIM": base_ssim, "MS_SSIM": base_ms_ssim, "CC": base_cc, "MSE": base_mse,
    "PSNR": base_psnr, "VIF": base_vif, "VIFP": base_vifp, "Q": base_q, "Qw": base_qw, "Qe": base_qe,
    "Qcb": base_qcb, "Qcv": base_qcv,
}
