"""Comparison plots from a real (tiny) run: files, bars = means with std error bars, units, legends, zoom insets."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.container import BarContainer
from matplotlib.patches import Rectangle
from PIL import Image

from benchmarks.cli import main as cli
from benchmarks.report.facts import read_facts
from benchmarks.report.leaderboard import summarize
from benchmarks.report.plots import auto_zoom_box, bars_figure, per_image_figure, qualitative_figure, qualitative_rows
from benchmarks.report.results import read_results
from datamodules.datasets import load_pairs, read_pair
from metrics import get_metric_info

DATASETS = ["sample_tno", "sample_flir"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("plots") / "run"
    assert cli(["run", "--methods", "average,max", "--datasets", ",".join(DATASETS), "--profile", "smoke",
                "--limit-pairs", "2", "--metrics", "EN,MSE", "--out", str(out), "--wandb", "disabled",
                "--no-progress"]) == 0
    return out


def test_the_run_writes_every_plot_as_png_and_pdf(run_dir):
    names = {p.name for p in (run_dir / "plots").iterdir()}
    stems = [f"{kind}_{d}" for kind in ("bars", "per_image") for d in DATASETS] + ["qualitative"]
    assert names == {f"{stem}.{ext}" for stem in stems for ext in ("png", "pdf")}
    for stem in stems:
        with Image.open(run_dir / "plots" / f"{stem}.png") as image:
            assert min(image.size) > 200
        assert (run_dir / "plots" / f"{stem}.pdf").read_bytes()[:5] == b"%PDF-"


def test_bars_are_means_with_std_error_bars_units_and_legend(run_dir):
    facts = read_facts(run_dir)
    summary = summarize(read_results(run_dir), facts)
    figure = bars_figure(summary, "sample_tno", facts)
    panels = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["EN ↑", "MSE ↓"]
    for ax, metric in zip(panels, ["EN", "MSE"]):
        assert ax.get_ylabel() == get_metric_info(metric).unit and ax.get_xlabel() == "method"
        assert [t.get_text() for t in ax.get_xticklabels()] == ["average", "max"]
        bars = next(c for c in ax.containers if isinstance(c, BarContainer))
        rows = summary[(summary.dataset == "sample_tno") & (summary.metric == metric)].set_index("method")
        np.testing.assert_allclose([b.get_height() for b in bars], rows.loc[["average", "max"], "mean"])
        segments = bars.errorbar.lines[2][0].get_segments()
        np.testing.assert_allclose([s[1, 1] - s[0, 1] for s in segments], 2 * rows.loc[["average", "max"], "std"])
    assert [t.get_text() for t in figure.legends[0].get_texts()] == ["average", "max"]
    assert "mean ± std over 2 images" in figure._suptitle.get_text()


def test_per_image_plot_shows_every_image(run_dir):
    results = read_results(run_dir)
    figure = per_image_figure(results, "sample_flir", read_facts(run_dir))
    ax = [a for a in figure.axes if a.get_visible()][0]
    strips = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert [len(s.get_offsets()) for s in strips] == [2, 2]  # one point per image, per method
    values = results[(results.dataset == "sample_flir") & (results.metric == "EN") & (results.method == "max")].value
    np.testing.assert_allclose(sorted(strips[1].get_offsets()[:, 1]), sorted(values))
    assert ax.get_ylabel() == get_metric_info("EN").unit


def test_qualitative_grid_has_a_zoom_box_and_inset_per_image(run_dir):
    rows = qualitative_rows(run_dir, None, ["average", "max"])
    assert [(r.dataset, r.pair_id) for r in rows] == [(d, load_pairs(d)[0].pair_id) for d in DATASETS]
    figure = qualitative_figure(rows)
    main_axes = [ax for ax in figure.axes if ax.get_title() or ax.get_ylabel() or ax.child_axes]
    assert len(main_axes) == 2 * 4  # 2 pairs x (IR, VIS, average, max)
    for ax in main_axes:
        assert len(ax.child_axes) == 1
        assert any(isinstance(p, Rectangle) and not p.get_fill() for p in ax.patches)
    first = rows[0]
    top, left, height, width = auto_zoom_box(first.ir, first.vis)
    inset = figure.axes[0].child_axes[0]
    np.testing.assert_array_equal(inset.images[0].get_array(), first.ir[top:top + height, left:left + width])
    assert [figure.axes[i].get_title() for i in range(4)] == ["IR", "VIS", "average", "max"]


def test_auto_zoom_box_picks_the_most_detailed_window():
    ir, vis = read_pair(load_pairs("sample_tno")[0])
    top, left, height, width = auto_zoom_box(ir, vis, fraction=0.25)
    side = round(min(ir.shape) * 0.25)
    assert height == width == side and top + side <= ir.shape[0] and left + side <= ir.shape[1]
    step = max(1, side // 8)
    best = max(((np.var(ir[t:t + side, l:l + side].astype(float)) + np.var(vis[t:t + side, l:l + side].astype(float)), t, l)
                for t in range(0, ir.shape[0] - side + 1, step) for l in range(0, ir.shape[1] - side + 1, step)))
    assert (top, left) == best[1:]


def test_plot_command(run_dir, tmp_path, capsys):
    pair_id = load_pairs("sample_flir")[1].pair_id
    assert cli(["plot", str(run_dir), "--pairs", f"sample_flir:{pair_id}", "--methods", "max",
                "--kind", "qualitative", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "qualitative.png"), str(tmp_path / "qualitative.pdf")]
    assert cli(["plot", str(run_dir), "--pairs", "sample_flir:99999"]) == 2
    assert "no evaluated pair '99999'" in capsys.readouterr().err
    assert cli(["plot", str(run_dir), "--methods", "nosuch"]) == 2
