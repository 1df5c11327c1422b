"""metrics.evaluate and `ivif-bench evaluate` on copies of the DIDFuse authors' fused TNO images."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from benchmarks.cli import main as cli
from datamodules.io import read_image
from metrics import get_metric_info
from metrics.evaluate import COLUMNS, evaluate_folder, evaluate_tensors, mean_table

IDS = ("5", "8", "10")  # small TNO pairs (280 x 280, 256 x 256, 280 x 280)
METRICS = "EN,MI,SD,SSIM"


@pytest.fixture
def fused_dir(tno_fused_copy):
    """A folder with F5.png, F8.png, F10.png: the DIDFuse outputs of three TNO pairs."""
    return tno_fused_copy(IDS)


def _direct(data_root, k, name):
    tno = data_root / "IVIF-DIDFuse" / "Datasets" / "Test_data_TNO"
    images = [read_image(p) for p in (data_root / "IVIF-DIDFuse" / "Test_result" / "TNO_IJCAI" / f"F{k}.png",
                                      tno / f"IR{k}.bmp", tno / f"VIS{k}.bmp")]
    tensors = [torch.from_numpy(x).double().div(255).view(1, 1, *x.shape) for x in images]
    return get_metric_info(name).functional(*tensors).item()


def test_evaluate_folder_rows_and_values(fused_dir, data_root):
    table = evaluate_folder(fused_dir, "tno", data_root=data_root, pattern="F{id}", ids="5,8,10",
                            metrics=METRICS, progress=False)
    assert list(table.columns) == COLUMNS
    assert list(table["image"]) == [k for k in IDS for _ in range(4)]
    assert list(table["metric"][:4]) == ["EN", "MI", "SD", "SSIM"]
    assert set(table["dataset"]) == {"tno"} and set(table["convention"]) == {"default"}
    for row in table.itertuples():
        assert row.value == pytest.approx(_direct(data_root, row.image, row.metric), rel=1e-12)
    means = mean_table(table)
    assert list(means.columns) == ["EN", "MI", "SD", "SSIM"]
    assert means.loc["tno", "EN"] == pytest.approx(table[table.metric == "EN"].value.mean())


def test_pairs_outside_the_selection_are_skipped_and_other_images_listed(fused_dir, data_root):
    Image.new("L", (10, 10)).save(fused_dir / "overview.png")
    with pytest.warns(UserWarning, match="overview.png"):
        table = evaluate_folder(fused_dir, "tno", data_root=data_root, pattern="F{id}", ids="8", metrics="EN",
                                progress=False)
    assert list(table["image"]) == ["8"]  # F5 and F10 are TNO pairs outside --ids


def test_cli_writes_csv_atomically_and_prints_means(fused_dir, data_root, tmp_path, capsys):
    out = tmp_path / "results" / "tno.csv"
    code = cli(["evaluate", str(fused_dir), "--dataset", "tno", "--pattern", "F{id}", "--ids", "5,8,10",
                "--metrics", "EN,MI", "--data-root", str(data_root), "--out", str(out), "--no-progress"])
    assert code == 0
    table = pd.read_csv(out, dtype={"image": str})
    assert list(table.columns) == COLUMNS and len(table) == 6
    assert table["value"].iloc[0] == pytest.approx(_direct(data_root, "5", "EN"), rel=1e-12)
    printed = capsys.readouterr().out
    assert "EN" in printed and "MI" in printed and f"{table[table.metric == 'MI'].value.mean():.4f}" in printed
    # no temporary file left; the metric facts beside the rows
    assert sorted(p.name for p in out.parent.iterdir()) == ["tno.csv", "tno.metrics.json"]
    facts = json.loads((out.parent / "tno.metrics.json").read_text())["metrics"]
    assert [(f["name"], f["convention"], f["higher_is_better"]) for f in facts] == [("EN", "default", True),
                                                                                  ("MI", "default", True)]
    assert facts[0]["unit"] == get_metric_info("EN").unit and facts[1]["definition"] == get_metric_info("MI").definition


def _run_cli(fused_dir, data_root, tmp_path, *extra):
    out = tmp_path / "never.csv"
    code = cli(["evaluate", str(fused_dir), "--dataset", "tno", "--pattern", "F{id}", "--ids", "5,8,10",
                "--metrics", "EN", "--data-root", str(data_root), "--out", str(out), "--no-progress", *extra])
    assert not out.exists()  # stopped before any work
    return code


def test_missing_fused_file_stops_naming_it(fused_dir, data_root, tmp_path, capsys):
    (fused_dir / "F8.png").unlink()
    assert _run_cli(fused_dir, data_root, tmp_path) == 2
    assert "missing: F8.*" in capsys.readouterr().err


def test_file_named_like_the_pattern_but_no_pair_stops(fused_dir, data_root, tmp_path, capsys):
    shutil.copy(fused_dir / "F5.png", fused_dir / "F41.png")  # TNO has 40 pairs
    assert _run_cli(fused_dir, data_root, tmp_path) == 2
    err = capsys.readouterr().err
    assert "F41.png" in err and "no pair" in err


def test_two_files_for_one_pair_stop(fused_dir, data_root, tmp_path, capsys):
    Image.open(fused_dir / "F5.png").save(fused_dir / "F5.bmp")
    assert _run_cli(fused_dir, data_root, tmp_path) == 2
    assert "F5.bmp and F5.png" in capsys.readouterr().err


def test_size_mismatch_stops_naming_both_files(fused_dir, data_root, tmp_path, capsys):
    Image.open(fused_dir / "F10.png").crop((0, 0, 200, 100)).save(fused_dir / "F10.png")
    assert _run_cli(fused_dir, data_root, tmp_path) == 2
    err = capsys.readouterr().err
    assert "F10.png is 200x100" in err and "IR10.bmp is 280x280" in err


@pytest.mark.parametrize("extra, words", [
    (("--metrics", "EN,NOPE"), "NOPE"),
    (("--pattern", "F{}"), "pattern"),
    (("--convention", "nope"), "nope"),
    (("--ids", "5,99"), "99"),
])
def test_bad_arguments_are_one_line_errors(fused_dir, data_root, tmp_path, capsys, extra, words):
    assert _run_cli(fused_dir, data_root, tmp_path, *extra) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_evaluate_tensors_batch_and_list_agree():
    g = torch.Generator().manual_seed(0)
    fused, ir, vis = (torch.round(torch.rand(3, 1, 20, 24, dtype=torch.float64, generator=g) * 255) / 255
                      for _ in range(3))
    batch = evaluate_tensors(fused, ir, vis, metrics="EN,MI,SSIM", image_ids=["a", "b", "c"], dataset="demo")
    listed = evaluate_tensors(list(fused), [x[0] for x in ir], list(vis), metrics=["EN", "MI", "SSIM"],
                              image_ids=["a", "b", "c"], dataset="demo")
    pd.testing.assert_frame_equal(batch, listed, rtol=1e-12)
    assert list(batch["image"][:3]) == ["a", "a", "a"] and set(batch["dataset"]) == {"demo"}
    # images of different sizes, one at a time
    sizes = evaluate_tensors([fused[0], fused[1, :, :10]], [ir[0], ir[1, :, :10]], [vis[0], vis[1, :, :10]],
                             metrics="SD")
    assert list(sizes["image"]) == ["0", "1"] and np.isfinite(sizes["value"]).all()
    with pytest.raises(ValueError, match="different numbers"):
        evaluate_tensors(fused, ir[:2], vis, metrics="EN")
    with pytest.raises(ValueError, match="image_ids"):
        evaluate_tensors(fused, ir, vis, metrics="EN", image_ids=["a"])
    with pytest.raises(ValueError, match="fused"):
        evaluate_tensors(fused[0], ir, vis, metrics="EN")
