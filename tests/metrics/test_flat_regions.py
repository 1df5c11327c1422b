"""The three flat-region rows of issue 19: what sets the reference's value there, and what ivif-bench does.

* Q (Piella, default), TNO pair 40: metricPeilla.m's lambda in the windows where both sources are
  flat is a ratio of rounding residues; two summation orders of the same formula give 0.588 and 0.524.
  ivif-bench takes the reference's own rule for zero variances (lambda = 0.5): 0.556.
* VIF (Han VIFF, default), TNO pair 39, max fusion: two scale-4 pixels of a saturated region have a
  fused-image variance within a few rounding steps of the reference's 1e-10 threshold; which side
  they fall on depends on the summation order (8e-4 on the value).
* SSIM (cddfuse): scikit-image computes in float32 with C1, C2 16000 x too small; flat windows make
  the value depend on float32 rounding, which ivif-bench now reproduces.

Octave's values: GNU Octave 7.3 running the unmodified metricPeilla.m + ssim_index.m
(zhengliu6699/imageFusionMetrics) and VIFF_Public.m (Han et al.) on the DIDFuse TNO files.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.ndimage import maximum_filter, minimum_filter
from skimage.metrics import structural_similarity

from datamodules.io import read_image
from metrics.functional._filters import gaussian_taps, separable_correlate_valid
from metrics.functional.conventions import get_functional
from metrics.functional.piella import fusion_quality_index
from metrics.functional.vif import vif_maps, visual_information_fidelity_fusion

pytestmark = pytest.mark.usefixtures("one_thread")

TNO = "IVIF-DIDFuse/Datasets/Test_data_TNO"
OCTAVE_Q_40 = 0.5880121142896686  # metricPeilla(IR40, VIS40, F40, 1)
OCTAVE_VIFF_39_MAX = 0.25012771795875099  # VIFF_Public(IR39, VIS39, max(IR39, VIS39))


def _images(data_root, k: int):
    ir, vis = (read_image(data_root / TNO / f"{name}{k}.bmp").astype(np.float64) for name in ("IR", "VIS"))
    fused = read_image(data_root / "IVIF-DIDFuse/Test_result/TNO_IJCAI" / f"F{k}.png").astype(np.float64)
    return fused, ir, vis


def _t(levels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(levels / 255)[None, None]


def _flat(x: np.ndarray, size: int) -> np.ndarray:
    """Windows ('valid') whose size x size pixels are all equal."""
    h = size // 2
    return (maximum_filter(x, size) == minimum_filter(x, size))[h:-h, h:-h]


def _window(size: int, sigma: float, renormalise: bool = False) -> np.ndarray:
    """Octave's fspecial('gaussian', size, sigma) to the last bit: libm exp, divided by its left-to-right sum
    (column-major); ``renormalise``: then divided by sum(sum(.)) again, as ssim_index.m does."""
    half = (size - 1) / 2
    grid = [[math.exp(-((i - half) ** 2 + (j - half) ** 2) / (2 * sigma**2)) for j in range(size)] for i in range(size)]
    window = np.array(grid)
    total = 0.0
    for value in window.T.ravel():  # f(:) is column-major
        total += value
    window = window / total
    if renormalise:
        columns = [sum_left_to_right(window[:, j]) for j in range(size)]
        window = window / sum_left_to_right(columns)
    return window


def sum_left_to_right(values) -> float:
    total = 0.0
    for value in values:
        total += float(value)
    return total


def _filter2_octave(x: np.ndarray, window: np.ndarray) -> np.ndarray:
    """filter2(window, x, 'valid') summed as Octave's conv2 does: liboctave's dconv2i adds window column v,
    then row u, from the last to the first, each as a BLAS daxpy, which OpenBLAS computes with fused
    multiply-adds (torch's ``add_(alpha=)`` on this CPU; it reproduces Octave's variances on pair 39)."""
    m = window.shape[0]
    source = torch.from_numpy(np.ascontiguousarray(x))
    h, w = x.shape[0] - m + 1, x.shape[1] - m + 1
    out = torch.zeros(h, w, dtype=torch.float64)
    for v in range(m - 1, -1, -1):
        for u in range(m - 1, -1, -1):
            out.add_(source[u:u + h, v:v + w], alpha=float(window[u, v]))
    return out.numpy()


def _filter2_torch(x: np.ndarray, window: np.ndarray) -> np.ndarray:
    """The same filter as ivif-bench sums it: two 1-D passes of fused multiply-adds."""
    taps = gaussian_taps(window.shape[0], 1.5)
    return separable_correlate_valid(torch.from_numpy(x)[None, None], taps, taps)[0, 0].numpy()


def _metric_peilla(ir, vis, fused, filt, exact_zeros: bool = False) -> tuple[float, np.ndarray]:
    """metricPeilla(ir, vis, fused, 1) with ssim_index.m's statistics from ``filt``; (Q, lambda map).

    ``exact_zeros``: source variances below the rounding residue of a constant window (negative ones
    included) are set to 0, the value exact arithmetic gives, so that ``buffer == 0`` fires where both are.
    """
    window = _window(11, 1.5, renormalise=True)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def ssim_map(a, b):
        mu_a, mu_b = filt(a, window), filt(b, window)
        var_a, var_b = filt(a * a, window) - mu_a**2, filt(b * b, window) - mu_b**2
        cov = filt(a * b, window) - mu_a * mu_b
        ssim = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
        return ssim, var_a, var_b

    _, var_ir, var_vis = ssim_map(ir, vis)
    if exact_zeros:
        residue = 64 * np.finfo(np.float64).eps * 255**2
        var_ir, var_vis = np.where(var_ir < residue, 0.0, var_ir), np.where(var_vis < residue, 0.0, var_vis)
    test = (var_ir + var_vis == 0) * 0.5
    lam = (var_ir + test) / (var_ir + var_vis + 2 * test)
    return float(np.mean(lam * ssim_map(fused, ir)[0] + (1 - lam) * ssim_map(fused, vis)[0])), lam


def test_piella_q_pair_40_is_set_by_rounding(data_root):
    fused, ir, vis = _images(data_root, 40)
    flat = _flat(ir, 11) & _flat(vis, 11)
    assert flat.mean() == pytest.approx(0.0735, abs=1e-4)  # 7 % of the windows: IR 1 and VIS 255 throughout
    assert set(ir[5:-5, 5:-5][flat]) == {1.0} and set(vis[5:-5, 5:-5][flat]) == {255.0}

    q_octave, lam_octave = _metric_peilla(ir, vis, fused, _filter2_octave)
    q_torch, lam_torch = _metric_peilla(ir, vis, fused, _filter2_torch)
    assert q_octave == pytest.approx(OCTAVE_Q_40, rel=1e-9)  # Octave's order reproduces Octave
    # the residues: Octave's order leaves VIS (255) a larger one than IR (1): lambda ~ 0, the VIS term;
    # two 1-D passes of fused multiply-adds leave VIS none at all: lambda = 1, the IR term
    assert np.abs(lam_octave[flat]).max() < 1e-4 and (lam_torch[flat] == 1).all()
    assert q_torch == pytest.approx(0.52355, abs=1e-5)

    # ivif-bench: the reference's rule for zero variances, which exact arithmetic would make fire
    q_exact, lam_exact = _metric_peilla(ir, vis, fused, _filter2_octave, exact_zeros=True)
    assert (lam_exact[flat] == 0.5).all()
    ours = fusion_quality_index(_t(fused), _t(ir), _t(vis)).item()
    assert ours == pytest.approx(q_exact, rel=1e-10)
    assert q_torch < ours < q_octave and abs(ours - OCTAVE_Q_40) / OCTAVE_Q_40 == pytest.approx(0.0548, abs=5e-4)


def test_viff_pair_39_max_is_set_by_rounding(data_root):
    _, ir, vis = _images(data_root, 39)
    fused = np.maximum(ir, vis)

    # the fused image at scale 4 (three filter + decimate steps) and its local variance
    def scale4_variance(filt):
        x = fused
        for n in (9, 5, 3):
            x = filt(x, _window(n, n / 5))[::2, ::2]
        window = _window(3, 3 / 5)
        return filt(x * x, window) - filt(x, window) ** 2

    def ivif_bench_filter(x, window):
        taps = gaussian_taps(window.shape[0], window.shape[0] / 5)
        return separable_correlate_valid(torch.from_numpy(x)[None, None], taps, taps)[0, 0].numpy()

    pixels = [(47, 51), (50, 16)]  # in the saturated (255) sky of the VIS image; 0-based
    octave_order, ours_order = scale4_variance(_filter2_octave), scale4_variance(ivif_bench_filter)
    ulp = np.spacing(255.0**2)  # the rounding step of E[x^2] at level 255
    for pixel in pixels:
        # Octave printed 1.1641532182693481e-10 at both (filter2 in VIFF_Public.m's steps)
        assert octave_order[pixel] == 1.1641532182693481e-10
        assert abs(octave_order[pixel] - ours_order[pixel]) <= 4 * ulp  # the same value to a few roundings
    # ...on either side of the reference's flat test (sigma2_sq < 1e-10 -> gain 0, no information):
    # ivif-bench's order puts both pixels below, Octave's above, and that alone moves VIF by 8e-4
    ours = visual_information_fidelity_fusion(_t(fused), _t(ir), _t(vis)).item()
    g = vif_maps(torch.cat([_t(ir), _t(vis)], dim=1) * 255, _t(fused) * 255, 0.005 * 255**2)[3][2][0]
    below = all(ours_order[pixel] < 1e-10 for pixel in pixels)
    assert below == all((g[:, r, c] == 0).all() for r, c in pixels)
    if below:
        assert abs(ours - OCTAVE_VIFF_39_MAX) / OCTAVE_VIFF_39_MAX == pytest.approx(8.2e-4, abs=5e-5)
    else:
        assert ours == pytest.approx(OCTAVE_VIFF_39_MAX, rel=1e-4)


def test_cddfuse_ssim_follows_float32(data_root):
    """Evaluator.SSIM on CDDFuse's float32 images; float64 arithmetic gives another value on pair 40."""
    fused, ir, vis = _images(data_root, 40)

    def reference(dtype):
        return sum(structural_similarity(fused.astype(dtype), s.astype(dtype), data_range=2) for s in (ir, vis))

    ours = get_functional("SSIM", "cddfuse")(_t(fused), _t(ir), _t(vis)).item()
    assert ours == pytest.approx(reference(np.float32), rel=1e-12)
    assert abs(reference(np.float64) - ours) / ours == pytest.approx(3.1e-4, abs=2e-5)
