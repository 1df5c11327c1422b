"""Colour rules (metrics/color.py): the conversions against their references, and how each rule is applied.

The conversions are checked against PIL (installed) and against OpenCV values pinned
here (OpenCV is not a dependency); the rules' logic on real VIFB colour pairs. The
reference codes' values on colour images are pinned in ``test_color_reference.py``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from datamodules.io import read_image
from metrics import get_metric, get_metric_info, list_metrics
from metrics.color import (GRAY, RULES, apply_color_rule, matlab_rgb2gray, opencv_gray, pil_l, to_gray)
from metrics.evaluate import evaluate_folder, evaluate_tensors
from metrics.functional.conventions import get_functional

pytestmark = pytest.mark.usefixtures("one_thread")


def _t(image: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(image)).double().div(255)
    return t.permute(2, 0, 1).unsqueeze(0) if t.ndim == 3 else t.view(1, 1, *t.shape)


def _levels(x: torch.Tensor) -> np.ndarray:
    return torch.round(x * 255).long().numpy()


@pytest.fixture(scope="module")
def colours() -> np.ndarray:
    """2^18 random colours and the 256 grays, as a 1025 x 256 x 3 uint8 image."""
    rng = np.random.default_rng(19)
    v = np.arange(256, dtype=np.uint8)
    return np.concatenate([rng.integers(0, 256, (1024, 256, 3), dtype=np.uint8), np.stack([v, v, v], -1)[None]])


def test_pil_l_is_pils_l_and_the_networks_y(colours):
    from datamodules.color import rgb_to_ycbcr

    pil = np.asarray(Image.fromarray(colours).convert("L"))
    assert np.array_equal(_levels(pil_l(_t(colours)))[0, 0], pil)
    assert np.array_equal(rgb_to_ycbcr(colours)[..., 0], pil)  # the Y the networks fuse
    pil_ycbcr_y = np.asarray(Image.fromarray(colours).convert("YCbCr"))[..., 0]
    assert (pil != pil_ycbcr_y).mean() > 0.4  # not Pillow's "YCbCr" Y, which floors
    grays = colours[-1:]
    assert np.array_equal(_levels(to_gray(_t(grays), "pil-l"))[0, 0], grays[..., 0])  # grays keep their levels


def test_matlab_rgb2gray_is_the_yiq_row_rounded(colours):
    weights = np.linalg.inv(np.array([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.106, 1.703]]))[0]
    exact = colours.astype(np.float64) @ weights
    assert np.array_equal(_levels(matlab_rgb2gray(_t(colours)))[0, 0], np.floor(exact + 0.5))
    unrounded = matlab_rgb2gray(_t(colours), integer=False)[0, 0].numpy() * 255
    np.testing.assert_allclose(unrounded, exact, rtol=1e-13, atol=1e-11)


# OpenCV 4.6 (the float kernel CDDFuse's reader runs, np.round after) on colours where the order of its float32
# operations matters, or where its 8-bit fixed-point kernel (not used by CDDFuse) would differ: cv2's outputs.
OPENCV_46 = {(48, 114, 195): 104, (133, 179, 190): 167, (97, 253, 149): 194, (56, 84, 232): 93, (8, 74, 155): 63,
             (203, 215, 207): 211, (234, 196, 13): 186, (135, 79, 33): 90, (160, 76, 132): 108, (140, 28, 186): 80,
             (166, 24, 77): 72, (144, 238, 217): 208, (10, 200, 30): 124, (0, 0, 0): 0, (255, 255, 255): 255}


def test_opencv_gray_is_cv2_float_kernel():
    rgb = np.array(list(OPENCV_46), dtype=np.uint8)[None]
    assert _levels(opencv_gray(_t(rgb)))[0, 0, 0].tolist() == list(OPENCV_46.values())


def test_gray_inputs_reach_the_metric_untouched(data_root):
    vis = read_image(data_root / "VIFB/input/VI/walking.jpg", mode="gray")[:64, :64]
    ir = read_image(data_root / "VIFB/input/IR/running.jpg", mode="native")[:64, :64]
    f, a, b = _t(((vis.astype(np.uint16) + ir + 1) // 2).astype(np.uint8)), _t(ir), _t(vis)
    for convention in ("default", "vifb", "cddfuse", "tang"):
        for name in list_metrics(convention):
            if name.startswith("FMI") or name in ("MS_SSIM", "Q", "Qw", "Qe"):
                continue  # slow or size-limited; their gray path is the same call
            info = get_metric_info(name, convention)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                assert torch.equal(get_functional(name, convention)(f, a, b), info.functional(f, a, b)), name


@pytest.fixture(scope="module")
def walking(data_root):
    """VIFB pair 'walking' (VIS colour, IR stored as RGB with equal channels), a colour and a gray fusion."""
    vis = read_image(data_root / "VIFB/input/VI/walking.jpg", mode="native")
    ir = read_image(data_root / "VIFB/input/IR/walking.jpg", mode="native")
    assert vis.ndim == 3 and ir.ndim == 3
    fused = ((vis.astype(np.uint16) + ir + 1) // 2).astype(np.uint8)
    return _t(fused), _t(ir), _t(vis), _t(fused[..., 1])


@pytest.mark.parametrize("name", ["EN", "MI", "PSNR", "SSIM", "Qabf", "CE"])
def test_vifb_colour_fused_is_the_mean_over_channels(name, walking):
    f, a, b, _ = walking
    gray = get_metric_info(name, "vifb").functional
    expected = sum(gray(f[:, k:k + 1], a[:, k:k + 1], b[:, k:k + 1]) for k in range(3)) / 3
    torch.testing.assert_close(get_functional(name, "vifb")(f, a, b), expected, rtol=1e-14, atol=0)
    ir_gray = a[:, :1]  # the same IR stored gray takes the "b1 == 1" branch: same value (equal channels)
    torch.testing.assert_close(get_functional(name, "vifb")(f, ir_gray, b), expected, rtol=1e-14, atol=0)


def test_vifb_sf_folds_the_channels_side_by_side_and_ag_averages_bands(walking):
    f, a, b, _ = walking
    side = torch.cat([f[:, 0:1], f[:, 1:2], f[:, 2:3]], dim=-1)
    sf = get_metric_info("SF", "vifb").functional
    assert torch.equal(get_functional("SF", "vifb")(f, a, b), sf(side))
    assert get_functional("SF", "vifb")(f, a, b) != sum(sf(f[:, k:k + 1]) for k in range(3)) / 3  # not per channel
    ag = get_metric_info("AG", "vifb").functional
    torch.testing.assert_close(get_functional("AG", "vifb")(f, a, b),
                               sum(ag(f[:, k:k + 1]) for k in range(3)) / 3, rtol=1e-14, atol=0)


def test_vifb_gray_fused_with_colour_sources(walking):
    _, a, b, g = walking
    rounded, unrounded = matlab_rgb2gray(b), matlab_rgb2gray(b, integer=False)
    assert not torch.equal(rounded, unrounded)
    mi, psnr = get_metric_info("MI", "vifb").functional, get_metric_info("PSNR", "vifb").functional
    assert torch.equal(get_functional("MI", "vifb")(g, a, b), mi(g, a[:, :1], rounded))  # rgb2gray(uint8)
    assert torch.equal(get_functional("PSNR", "vifb")(g, a, b), psnr(g, matlab_rgb2gray(a, False), unrounded))
    for name in ("Qcb", "Qcv"):  # the .m file fails: NaN, with a warning naming the reason
        with pytest.warns(RuntimeWarning, match="gray fused image with a colour source"):
            assert math.isnan(get_functional(name, "vifb")(g, a, b).item())
    with pytest.warns(RuntimeWarning, match="gray visible image"):  # colour fused, gray VIS: MATLAB index error
        assert math.isnan(get_functional("EN", "vifb")(walking[0], a, b[:, :1]).item())


@pytest.mark.parametrize(("convention", "rule"), [("tang", matlab_rgb2gray), ("cddfuse", opencv_gray),
                                                  ("default", lambda x: to_gray(x, "pil-l"))])
def test_gray_conventions_convert_every_colour_input(convention, rule, walking):
    f, a, b, _ = walking
    for name in ("MI", "SD", "Qabf"):
        gray = get_metric_info(name, convention).functional
        assert torch.equal(get_functional(name, convention)(f, a, b), gray(rule(f), rule(a), rule(b)))


def test_metric_class_and_functional_agree_on_colour(walking):
    f, a, b, g = walking
    for convention, name in (("vifb", "SSIM"), ("vifb", "SF"), ("tang", "MI"), ("cddfuse", "SSIM"), ("default", "EN")):
        metric = get_metric(name, convention)
        assert metric.color_rule == get_metric_info(name, convention).color_rule
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            metric.update(torch.cat([f, f]), torch.cat([a, a]), torch.cat([b, b]))
        assert torch.equal(metric.per_image(), get_functional(name, convention)(f, a, b).repeat(2))


def test_metric_class_says_once_that_it_converts(walking):
    f, a, b, _ = walking
    metric = get_metric("EN", "tang")
    with pytest.warns(UserWarning, match="MATLAB rgb2gray") as caught:
        metric.update(f, a, b)
        metric.update(f, a, b)
    assert sum("evaluates colour images as gray" in str(w.message) for w in caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # per-channel VIFB on a colour fused image converts nothing: silent
        get_metric("EN", "vifb").update(f, a, b)


def test_every_rule_is_documented():
    used = {get_metric_info(n, c).color_rule for c in ("default", "vifb", "cddfuse", "tang") for n in list_metrics(c)}
    assert used <= set(RULES) and {"pil-l", "matlab-rgb2gray", "opencv-gray"} <= used


def test_bad_colour_input_is_named(walking):
    f, a, b, _ = walking
    with pytest.raises(ValueError, match="vis must be N x C x H x W with C = 1"):
        get_functional("EN", "tang")(f, a, torch.cat([b, b[:, :1]], dim=1))
    with pytest.raises(ValueError, match="ir has shape"):
        get_functional("EN", "tang")(f, a[..., :-1], b)


def test_evaluate_reads_colour_and_names_the_rule(data_root, tmp_path):
    folder, fused_dir = tmp_path / "pairs", tmp_path / "fused"
    for sub in ("ir", "vis"):
        (folder / sub).mkdir(parents=True)
    fused_dir.mkdir()
    for pair in ("walking", "running"):  # IR stored RGB / stored gray
        for sub, src in (("ir", "IR"), ("vis", "VI")):
            (folder / sub / f"{pair}.jpg").write_bytes((data_root / "VIFB/input" / src / f"{pair}.jpg").read_bytes())
        vis = read_image(folder / "vis" / f"{pair}.jpg", mode="native")
        Image.fromarray(vis[..., 1]).save(fused_dir / f"{pair}_gray.png")
        Image.fromarray(vis).save(fused_dir / f"{pair}_rgb.png")
    with pytest.warns(UserWarning, match="convention 'tang' evaluates colour images as gray") as caught:
        table = evaluate_folder(fused_dir, folder, pattern="{id}_rgb", metrics="EN,SD", convention="tang",
                                progress=False)
    assert sum("evaluates colour" in str(w.message) for w in caught) == 1  # once per call, not per image
    assert set(table["color_rule"]) == {"matlab-rgb2gray"}
    vis = read_image(folder / "vis" / "walking.jpg", mode="native")
    expected = get_functional("EN", "tang")(_t(vis), _t(vis), _t(vis)).item()  # fused = VIS: its gray's EN
    assert table.query("image == 'walking' and metric == 'EN'")["value"].item() == expected
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the registered dataset, its files in place
        vifb = evaluate_folder(fused_dir, "vifb", data_root=data_root, ids="walking,running", pattern="{id}_gray",
                               metrics="EN,PSNR", convention="vifb", progress=False)
    assert set(vifb["dataset"]) == {"vifb"} and set(vifb["color_rule"]) == {"vifb-channels", "vifb-channels-double"}
    ir = read_image(folder / "ir" / "walking.jpg", mode="native")
    psnr = get_functional("PSNR", "vifb")(_t(vis[..., 1]), _t(ir), _t(vis)).item()  # gray fused, colour sources
    assert vifb.query("image == 'walking' and metric == 'PSNR'")["value"].item() == psnr
    gray = evaluate_tensors(_t(vis[..., 0]), _t(vis[..., 1]), _t(vis[..., 2]), metrics="EN")
    assert list(gray["color_rule"]) == [GRAY]


def test_apply_color_rule_refuses_an_unknown_rule(walking):
    f, a, b, _ = walking
    with pytest.raises(ValueError, match="unknown colour rule"):
        apply_color_rule(get_metric_info("EN").functional, "luma", f, a, b)
