"""Colour against the reference codes: values of VIFB's, Tang's and CDDFuse's own code, pinned.

Fusions built deterministically from two VIFB pairs (``walking``: IR stored as an RGB
JPEG with equal channels; ``running``: IR stored gray), see
:func:`benchmarks.verify.octave_vifb_color.constructed_fusions`:

* ``mean_rgb``: ceil((VIS_k + IR_k) / 2) per channel, a colour fused image;
* ``mean_gray``: ceil((VIS_G + IR) / 2), a gray fused image with colour sources.

Pinned: VIFB's unmodified ``metrics*.m`` and Tang's ``analysis_Reference.m`` (``easy = 1``,
after the ``rgb2gray`` of its ``Evaluation_for_*.m``) in GNU Octave 7.3, with MATLAB's
``rgb2gray`` (Octave's differs); CDDFuse's ``Evaluator.py`` on its ``image_read_cv2(path,
'GRAY')`` images (OpenCV 4.6, the float32 kernel). Produced by
``python -m benchmarks.verify.octave_vifb_color --vifb-dir VIFB --tang-dir TANG --cddfuse-dir CDDFUSE
--skip own,decoders --pin``. NaN: the reference fails (VIFB's Qcb / Qcv on a gray fused image
with colour sources).
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from benchmarks.verify.octave_vifb_color import as_tensor, constructed_fusions
from datamodules.io import read_image
from metrics.functional.conventions import get_functional

pytestmark = pytest.mark.usefixtures("one_thread")

REFERENCE = {
    ("running_mean_gray", "vifb"): {
        "AG": 4.283161151399342, "CE": 0.834653504093587, "EI": 44.27063839900934, "EN": 6.796630006327526,
        "MI": 2.589402616085099, "PSNR": 56.02299802415942, "Qabf": 0.40476836451866227, "Qcb": math.nan,
        "Qcv": math.nan, "RMSE": 0.16247276013381262, "SD": 33.06392036833848, "SF": 12.431430905629348,
        "SSIM": 1.4021722665740923,
    },
    ("running_mean_gray", "tang"): {
        "AG": 4.283161151399342, "CC": 0.5552564799645687, "EN": 6.796630006327526, "MI": 3.736133517534652,
        "MSE": 0.034160820187268987, "PSNR": 62.79552071493541, "Qabf": 0.40419302157871073,
        "SCD": 1.6777360325542507, "SD": 33.06392036833848, "SF": 12.453759722252283, "VIF": 0.5710838607643838,
    },
    ("running_mean_gray", "cddfuse"): {
        "AG": 4.253291606903076, "CC": 0.5552574396133423, "EN": 6.796630006327526, "MI": 2.5894508579591395,
        "MSE": 2221.292724609375, "PSNR": 14.065481199474334, "Qabf": 0.4042067527770996, "SCD": 1.6777338981628418,
        "SD": 33.06392288208008, "SF": 12.453760147094727, "SSIM": 0.9987086935213407, "VIF": 0.5710859417937185,
    },
    ("running_mean_rgb", "vifb"): {
        "AG": 4.273828955774241, "CE": 1.0522473671125483, "EI": 44.12122285552838, "EN": 6.757936449447549,
        "MI": 2.386350072338478, "PSNR": 55.67462652051029, "Qabf": 0.3770722338602652, "Qcb": 0.5176181303862318,
        "Qcv": 886.8885332228492, "RMSE": 0.176554865272354, "SD": 33.29313279204697, "SF": 12.747780415107997,
        "SSIM": 1.3779662217772344,
    },
    ("running_mean_rgb", "tang"): {
        "AG": 4.116632328874934, "CC": 0.5635198593525268, "EN": 6.697771832681584, "MI": 3.3354763858364453,
        "MSE": 0.031733161659396346, "PSNR": 63.115670166961195, "Qabf": 0.37752120523419264,
        "SCD": 1.6441168035322613, "SD": 30.949372261864163, "SF": 12.097117392077894, "VIF": 0.547905193461592,
    },
    ("running_mean_rgb", "cddfuse"): {
        "AG": 4.08773136138916, "CC": 0.5635154247283936, "EN": 6.697610982532061, "MI": 2.3110930410738,
        "MSE": 2063.42529296875, "PSNR": 13.936281285796772, "Qabf": 0.37755152583122253, "SCD": 1.6439836025238037,
        "SD": 30.944562911987305, "SF": 12.097076416015625, "SSIM": 1.0229661587209615, "VIF": 0.5479379325621834,
    },
    ("walking_mean_gray", "vifb"): {
        "AG": 5.299815258955451, "CE": 0.9130122634888213, "EI": 53.32779333195589, "EN": 7.079556623172932,
        "MI": 1.7430936341327374, "PSNR": 55.964223064839246, "Qabf": 0.3419139383582133, "Qcb": math.nan,
        "Qcv": math.nan, "RMSE": 0.16468652069759734, "SD": 35.92480980058211, "SF": 16.663446694161646,
        "SSIM": 1.3310232580865122,
    },
    ("walking_mean_gray", "tang"): {
        "AG": 5.299815258955451, "CC": 0.6826139392429525, "EN": 7.079556623172932, "MI": 2.5150958298982378,
        "MSE": 0.03204134217208125, "PSNR": 63.07369661017507, "Qabf": 0.3422913473024863, "SCD": 1.4412606040968985,
        "SD": 35.92480980058211, "SF": 16.695498163976737, "VIF": 0.3721637724009609,
    },
    ("walking_mean_gray", "cddfuse"): {
        "AG": 5.261240005493164, "CC": 0.6826138496398926, "EN": 7.079556623172932, "MI": 1.7430936341336098,
        "MSE": 2083.48828125, "PSNR": 14.84010019487705, "Qabf": 0.34229135513305664, "SCD": 1.4412604570388794,
        "SD": 35.924808502197266, "SF": 16.695497512817383, "SSIM": 0.9961621843817174, "VIF": 0.3721637724010077,
    },
    ("walking_mean_rgb", "vifb"): {
        "AG": 5.304264839709936, "CE": 0.9174748422580551, "EI": 53.395994321140364, "EN": 7.0648235298710285,
        "MI": 1.768161528447429, "PSNR": 55.931981713574764, "Qabf": 0.34377719135588514, "Qcb": 0.41726243559957665,
        "Qcv": 798.2303921266325, "RMSE": 0.1659367377189048, "SD": 35.401282181909544, "SF": 16.729490579055962,
        "SSIM": 1.330616942802263,
    },
    ("walking_mean_rgb", "tang"): {
        "AG": 5.290480818775279, "CC": 0.6831108428494721, "EN": 7.063991096494423, "MI": 2.538510865675679,
        "MSE": 0.03199307067393951, "PSNR": 63.080244354837816, "Qabf": 0.34324321739882707,
        "SCD": 1.4178440324386092, "SD": 35.20169420500019, "SF": 16.6670963879416, "VIF": 0.37096973260161187,
    },
    ("walking_mean_rgb", "cddfuse"): {
        "AG": 5.251962661743164, "CC": 0.6831108331680298, "EN": 7.063991785600361, "MI": 1.7593648317230175,
        "MSE": 2080.349365234375, "PSNR": 14.881047676520904, "Qabf": 0.343243271112442, "SCD": 1.4178435802459717,
        "SD": 35.20167922973633, "SF": 16.667112350463867, "SSIM": 0.9966519476038618, "VIF": 0.37096970852981204,
    },
}

# Relative tolerance per convention: VIFB's and Tang's code run in float64 (summation order: ~1e-12);
# CDDFuse's in float32 (~1e-7; its SSIM's tiny C1, C2: ~4e-6).
RTOL = {"vifb": 1e-10, "tang": 1e-10, "cddfuse": 1e-5}
# VIFB Qabf with a gray fused image and colour sources: rgb2gray of the sources on double (not rounded) makes
# Sobel responses that are 0 come out +-1e-11 in one summation order and 0 in another, and atan(sy / sx) then
# flips by pi: the reference's value is set by conv2's roundoff (docs/conventions.md, Colour).
ROUNDOFF_SET = {("walking_mean_gray", "vifb", "Qabf"): 1e-3, ("running_mean_gray", "vifb", "Qabf"): 3e-3}


@pytest.fixture(scope="module")
def fusions(data_root):
    images = {}
    for pair in ("walking", "running"):
        vis = read_image(data_root / "VIFB/input/VI" / f"{pair}.jpg", mode="native")
        ir = read_image(data_root / "VIFB/input/IR" / f"{pair}.jpg", mode="native")
        for kind, fused in constructed_fusions(vis, ir).items():
            images[f"{pair}_{kind}"] = (as_tensor(fused), as_tensor(ir), as_tensor(vis))
    return images


def test_the_fusions_are_the_pinned_ones(fusions):
    """The images the values were pinned on: shapes, channels and the sum of their 8-bit levels."""
    sums = {"walking_mean_rgb": 27289922, "walking_mean_gray": 8970139, "running_mean_rgb": 33851862,
            "running_mean_gray": 12212688}
    for case, total in sums.items():
        f, a, b = fusions[case]
        assert int(torch.round(f * 255).sum()) == total and b.shape[1] == 3
    assert fusions["walking_mean_rgb"][0].shape == (1, 3, 240, 320) and fusions["walking_mean_gray"][0].shape[1] == 1
    assert fusions["walking_mean_rgb"][1].shape[1] == 3 and fusions["running_mean_rgb"][1].shape[1] == 1


@pytest.mark.parametrize(("case", "convention"), list(REFERENCE))
def test_colour_reproduces_the_reference_code(case, convention, fusions):
    f, a, b = fusions[case]
    for name, expected in REFERENCE[(case, convention)].items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = get_functional(name, convention)(f, a, b).item()
        if math.isnan(expected):
            assert math.isnan(value), name
            continue
        rtol = ROUNDOFF_SET.get((case, convention, name), RTOL[convention])
        assert value == pytest.approx(expected, rel=rtol), name
