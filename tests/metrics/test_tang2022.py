"""The tang2022 convention: Octave's values of the pre-2023 analysis_Reference.m pinned, and each quirk on real images.

The pinned values are GNU Octave 7.3 running Linfeng-Tang/Evaluation-for-Image-Fusion's
``Evaluation/*.m`` at 553c1d5 (before the 2023-03-03 rewrite), ``analysis_Reference(F, IR, VIS, 1)``
on the repository's TNO pairs with its IFCNN fusions (``benchmarks/verify/octave_tang2022.py``
reproduces them given ``--tang-dir``).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from datamodules.datasets import list_datasets
from datamodules.io import read_image
from metrics import get_metric, get_metric_info, list_metrics
from metrics.evaluate import evaluate_folder
from metrics.functional.conventions import get_functional
from metrics.functional.tang2022 import tang2022_standard_deviation

pytestmark = pytest.mark.usefixtures("one_thread")

TANG = "Evaluation-for-Image-Fusion/Image"
NAMES = ["SD", "PSNR", "MSE", "MI", "VIF", "AG", "CC", "SCD", "EN", "Qabf", "SF"]
# Octave 7.3, printf('%.17g'), in the order of NAMES
OCTAVE = {
    "05": (8.2860922019726431, 62.916546975432524, 0.033221991541714714, 2.2790418461673099, 0.65122543234417674,
           10.432166945952243, 0.42008400935771428, 1.8763913072615126, 7.1646377680935318, 0.5701880180236325,
           0.097821330526285263),
    "08": (8.2903859540782623, 69.88666167201049, 0.0066744301695862186, 3.6920219294673906, 1.1351484590485343,
           8.7840029502786425, 0.86012691888362935, 1.3496290484961051, 6.4840894383920356, 0.64355653082880693,
           0.091887715679837778),
    "11": (9.3057160950039908, 59.715938932391722, 0.069420297040384799, 2.2840798066484673, 0.62928949819305524,
           5.7517502469982178, 0.61800616912219153, 1.8865319234250348, 7.2043877107908676, 0.4190637340928649,
           0.051151487361555573),
}


def _tensor(path) -> torch.Tensor:
    return torch.from_numpy(read_image(path)).double().div(255)[None, None]


def _pair(data_root, pair: str, fused: str = "IFCNN_TNO"):
    root = data_root / TANG
    return (_tensor(root / "Algorithm" / fused / f"{pair}.png"), _tensor(root / "Source-Image/TNO/ir" / f"{pair}.png"),
            _tensor(root / "Source-Image/TNO/vi" / f"{pair}.png"))


@pytest.fixture(scope="module")
def tang_tno(data_root, tmp_path_factory):
    """The 42 TNO pairs of the repository: the registered dataset, or a folder with ir/ + vis/ linking to them."""
    if "tang_tno" in list_datasets():
        return "tang_tno"
    folder = tmp_path_factory.mktemp("tang_tno")
    sources = data_root / TANG / "Source-Image" / "TNO"
    os.symlink(sources / "ir", folder / "ir")
    os.symlink(sources / "vi", folder / "vis")
    return folder


def test_the_eleven_metrics_of_the_old_code():
    assert list_metrics("tang2022") == NAMES
    # the metrics whose inputs did not change in 2023 are tang's (or default's) own classes
    for name in ("PSNR", "MSE", "MI", "CC"):
        assert get_metric_info(name, "tang2022").metric_class is get_metric_info(name, "tang").metric_class
    for name in ("AG", "SCD", "EN"):
        assert get_metric_info(name, "tang2022").metric_class is get_metric_info(name).metric_class
    for name in ("SD", "SF", "VIF", "Qabf"):
        assert get_metric_info(name, "tang2022").metric_class is not get_metric_info(name, "tang").metric_class
    with pytest.raises(KeyError, match="SSIM"):
        get_metric("SSIM", convention="tang2022")


def test_evaluate_reproduces_octave(data_root, tang_tno):
    """``ivif-bench evaluate FUSED --dataset tang_tno --convention tang2022``'s code path, three pairs."""
    table = evaluate_folder(data_root / TANG / "Algorithm" / "IFCNN_TNO", tang_tno, data_root=data_root,
                            ids=sorted(OCTAVE), convention="tang2022", progress=False)
    assert set(table["convention"]) == {"tang2022"}
    for row in table.itertuples():
        expected = OCTAVE[row.image][NAMES.index(row.metric)]
        assert row.value == pytest.approx(expected, rel=1e-9, abs=0), (row.image, row.metric)


def test_sd_is_uint8_arithmetic(data_root):
    """SD_evaluation on uint8: F - mean clips at 0, the square at 255, ties round away from zero."""
    fused, _, _ = _pair(data_root, "05")
    levels = np.round(fused[0, 0].numpy() * 255)
    mean = np.mean(np.mean(levels, axis=0))
    diff = levels - mean
    above = np.clip(np.where(np.abs(diff - np.trunc(diff)) == 0.5, np.trunc(diff) + np.sign(diff), np.round(diff)),
                    0, 255)
    expected = np.sqrt(np.minimum(above**2, 255).sum() / levels.size)
    assert tang2022_standard_deviation(fused).item() == pytest.approx(expected, rel=1e-15)
    assert expected < np.sqrt(255) < get_functional("SD", "tang")(fused, fused, fused).item()
    # mean 0.5: F - u = -0.5, +0.5 -> uint8 0, 1 (half away from zero; round-half-even would give 0, 0)
    two = torch.tensor([[0.0, 1 / 255]], dtype=torch.float64).view(1, 1, 1, 2)
    assert tang2022_standard_deviation(two).item() == pytest.approx(np.sqrt(0.5), rel=1e-15)


def test_vif_saturates_only_where_products_pass_255(data_root):
    """Below level 16 every uint8 product is < 256: tang2022 VIF is the plain VIFP sum (tang's VIF)."""
    fused, ir, vis = (torch.floor(x * 255 / 16) / 255 for x in _pair(data_root, "08"))  # levels 0..15
    dark = [get_functional("VIF", c)(fused, ir, vis).item() for c in ("tang2022", "tang")]
    assert dark[0] == pytest.approx(dark[1], rel=1e-12)
    fused, ir, vis = _pair(data_root, "08")
    bright = [get_functional("VIF", c)(fused, ir, vis).item() for c in ("tang2022", "tang")]
    assert abs(bright[0] - bright[1]) > 0.05 * bright[1]


def test_sf_is_default_over_255_and_qabf_punishes_exact_copies(data_root):
    fused, ir, vis = _pair(data_root, "11")
    assert get_functional("SF", "tang2022")(fused, ir, vis).item() == pytest.approx(
        get_functional("SF", "default")(fused, ir, vis).item() / 255, rel=1e-13)
    # F = IR: g_IR == g_F at every pixel; on the [0, 1] scale the tie strength g_F is small, so the copy
    # scores far below the 0-255-scale value of default Qabf
    old, new = (get_functional("Qabf", c)(ir, ir, vis).item() for c in ("tang2022", "default"))
    assert old < 0.5 * new
