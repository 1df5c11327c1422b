"""The vifb / cddfuse / tang conventions: each (metric, convention) pinned by its distinctive difference.

Every check runs on real TNO images (DIDFuse's released fused outputs against their
sources), as a batch of two, and states what sets the convention apart: a factor, an
offset, a different normaliser, or sameness with ``default`` where the reference code
computes the default formula. The reference codes themselves are compared in
``benchmarks/verify/octave_reference.py`` (Octave and Python, not part of the test suite).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity
from sklearn.metrics import mutual_info_score

from datamodules.io import read_image
from metrics import create_collection, get_metric, get_metric_info, list_conventions, list_metrics
from metrics.functional.conventions import get_functional

EXPECTED = {  # each reference code's metric set (the lists)
    "vifb": {"AG", "CE", "EI", "EN", "MI", "PSNR", "Qabf", "Qcb", "Qcv", "RMSE", "SF", "SSIM", "SD"},
    "cddfuse": {"EN", "SD", "SF", "AG", "MI", "SCD", "VIF", "Qabf", "SSIM", "MSE", "CC", "PSNR"},
    "tang": {"EN", "SD", "SF", "AG", "VIF", "SCD", "CC", "MSE", "PSNR", "MI", "Qabf", "FMI_pixel", "FMI_dct"},
}


pytestmark = pytest.mark.usefixtures("one_thread")


def _load(path, top: int = 0, left: int = 0, size: int = 256) -> torch.Tensor:
    image = read_image(path)[top:top + size, left:left + size]
    return torch.from_numpy(np.ascontiguousarray(image)).double().div(255)[None, None]


@pytest.fixture(scope="module")
def batch(data_root):
    """(fused, ir, vis), N = 2, 256 x 256: TNO pair 8 whole and a crop of pair 3.

    Both sources of both pairs hold levels 254 and 255 (tang's MI merges them); the
    fused images peak below 255 (cddfuse's PSNR peak differs from 255).
    """
    root = data_root / "IVIF-DIDFuse"

    def pair(k, top, left):
        return (_load(root / "Test_result" / "TNO_IJCAI" / f"F{k}.png", top, left),
                _load(root / "Datasets" / "Test_data_TNO" / f"IR{k}.bmp", top, left),
                _load(root / "Datasets" / "Test_data_TNO" / f"VIS{k}.bmp", top, left))

    return tuple(torch.cat(images) for images in zip(pair(8, 0, 0), pair(3, 100, 250)))


def _levels(x: torch.Tensor, i: int) -> np.ndarray:
    return torch.round(x[i, 0] * 255).to(torch.int64).numpy()


def _value(name: str, convention: str, batch) -> torch.Tensor:
    return get_functional(name, convention)(*batch)


def _close(a, b, rtol=1e-12):
    return torch.allclose(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64),
                          rtol=rtol, atol=0)


# --------------------------------------------------------------------- the metric sets

@pytest.mark.parametrize("convention", sorted(EXPECTED))
def test_each_convention_has_exactly_its_references_metrics(convention):
    assert convention in list_conventions()
    assert set(list_metrics(convention)) == EXPECTED[convention]
    assert set(create_collection("all", convention).keys()) == EXPECTED[convention]


@pytest.mark.parametrize(("name", "convention"), [("SSIM", "tang"), ("VIF", "vifb"), ("CE", "cddfuse"),
                                                  ("FMI_w", "tang"), ("RMSE", "default")])
def test_a_metric_the_reference_lacks_is_an_error_listing_what_it_has(name, convention):
    for lookup in (get_metric, get_functional, get_metric_info):
        with pytest.raises(KeyError, match=f"not in convention '{convention}'.*{sorted(list_metrics(convention))[0]}"):
            lookup(name, convention)


def test_unknown_convention_names_the_known_ones():
    with pytest.raises(KeyError, match="cddfuse"):
        get_metric("MI", convention="matlab")


# --------------------------------------------------------------------- same as default

SAME_AS_DEFAULT = [(name, "vifb") for name in ("AG", "EN", "SD", "Qcb", "Qcv")] + \
    [(name, "cddfuse") for name in ("EN", "SD", "SF", "SCD", "Qabf", "MSE", "CC")] + \
    [(name, "tang") for name in ("EN", "SD", "SF", "AG", "SCD", "Qabf")]


@pytest.mark.parametrize(("name", "convention"), SAME_AS_DEFAULT)
def test_metrics_the_reference_computes_as_default(name, convention, batch):
    assert get_metric_info(name, convention).functional is get_metric_info(name).functional
    assert torch.equal(_value(name, convention, batch), _value(name, "default", batch))


@pytest.mark.parametrize("name", ["FMI_pixel", "FMI_dct"])
def test_tang_fmi_is_default_fmi(name, batch):
    crop = tuple(x[..., 100:132, 100:132] for x in batch)  # FMI is the slow one: a 32 x 32 crop
    assert get_metric_info(name, "tang").functional is get_metric_info(name).functional
    assert torch.equal(_value(name, "tang", crop), _value(name, "default", crop))


def test_vifb_qabf_is_default_but_for_its_double_255_scaling(batch):
    # VIFB scales the images by 255 twice; only the g_S == g_F tie case moves (by < 1e-9).
    assert _close(_value("Qabf", "vifb", batch), _value("Qabf", "default", batch), rtol=1e-9)


def test_tang_and_cddfuse_vif_is_the_sheikh_vifp_sum(batch):
    vifp = _value("VIFP", "default", batch)
    assert torch.equal(_value("VIF", "tang", batch), vifp)
    assert _close(_value("VIF", "cddfuse", batch), vifp)
    assert not _close(vifp, _value("VIF", "default", batch), rtol=1e-2)  # default VIF is Han's VIFF


def test_cddfuse_vif_counts_a_constant_source_as_one(batch):
    fused, ir, vis = batch
    flat = torch.full_like(ir, 0.5)
    with pytest.warns(UserWarning, match="VIFP"):
        assert torch.isnan(get_functional("VIFP")(fused, flat, vis)).all()  # default: 0 / 0
    per_vis = _value("VIF", "cddfuse", (fused, vis, vis)) / 2
    assert _close(_value("VIF", "cddfuse", (fused, flat, vis)), 1 + per_vis)


def test_tang_cc_bug_is_harmless(batch):
    # r_BF centres VIS with mean(IR), but sum(F - mean F) = 0 cancels it.
    assert _close(_value("CC", "tang", batch), _value("CC", "default", batch))


# --------------------------------------------------------------------- the variants

def test_cddfuse_mi_is_default_mi_in_nats(batch):
    cddfuse, default = _value("MI", "cddfuse", batch), _value("MI", "default", batch)
    assert _close(cddfuse, default * math.log(2))
    fused, ir, vis = batch
    sklearn = [mutual_info_score(_levels(fused, i).ravel(), _levels(ir, i).ravel())
               + mutual_info_score(_levels(fused, i).ravel(), _levels(vis, i).ravel()) for i in range(2)]
    assert _close(cddfuse, sklearn)


def test_vifb_mi_stretches_every_image_and_uses_nats(batch):
    """VIFB's stretch is harmless on 8-bit images; its natural log is not."""
    fused, ir, vis = batch

    def stretched(x, i):
        v = _levels(x, i).astype(float)
        return np.floor((v - v.min()) / (v.max() - v.min()) * 255 + 0.5).astype(np.int64).ravel()

    expected = [mutual_info_score(stretched(vis, i), stretched(fused, i))
                + mutual_info_score(stretched(ir, i), stretched(fused, i)) for i in range(2)]
    vifb = _value("MI", "vifb", batch)
    assert _close(vifb, expected)
    assert (batch[0].flatten(1).amax(dim=1) < 1).all()  # the fused images are stretched ...
    # ... but a stretch by a factor >= 1 relabels 8-bit levels one to one, which MI ignores: only nats remain.
    assert _close(vifb, _value("MI", "default", batch) * math.log(2))


def test_tang_mi_merges_levels_254_and_255_in_the_joint_histogram(batch):
    fused, ir, vis = batch
    for source in (ir, vis):  # both sources of both images have both levels
        assert all((_levels(source, i) == 254).any() and (_levels(source, i) == 255).any() for i in range(2))

    def bits(a, b, merge):
        if merge:
            a, b = np.minimum(a, 254), np.minimum(b, 254)
        return mutual_info_score(a.ravel(), b.ravel()) / math.log(2)

    def entropy(a):
        p = np.bincount(a.ravel(), minlength=256) / a.size
        return -sum(q * math.log2(q) for q in p if q > 0)

    expected = []
    for i in range(2):
        f = _levels(fused, i)
        total = 0.0
        for source in (ir, vis):
            s = _levels(source, i)
            joint = np.stack([np.minimum(f, 254).ravel(), np.minimum(s, 254).ravel()])
            _, counts = np.unique(joint, axis=1, return_counts=True)
            p = counts / counts.sum()
            total += entropy(f) + entropy(s) + float(np.sum(p * np.log2(p)))
        expected.append(total)
    tang, default = _value("MI", "tang", batch), _value("MI", "default", batch)
    assert _close(tang, expected)
    assert (tang > default + 1e-4).all()  # merging lowers the joint entropy
    # An image pair without level 255 anywhere: no merge, tang = default.
    dim = tuple(x * 0.9 for x in batch)
    assert _close(_value("MI", "tang", dim), _value("MI", "default", dim))


def test_vifb_sf_divides_by_the_number_of_pixels(batch):
    fused = batch[0]
    v = fused[:, 0] * 255
    rows = (v[..., :, 1:] - v[..., :, :-1]).pow(2).sum(dim=(-2, -1))
    cols = (v[..., 1:, :] - v[..., :-1, :]).pow(2).sum(dim=(-2, -1))
    h, w = v.shape[-2:]
    assert _close(_value("SF", "vifb", batch), torch.sqrt((rows + cols) / (h * w)))
    assert _close(_value("SF", "default", batch), torch.sqrt(rows / (h * (w - 1)) + cols / ((h - 1) * w)))


def test_cddfuse_ag_divides_by_the_number_of_pixels(batch):
    h, w = batch[0].shape[-2:]
    assert _close(_value("AG", "cddfuse", batch), _value("AG", "default", batch) * (h - 1) * (w - 1) / (h * w))


def test_vifb_ssim_is_the_sum_of_the_two_sources(batch):
    assert _close(_value("SSIM", "vifb", batch), 2 * _value("SSIM", "default", batch))


def test_cddfuse_ssim_is_skimage_with_its_legacy_float_defaults(batch):
    fused, ir, vis = batch
    # Evaluator.py hands skimage float32 images (image_read_cv2), so skimage computes in float32
    expected = [sum(structural_similarity(*(np.float32(x[i, 0].numpy() * 255) for x in (fused, src)), data_range=2)
                    for src in (ir, vis)) for i in range(2)]
    cddfuse = _value("SSIM", "cddfuse", batch)
    assert _close(cddfuse, expected, rtol=1e-9)
    assert not _close(cddfuse, _value("SSIM", "vifb", batch), rtol=1e-2)


def test_vifb_rmse_and_psnr_use_the_root_of_the_sum_over_h_w(batch):
    fused, ir, vis = batch
    h, w = fused.shape[-2:]
    true_rmse = [torch.sqrt(((fused - s) * 255).pow(2).flatten(1).mean(dim=1)) for s in (ir, vis)]
    rmse = _value("RMSE", "vifb", batch)
    assert _close(rmse * math.sqrt(h * w), (true_rmse[0] + true_rmse[1]) / 2)
    assert _close(_value("PSNR", "vifb", batch), 20 * torch.log10(255 / torch.sqrt(rmse)))


def test_cddfuse_psnr_peaks_at_the_fused_maximum(batch):
    peak = batch[0].flatten(1).amax(dim=1) * 255
    assert (peak < 255).all()
    assert _close(_value("PSNR", "cddfuse", batch), _value("PSNR", "default", batch) + 20 * torch.log10(peak / 255))


def test_tang_mse_and_psnr_are_on_the_unit_scale(batch):
    assert _close(_value("MSE", "tang", batch), _value("MSE", "default", batch) / 255**2)
    assert _close(_value("PSNR", "tang", batch), _value("PSNR", "default", batch) + 20 * math.log10(255))


def test_vifb_only_metrics_are_the_vifb_functionals():
    from metrics.functional.chen_blum import chen_blum
    from metrics.functional.chen_varshney import chen_varshney
    from metrics.functional.cross_entropy import cross_entropy
    from metrics.functional.edge_intensity import edge_intensity
    from metrics.functional.rmse import vifb_rmse

    # Their values are pinned against VIFB run in Octave in test_vifb_metrics.py.
    for name, fn in (("CE", cross_entropy), ("EI", edge_intensity), ("RMSE", vifb_rmse), ("Qcb", chen_blum),
                     ("Qcv", chen_varshney)):
        assert get_metric_info(name, "vifb").functional is fn


# --------------------------------------------------------------------- classes and directions

def test_metric_classes_follow_the_convention(batch):
    metric = get_metric("MI", convention="cddfuse")
    metric.update(*(x[:1] for x in batch))
    metric.update(*(x[1:] for x in batch))
    assert _close(metric.per_image(), _value("MI", "cddfuse", batch))
    collection = create_collection(["PSNR", "MSE"], convention="tang")
    collection.update(*batch)
    values = collection.compute()
    assert _close(values["MSE"], _value("MSE", "tang", batch).mean())
    assert _close(values["PSNR"], _value("PSNR", "tang", batch).mean())


def test_directions():
    for convention in EXPECTED:
        for name in list_metrics(convention):
            info = get_metric_info(name, convention)
            assert info.higher_is_better == (name not in {"CE", "Qcv", "RMSE", "MSE"}), (name, convention)
            assert info.metric_class.higher_is_better == info.higher_is_better, (name, convention)
            assert info.convention == convention and info.reference


# --------------------------------------------------------------------- ivif-bench evaluate --convention all

def test_evaluate_convention_all_gives_one_row_per_metric_and_convention(data_root, tmp_path, capsys):
    import pandas as pd

    from benchmarks.cli import main as cli

    out = tmp_path / "all.csv"
    code = cli(["evaluate", str(data_root / "IVIF-DIDFuse" / "Test_result" / "TNO_IJCAI"), "--dataset", "tno",
                "--pattern", "F{id}", "--ids", "8", "--data-root", str(data_root), "--metrics", "MI,PSNR,CE",
                "--convention", "all", "--no-progress", "--out", str(out)])
    assert code == 0
    rows = pd.read_csv(out, dtype={"image": str})
    assert sorted(zip(rows.metric, rows.convention)) == sorted(
        [("MI", c) for c in ("default", "cddfuse", "tang", "tang2022", "vifb")]
        + [("PSNR", c) for c in ("default", "cddfuse", "tang", "tang2022", "vifb")] + [("CE", "vifb")])
    mi = rows[rows.metric == "MI"].set_index("convention")["value"]
    assert mi["cddfuse"] == pytest.approx(mi["default"] * math.log(2), rel=1e-12)
    printed = capsys.readouterr().out
    assert all(f"convention: {c}" in printed for c in ("default", "cddfuse", "tang", "vifb"))
    assert cli(["evaluate", str(out.parent), "--dataset", "tno", "--data-root", str(data_root),
                "--metrics", "NOPE", "--convention", "all"]) == 2  # a metric no convention has
