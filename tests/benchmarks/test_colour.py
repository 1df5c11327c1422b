"""Colour fusion in `ivif-bench run` and `ivif-bench fuse`: RGB PNGs whose PIL "L" is the fused Y where the RGB
did not clip, through Trainer.test (tiled too), metrics under their colour rule (bitwise `ivif-bench evaluate`'s
on the written PNGs), `--color gray`, gray test sets as before, and the qualitative grid in colour."""

from __future__ import annotations

import functools
import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from benchmarks.cli import main as cli
from benchmarks.provenance import read_json
from benchmarks.run.evaluate import evaluate_unit
from datamodules import load_pairs
from datamodules.color import rgb_to_ycbcr, ycbcr_to_rgb
from datamodules.io import read_image
from lightning_modules import create_method
from metrics.evaluate import evaluate_folder

IDS = "carLight,carShadow"  # VIFB's first two pairs (630 x 460, 768 x 276)
METRICS = ["EN", "MI", "SD", "SF", "VIF", "AG", "Qabf", "SSIM"]


def _expected_max_fusion(pair) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The `max` rule's colour fusion computed here from the files: (fused Y, RGB, clipped)."""
    ir = read_image(pair.ir_path, mode="gray")  # PIL "L" (an IR stored as RGB has equal channels)
    vis = read_image(pair.vis_path, mode="native")
    ycc = rgb_to_ycbcr(vis)
    y = np.maximum(ir, ycc[..., 0])
    rgb, clipped = ycbcr_to_rgb(np.stack([y, ycc[..., 1], ycc[..., 2]], -1), return_clipped=True)
    return y, rgb, clipped


@pytest.fixture(scope="module")
def colour_run(tmp_path_factory, data_root):
    """`ivif-bench run` of the reference rules on two VIFB pairs (colour) and one sample_tno pair (gray)."""
    out = tmp_path_factory.mktemp("colour") / "run"
    args = ["run", "--methods", "max", "--datasets", "vifb,sample_tno", "--metrics", ",".join(METRICS),
            "--data-root", str(data_root), "--out", str(out), "--profile", "smoke", "--wandb", "disabled",
            "--no-plots", "--no-progress"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert cli([*args, "--limit-pairs", "2"]) == 0
    return out


def test_run_writes_colour_pngs_whose_luminance_is_the_fused_y(colour_run, data_root, capfd):
    out = colour_run
    for pair in load_pairs("vifb", data_root, ids=IDS):
        y, rgb, clipped = _expected_max_fusion(pair)
        with Image.open(out / "fused" / "max" / "vifb" / f"{pair.pair_id}.png") as png:
            assert png.mode == "RGB"
            written = np.asarray(png)
            luma = np.asarray(png.convert("L"))
        assert np.array_equal(written, rgb)
        assert np.array_equal(luma[~clipped], y[~clipped]) and (~clipped).mean() > 0.98
        marker = read_json(out / "units" / "max" / "seed0" / "vifb.done.json")
        assert marker["color"]["clipped"][pair.pair_id] == pytest.approx(clipped.mean(), abs=1e-15)
    marker = read_json(out / "units" / "max" / "seed0" / "vifb.done.json")
    assert marker["color"]["fusion"] == "rgb" and marker["color"]["transform"] == "ycbcr-bt601-l"
    assert marker["color"]["color_rules"] == {m: "pil-l" for m in METRICS}
    assert marker["signature"]["color"] == "ycbcr-bt601-l"
    gray = read_json(out / "units" / "max" / "seed0" / "sample_tno.done.json")
    assert gray["color"]["fusion"] == "gray" and "color" not in gray["signature"]  # a gray unit's as before
    provenance = read_json(out / "provenance.json")
    assert provenance["color"]["colour_pairs"] == {"vifb": 2, "sample_tno": 0}
    with Image.open(out / "fused" / "max" / "sample_tno" / "5.png") as png:
        assert png.mode == "L"
    board = (out / "leaderboard.md").read_text()
    assert "## vifb (2 images; colour fusion, colour rule pil-l)" in board and "## sample_tno (2 images)\n" in board


def test_run_values_are_bitwise_evaluates_on_the_colour_pngs_with_the_rule_recorded(colour_run, data_root):
    results = pd.read_csv(colour_run / "results.csv", dtype={"image": str})
    assert set(results[results.dataset == "vifb"].color_rule) == {"pil-l"}
    assert set(results[results.dataset == "sample_tno"].color_rule) == {"gray"}
    for (method, dataset), rows in results.groupby(["method", "dataset"]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "convention 'default' evaluates colour images as gray"
            expected = evaluate_folder(colour_run / "fused" / method / dataset, dataset, data_root=data_root,
                                       ids=list(dict.fromkeys(rows.image)), metrics=METRICS, progress=False)
        merged = rows.merge(expected, on=["image", "metric"], suffixes=("", "_evaluate"))
        assert len(merged) == len(rows) and (merged.color_rule == merged.color_rule_evaluate).all()
        assert np.array_equal(merged.value.to_numpy(), merged.value_evaluate.to_numpy(), equal_nan=True)


def test_qualitative_grid_shows_the_colour_fusions_and_the_colour_visible(colour_run, data_root):
    from benchmarks.report.plots import qualitative_figure, qualitative_rows

    rows = qualitative_rows(colour_run, {"vifb": ["carLight"], "sample_tno": ["5"]}, ["average", "max"])
    colour, gray = rows
    vis = read_image(load_pairs("vifb", data_root, ids="carLight")[0].vis_path, mode="native")
    assert np.array_equal(colour.vis, vis) and all(image.shape == vis.shape for image in colour.fused.values())
    assert gray.vis.ndim == 2 and all(image.ndim == 2 for image in gray.fused.values())
    figure = qualitative_figure(rows)
    shown = [ax.images[0].get_array() for ax in figure.axes[:4] if ax.images]  # row 1: IR, VIS, average, max
    assert [a.ndim for a in shown] == [2, 3, 3, 3]


def test_color_gray_fuses_every_pair_gray(colour_run, data_root, tmp_path, capsys):
    out = tmp_path / "gray"
    assert cli(["run", "--methods", "max", "--datasets", "vifb", "--ids", "walking", "--metrics", "EN,SD",
                "--color", "gray", "--data-root", str(data_root), "--out", str(out), "--profile", "smoke",
                "--wandb", "disabled", "--no-plots", "--no-progress"]) == 0
    assert "colour: --color gray: every pair fused gray" in capsys.readouterr().out
    pair = load_pairs("vifb", data_root, ids="walking")[0]
    y, _, _ = _expected_max_fusion(pair)
    with Image.open(out / "fused" / "max" / "vifb" / "walking.png") as png:
        assert png.mode == "L" and np.array_equal(np.asarray(png), y)  # the fused Y itself
    results = pd.read_csv(out / "results.csv", dtype={"image": str})
    assert set(results.color_rule) == {"gray"}
    assert read_json(out / "units" / "max" / "seed0" / "vifb.done.json")["color"]["fusion"] == "gray"


def test_colour_fusion_through_trainer_test_is_tiled_with_the_untiled_result(tmp_path, data_root):
    pairs = load_pairs("vifb", data_root, ids="walking")
    torch.manual_seed(0)
    model = create_method("ataman_akar")  # a CNN with a stated receptive field (94 px)
    whole = evaluate_unit(model, pairs, tmp_path / "whole", dataset="vifb", metrics=["EN"], convention="default",
                          device=torch.device("cpu"), metric_device="cpu", color=True)
    windows = []
    fuse = model.fuse
    model.fuse = lambda ir, vis: windows.append(tuple(ir.shape[-2:])) or fuse(ir, vis)
    model.max_untiled_pixels = 96 * 96
    model.fuse_large = functools.partial(type(model).fuse_large, model, tile=128)
    tiled = evaluate_unit(model, pairs, tmp_path / "tiled", dataset="vifb", metrics=["EN"], convention="default",
                          device=torch.device("cpu"), metric_device="cpu", color=True)
    assert len(windows) == 6  # 2 x 3 tiles of 128 (320 x 240), each with its margin
    assert np.array_equal(read_image(tmp_path / "tiled" / "walking.png", mode="native"),
                          read_image(tmp_path / "whole" / "walking.png", mode="native"))
    assert tiled.value.tolist() == whole.value.tolist() and tiled.attrs["clipped"] == whole.attrs["clipped"]


def test_fuse_writes_colour_pngs_for_a_folder_of_colour_pairs(tmp_path, data_root, capsys):
    folder = tmp_path / "mine"  # a user folder: ir/ + vis/, colour visible images cropped from VIFB
    pair = load_pairs("vifb", data_root, ids="walking")[0]
    for sub, path in (("ir", pair.ir_path), ("vis", pair.vis_path)):
        (folder / sub).mkdir(parents=True)
        Image.fromarray(read_image(path, mode="native")[40:140, 60:220]).save(folder / sub / "a.png")
    out = tmp_path / "fused"
    assert cli(["fuse", "--method", "max", "--dataset", str(folder), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "colour: 1 of 1 pairs fused in colour, RGB PNGs" in printed
    ycc = rgb_to_ycbcr(read_image(folder / "vis" / "a.png", mode="native"))
    y = np.maximum(read_image(folder / "ir" / "a.png"), ycc[..., 0])
    with Image.open(out / "a.png") as png:
        assert png.mode == "RGB" and png.size == (160, 100)
        luma = np.asarray(png.convert("L"))
    record = json.loads((out / "provenance.json").read_text())["color"]
    clipped = ycbcr_to_rgb(np.stack([y, ycc[..., 1], ycc[..., 2]], -1), return_clipped=True)[1]
    assert record["colour_pairs"] == 1 and record["clipped"]["a"] == pytest.approx(clipped.mean(), abs=1e-15)
    assert np.array_equal(luma[~clipped], y[~clipped])
    assert cli(["fuse", "--method", "max", "--dataset", str(folder), "--out", str(out), "--color", "gray"]) == 0
    with Image.open(out / "a.png") as png:
        assert png.mode == "L" and np.array_equal(np.asarray(png), y)
    assert json.loads((out / "provenance.json").read_text())["color"]["colour_pairs"] == 0
