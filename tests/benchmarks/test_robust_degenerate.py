"""Degenerate results in the runner and the report: constant fused images are flagged in the output, the
leaderboard and W&B; NaN images are counted, not blanking a set; cells over different image sets are never
ranked against each other (#16 item 3)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from benchmarks.cli import main as cli
from benchmarks.report.degenerate import CONSTANT_STD_LEVELS, fused_image_stats, read_fused_stats
from benchmarks.report.facts import registry_facts
from benchmarks.report.leaderboard import rank, summarize, to_latex, to_markdown
from benchmarks.report.results import RESULT_COLUMNS, read_results
from benchmarks.tracking import read_offline_run
from lightning_modules import FusionModule, registry
from lightning_modules.base import check_pair

pytestmark = pytest.mark.usefixtures("one_thread")


class ConstantGray(FusionModule):
    """A broken "method": gray 0.5 everywhere (what the GANs output after a few smoke steps)."""

    needs_training = False
    receptive_field = 0

    def __init__(self) -> None:
        super().__init__()
        self.save_hyperparameters()

    def fuse(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        check_pair(ir, vis)
        return torch.full_like(ir, 0.5)


def test_the_constant_image_rule(tmp_path, data_root):
    def png(name, array):
        path = tmp_path / f"{name}.png"
        Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)
        return fused_image_stats(path)

    assert png("gray", np.full((40, 30), 128)) == {"min": 128, "max": 128, "std": 0.0, "constant": True}
    two_levels = png("two", np.indices((40, 30)).sum(0) % 2 + 127)  # 127 / 128 alternating: std 0.5
    assert two_levels["constant"] and two_levels["std"] == pytest.approx(0.5)
    edge = np.full((40, 30), 100)
    edge[:, :15] = 103  # two halves 3 levels apart: std 1.5, an image with content
    assert not png("edge", edge)["constant"] and CONSTANT_STD_LEVELS == 1.0
    colour = np.full((20, 20, 3), 90)
    colour[..., 2] = np.arange(20) * 10  # constant in R and G, a ramp in B
    assert not png("colour", colour)["constant"]
    # a colour fusion whose fused Y is constant: the chroma is the visible image's, the method produced nothing
    from datamodules.color import rgb_to_ycbcr, ycbcr_to_rgb
    from datamodules.io import read_image

    visible = rgb_to_ycbcr(read_image(data_root / "VIFB" / "input" / "VI" / "carLight.jpg", mode="rgb"))
    visible[..., 0] = 128
    flat_y = png("flat_y", ycbcr_to_rgb(visible))
    assert flat_y["constant"] and flat_y["std"] < 1.0
    real = data_root / "IVIF-DIDFuse" / "Test_result" / "TNO_IJCAI" / "F1.png"
    assert not fused_image_stats(real)["constant"] and fused_image_stats(real)["std"] > 20


def test_a_constant_method_is_flagged_in_the_output_the_leaderboard_and_wandb(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(registry._REGISTRY, "constant_gray", ConstantGray)  # a reference rule: always in the run
    out = tmp_path / "run"
    assert cli(["run", "--methods", "average", "--datasets", "sample_tno", "--limit-pairs", "2", "--metrics", "EN,SD",
                "--profile", "smoke", "--out", str(out), "--wandb", "offline", "--no-plots", "--no-progress"]) == 0
    stdout = capsys.readouterr().out
    assert ("warning: constant_gray/seed0/sample_tno: 2 of 2 fused image(s) are constant (8-bit std < 1 gray "
            "level): 5 (levels 128-128, std 0.00), 8 (levels 128-128, std 0.00)") in stdout
    assert "constant_gray ⚠" in stdout and "warning: average" not in stdout
    stats = read_fused_stats(out)
    assert stats.set_index("method").loc["constant_gray", "constant"].all()
    assert not stats.set_index("method").loc[["average", "max"], "constant"].any()
    board = pd.read_csv(out / "leaderboard.csv")
    assert set(board[board.method == "constant_gray"].constant_images) == {2}
    assert set(board[board.method != "constant_gray"].constant_images) == {0}
    text = (out / "leaderboard.md").read_text(encoding="utf-8")
    assert "| constant_gray ⚠ |" in text
    assert "⚠ constant_gray: 2 of 2 fused image(s) constant (8-bit std < 1 gray level): their values measure no " \
           "fusion; not ranked" in text
    runs = {r["name"]: r for r in map(read_offline_run, sorted((out / "wandb").glob("offline-run-*")))}
    assert runs["constant_gray-seed0"]["summary"]["constant_images/sample_tno"] == 2
    assert runs["constant_gray-seed0"]["summary"]["constant_images/sample_tno/ids"] == "5,8"
    assert runs["average-seed0"]["summary"]["constant_images/sample_tno"] == 0

    assert cli(["leaderboard", str(out)]) == 0  # rebuilt from the run dir alone: the marks stay
    assert "| constant_gray ⚠ |" in (out / "leaderboard.md").read_text(encoding="utf-8")


FACTS = registry_facts([("EN", "default"), ("MS_SSIM", "default")], ["average", "max", "didfuse"])


def _rows(method, images, values, metric="EN", seed=0):
    return [(method, seed, "tno", str(i), metric, v, "default") for i, v in zip(images, values)]


def test_nan_images_are_counted_per_cell_and_never_blank_a_set(tmp_path):
    """MS-SSIM NaN on one image of didfuse (TNO pair 5 of the DIDFuse outputs): the cell is the nanmean over the
    others, with n; it is not ranked against cells over every image; the other metrics are unaffected."""
    rows = (_rows("average", [1, 2, 3], [0.5, 0.6, 0.7], "MS_SSIM") + _rows("max", [1, 2, 3], [0.4, 0.5, 0.6], "MS_SSIM")
            + _rows("didfuse", [1, 2, 3], [0.9, np.nan, 0.9], "MS_SSIM")
            + _rows("didfuse", [1, 2, 3], [7.0, 7.1, 7.2]) + _rows("max", [1, 2, 3], [6.0, 6.1, 6.2]))
    results = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    summary = summarize(results, FACTS)
    cell = summary[(summary.method == "didfuse") & (summary.metric == "MS_SSIM")].iloc[0]
    assert cell["mean"] == pytest.approx(0.9) and cell["n_images"] == 2 and cell["n_nan"] == 1 and cell["n"] == 2
    ranks = summary.assign(r=rank(summary)).set_index(["method", "metric"])["r"]
    assert ranks[("didfuse", "MS_SSIM")] == 0  # 0.9 over 2 images vs 0.6 over 3: not compared
    assert ranks[("average", "MS_SSIM")] == 1 and ranks[("max", "MS_SSIM")] == 2
    assert ranks[("didfuse", "EN")] == 1  # its EN cell is over all three images
    markdown = to_markdown(summary, FACTS)
    assert "| MS_SSIM ↑ | **0.600** | <u>0.500</u> | 0.900 (n=2)† |" in markdown and "n/a" not in markdown
    assert r"0.900 (n=2)$^\dagger$" in to_latex(summary, FACTS)

    several = pd.DataFrame(rows + [(m, 1, d, i, k, v + 0.01, c) for m, _, d, i, k, v, c in rows], columns=RESULT_COLUMNS)
    several.loc[(several.method == "didfuse") & (several.seed == 1) & (several.image == "3") &
                (several.metric == "EN"), "value"] = np.nan  # NaN in one seed only: left out of every seed
    cell = summarize(several, FACTS).query("method == 'didfuse' and metric == 'EN'").iloc[0]
    assert cell["n_images"] == 2 and cell["n_nan"] == 1 and cell["n"] == 2
    assert cell["mean"] == pytest.approx(np.mean([np.mean([7.0, 7.1]), np.mean([7.01, 7.11])]))


def test_combined_runs_over_different_pairs_are_not_ranked_against_each_other(tmp_path, capsys):
    """`ivif-bench leaderboard A B`: run A evaluated pairs 1-2, run B pairs 1-3 (only the header said '2/3 images')."""
    first, second = tmp_path / "a", tmp_path / "b"
    for folder, frame in ((first, _rows("average", [1, 2], [6.0, 6.2]) + _rows("max", [1, 2], [6.8, 7.0])),
                          (second, _rows("didfuse", [1, 2, 3], [7.5, 7.7, 7.9]))):
        folder.mkdir()
        pd.DataFrame(frame, columns=RESULT_COLUMNS).to_csv(folder / "results.csv", index=False)
        FACTS.write(folder)
    assert cli(["leaderboard", str(first), str(second), "--out", str(tmp_path / "both")]) == 0
    text = (tmp_path / "both" / "leaderboard.md").read_text(encoding="utf-8")
    assert "## tno (3 images)" in text
    assert "| EN ↑ | <u>6.100</u> (n=2) | **6.900** (n=2) | 7.700† |" in text  # didfuse's 7.7: over other pairs
    board = pd.read_csv(tmp_path / "both" / "leaderboard.csv", dtype={"image_set": str})
    assert board.set_index("method").loc["didfuse", "n_images"] == 3
    assert board.image_set.nunique() == 2
    combined = read_results([first, second])
    assert len(combined) == 7
