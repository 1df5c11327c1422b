"""Leaderboard: statistics, ranking direction from the recorded facts, Table-4 layout (md / tex), combining run dirs,
the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.cli import main as cli
from benchmarks.report.facts import Facts, registry_facts
from benchmarks.report.leaderboard import rank, summarize, to_latex, to_markdown, write_leaderboard
from benchmarks.report.results import RESULT_COLUMNS, read_results
from metrics import get_metric_info

# per-image values: EN (higher is better) and MSE (lower is better) for three methods on two sets
VALUES = {
    ("average", "tno"): {"EN": [6.0, 6.2], "MSE": [100.0, 120.0]},
    ("max", "tno"): {"EN": [6.8, 7.0], "MSE": [300.0, 320.0]},
    ("didfuse", "tno"): {"EN": [6.5, 6.7], "MSE": [200.0, 240.0]},
    ("average", "flir"): {"EN": [7.1, 7.3], "MSE": [90.0, 110.0]},
    ("max", "flir"): {"EN": [6.9, 6.9], "MSE": [50.0, 70.0]},
    ("didfuse", "flir"): {"EN": [7.0, 7.2], "MSE": [150.0, 150.0]},
}


FACTS = registry_facts([("EN", "default"), ("MSE", "default")], ["average", "max", "didfuse"])


def rows(seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    out = []
    for (method, dataset), metrics in VALUES.items():
        for metric, values in metrics.items():
            for image, value in enumerate(values, start=1):
                out.append((method, seed, dataset, str(image), metric, value + shift, "default"))
    return pd.DataFrame(out, columns=RESULT_COLUMNS)


def cell(summary: pd.DataFrame, method: str, dataset: str, metric: str) -> pd.Series:
    return summary[(summary.method == method) & (summary.dataset == dataset) & (summary.metric == metric)].iloc[0]


def test_summary_over_images_then_over_seeds():
    one = summarize(rows(), FACTS)
    entry = cell(one, "didfuse", "tno", "MSE")
    assert entry["mean"] == pytest.approx(220.0) and entry["std"] == pytest.approx(np.std([200, 240], ddof=1))
    assert entry["n"] == 2 and entry["n_seeds"] == 1 and not entry["higher_is_better"]
    assert list(one.dataset.unique()) == ["tno", "flir"]  # the results' order, not alphabetical
    assert list(one[(one.dataset == "tno") & (one.metric == "EN")].method) == ["average", "max", "didfuse"]

    several = summarize(pd.concat([rows(0), rows(1, shift=1.0), rows(2, shift=2.0)]), FACTS)
    entry = cell(several, "didfuse", "tno", "EN")
    per_seed = [6.6, 7.6, 8.6]  # mean over the 2 images, per seed
    assert entry["mean"] == pytest.approx(np.mean(per_seed)) and entry["std"] == pytest.approx(np.std(per_seed, ddof=1))
    assert entry["n"] == 3 and entry["n_seeds"] == 3 and entry["n_images"] == 2


def test_a_nan_image_is_left_out_counted_and_its_cell_never_ranked_against_the_others():
    data = rows()
    data.loc[(data.method == "max") & (data.dataset == "tno") & (data.metric == "EN") & (data.image == "1"), "value"] = np.nan
    summary = summarize(data, FACTS)
    entry = cell(summary, "max", "tno", "EN")  # nanmean over its one finite image, with n
    assert entry["mean"] == 7.0 and entry["n"] == 1 and entry["n_images"] == 1 and entry["n_nan"] == 1
    assert entry["image_set"] != cell(summary, "didfuse", "tno", "EN")["image_set"]
    ranks = summary.assign(r=rank(summary))  # 7.0 would be best: over another image set, it is not ranked
    assert cell(ranks, "max", "tno", "EN")["r"] == 0
    assert cell(ranks, "didfuse", "tno", "EN")["r"] == 1 and cell(ranks, "average", "tno", "EN")["r"] == 2
    text = to_markdown(summary, FACTS).split("## tno")[1].split("## flir")[0]
    assert "## tno" not in text and "| EN ↑ | <u>6.100</u> | 7.000 (n=1)† | **6.600** |" in text
    assert "† over another set of images" in text and "nanmean" in to_markdown(summary, FACTS)


def test_rank_respects_each_metrics_direction_and_ties():
    summary = summarize(rows(), FACTS)
    summary["r"] = rank(summary)
    assert [cell(summary, m, "tno", "EN")["r"] for m in ("max", "didfuse", "average")] == [1, 2, 0]
    assert [cell(summary, m, "tno", "MSE")["r"] for m in ("average", "didfuse", "max")] == [1, 2, 0]  # lower is better
    assert [cell(summary, m, "flir", "EN")["r"] for m in ("average", "didfuse", "max")] == [1, 2, 0]
    twin = FACTS.merged(Facts(methods={"max_twin": FACTS.methods["max"]}))
    tied = summarize(pd.concat([rows(), rows().query("method == 'max'").assign(method="max_twin")]), twin)
    tied["r"] = rank(tied)
    assert cell(tied, "max", "tno", "EN")["r"] == 1 and cell(tied, "max_twin", "tno", "EN")["r"] == 1
    assert cell(tied, "didfuse", "tno", "EN")["r"] == 2


def test_markdown_is_table_4_layout():
    text = to_markdown(summarize(rows(), FACTS), FACTS, title="Leaderboard: test")
    tno = text.split("## tno")[1].split("## flir")[0]
    assert "| Metric | average | max | didfuse |" in tno
    assert "| EN ↑ | 6.100 | **6.900** | <u>6.600</u> |" in tno
    assert "| MSE ↓ | **110.000** | 310.000 | <u>220.000</u> |" in tno
    info = get_metric_info("MSE")
    assert f"**MSE** (lower is better; {info.unit}): {info.definition}" in text
    assert get_metric_info("EN").definition in text


def test_latex_bold_underline_escaping_and_footnote():
    data = rows().replace({"method": {"didfuse": "two_layer_gan"}})
    facts = FACTS.merged(registry_facts(methods=["two_layer_gan"]))
    tex = to_latex(summarize(data, facts), facts)
    assert r"Metric & average & max & two\_layer\_gan \\" in tex
    assert r"EN$\uparrow$ & 6.100 & \textbf{6.900} & \underline{6.600} \\" in tex
    assert r"MSE$\downarrow$ & \textbf{110.000} & 310.000 & \underline{220.000} \\" in tex
    assert r"\multicolumn{4}{l}{\textit{tno} (2 images)}" in tex and r"\begin{tabular}{lrrr}" in tex
    assert tex.count(r"\textbf{") == 4 and tex.count(r"\underline{") == 4
    assert "lower is better" in tex


def write_run(folder, frame: pd.DataFrame, facts: Facts = FACTS):
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "results.csv", index=False)
    facts.write(folder)
    return folder


def test_combining_runs_and_the_leaderboard_command(tmp_path, capsys):
    first = write_run(tmp_path / "seed0", rows(0))
    second = write_run(tmp_path / "seed1", pd.concat([rows(1, shift=1.0), rows(0)]))  # repeats seed 0 identically
    combined = read_results([first, second])
    assert len(combined) == 2 * len(rows())
    assert not combined.duplicated(["method", "seed", "dataset", "image", "metric", "convention"]).any()

    conflicting = write_run(tmp_path / "other", rows(0, shift=0.5))
    with pytest.raises(ValueError, match="disagree"):
        read_results([first, conflicting])

    assert cli(["leaderboard", str(first), str(second), "--out", str(tmp_path / "both")]) == 0
    board = pd.read_csv(tmp_path / "both" / "leaderboard.csv")
    assert set(board.n_seeds) == {2}
    assert "## tno (2 images, 2 seeds)" in capsys.readouterr().out
    assert {p.name for p in (tmp_path / "both").iterdir()} == {"leaderboard.csv", "leaderboard.md", "leaderboard.tex"}

    assert cli(["leaderboard", str(first), str(second)]) == 2  # several runs need --out
    assert "--out" in capsys.readouterr().err
    assert cli(["leaderboard", str(tmp_path / "nowhere")]) == 2
    assert "no results.csv" in capsys.readouterr().err


def test_write_leaderboard_is_complete(tmp_path):
    paths = write_leaderboard(tmp_path, rows(), FACTS)
    board = pd.read_csv(paths["csv"])
    assert list(board.columns[:7]) == ["method", "dataset", "metric", "convention", "mean", "std", "n"]
    assert len(board) == 3 * 2 * 2
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_a_metric_without_recorded_facts_is_shown_but_never_ranked(tmp_path, capsys):
    """A plugin's metric read where the plugin is not installed: its direction comes from the run, or from nowhere."""
    data = pd.concat([rows(), rows().query("metric == 'EN'").assign(metric="MINE", value=lambda f: -f["value"])])
    lower_is_better = {"name": "MINE", "convention": "default", "higher_is_better": False, "unit": "u",
                       "definition": "the plugin's own", "reference": "a plugin"}
    recorded = write_run(tmp_path / "recorded", data, FACTS.merged(Facts.from_records([lower_is_better])))
    assert cli(["leaderboard", str(recorded)]) == 0
    text = (recorded / "leaderboard.md").read_text(encoding="utf-8")
    assert "| MINE ↓ | -6.100 | **-6.900** | <u>-6.600</u> |" in text  # ranked in the run's recorded direction
    assert "**MINE** (lower is better; u): the plugin's own" in text

    unrecorded = write_run(tmp_path / "unrecorded", data)  # facts of EN and MSE only
    assert cli(["leaderboard", str(unrecorded)]) == 0
    text = (unrecorded / "leaderboard.md").read_text(encoding="utf-8")
    assert "| MINE ? | -6.100 | -6.900 | -6.600 |" in text  # not guessed "higher is better": no bold, no underline
    assert "**MINE** (direction unknown): no facts recorded" in text
    board = pd.read_csv(unrecorded / "leaderboard.csv")
    assert board[board.metric == "MINE"].higher_is_better.isna().all()
    assert board[board.metric == "MSE"].higher_is_better.eq(False).all()

    conflicting = write_run(tmp_path / "conflicting", data, FACTS.merged(Facts.from_records(
        [{**lower_is_better, "higher_is_better": True}])))
    assert cli(["leaderboard", str(recorded), str(conflicting), "--out", str(tmp_path / "both")]) == 2
    assert "metric MINE (default) is recorded as lower is better and as higher is better" in capsys.readouterr().err
