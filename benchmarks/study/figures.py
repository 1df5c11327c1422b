"""The study's figures: DIDFuse's Figure 5 (each run against the best competitors) and histograms over runs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from benchmarks.report.facts import Facts, arrow

__all__ = ["figure5_figure", "histogram_figure", "plot_figure5"]


def plot_figure5(per_run: pd.DataFrame, report: pd.DataFrame, method: str, out_stem: str | os.PathLike,
                 formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """:func:`figure5_figure` saved as ``<out_stem>.png`` / ``.pdf``; returns the files written."""
    from benchmarks.report.plots import save_figure

    return save_figure(figure5_figure(per_run, report, method), out_stem, formats)


def _panel_grid(per_run: pd.DataFrame, hspace: float):
    """(figure, axes, datasets, columns): one panel per (dataset row, (metric, convention) column) of ``per_run``,
    with fixed margins in inches (constrained layout costs seconds per save)."""
    from matplotlib.figure import Figure

    datasets = list(dict.fromkeys(per_run["dataset"]))
    columns = list(dict.fromkeys(zip(per_run["metric"], per_run["convention"])))
    width, height = 2.3 * len(columns) + 0.7, 1.8 * len(datasets) + 1.0
    figure = Figure(figsize=(width, height))
    axes = figure.subplots(len(datasets), len(columns), squeeze=False)
    figure.subplots_adjust(left=0.75 / width, right=1 - 0.1 / width, bottom=0.75 / height, top=1 - 0.5 / height,
                           wspace=0.42, hspace=hspace)
    return figure, axes, datasets, columns


def figure5_figure(per_run: pd.DataFrame, report: pd.DataFrame, method: str):
    """Figure 5 of DIDFuse: a row per dataset, a column per metric (a ``matplotlib.figure.Figure``).

    Black solid line: the method's mean over images in each run (x: run
    number, seed order); red dashed: the best competitor; blue dotted: the
    second best.

    Args:
        per_run: :func:`per_run_means` rows. report: :func:`study_report` rows.
    """
    from matplotlib.lines import Line2D

    figure, axes, datasets, columns = _panel_grid(per_run, hspace=0.3)
    facts = report.set_index(["dataset", "metric", "convention"])
    for r, dataset in enumerate(datasets):
        for c, (metric, convention) in enumerate(columns):
            ax = axes[r, c]
            block = per_run[(per_run["dataset"] == dataset) & (per_run["metric"] == metric)
                            & (per_run["convention"] == convention)]
            ax.plot(block["run"], block["value"], color="black", linestyle="-", linewidth=1.2, marker=".",
                    markersize=3)
            key = (dataset, metric, convention)
            row = facts.loc[key] if key in facts.index else None
            if row is not None:
                lines = [(name, value, color, style)
                         for name, value, color, style in ((row["best_competitor"], row["best_value"], "red", "--"),
                                                           (row["second_competitor"], row["second_value"], "blue", ":"))
                         if isinstance(name, str) and np.isfinite(value)]
                top = max((value for _, value, _, _ in lines), default=None)
                for name, value, color, style in lines:
                    above = value == top  # the upper line's name above it, the lower's below: never on top of each other
                    ax.axhline(value, color=color, linestyle=style, linewidth=1.2)
                    ax.annotate(name, (1.0, value), xycoords=("axes fraction", "data"), xytext=(-2, 2 if above else -2),
                                textcoords="offset points", ha="right", va="bottom" if above else "top",
                                fontsize=6, color=color)
                ax.margins(y=0.15)
            if r == 0:
                name = metric if convention == "default" else f"{metric} ({convention})"
                ax.set_title(f"{name} {arrow(row['higher_is_better'] if row is not None else None)}", fontsize=9)
            if c == 0:
                ax.set_ylabel(f"{dataset}\nmean over images", fontsize=8)
            if r == len(datasets) - 1:
                ax.set_xlabel("run", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.grid(alpha=0.25, linewidth=0.5)
    handles = [Line2D([], [], color="black", linestyle="-", marker=".", label=f"{method} (each run)"),
               Line2D([], [], color="red", linestyle="--", label="best competitor"),
               Line2D([], [], color="blue", linestyle=":", label="second-best competitor")]
    figure.legend(handles=handles, loc="lower center", ncols=3, fontsize=8, frameon=False)
    runs = int(per_run["run"].max())
    figure.suptitle(f"Reproducibility of {method}: {runs} training runs (DIDFuse Fig. 5 layout)", fontsize=10)
    return figure


def histogram_figure(per_run: pd.DataFrame, method: str, facts: Facts):
    """The spread over runs: a row per dataset, a column per metric, a histogram of the runs' means over images.

    Grey band: mean ± std over runs (ddof 1); black line: the mean. NaN runs
    are left out and counted in the panel's title. The competitors are left
    out (they would squeeze the spread into one bar; :func:`figure5_figure` shows them).

    Args:
        per_run: :func:`per_run_means` rows.
        facts: the facts recorded with the study (the arrows of the titles).
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    figure, axes, datasets, columns = _panel_grid(per_run, hspace=0.45)
    for r, dataset in enumerate(datasets):
        for c, (metric, convention) in enumerate(columns):
            ax = axes[r, c]
            values = per_run.loc[(per_run["dataset"] == dataset) & (per_run["metric"] == metric)
                                 & (per_run["convention"] == convention), "value"].to_numpy(dtype=float)
            finite = values[np.isfinite(values)]
            name = metric if convention == "default" else f"{metric} ({convention})"
            dropped = f", {len(values) - len(finite)} NaN" if len(finite) < len(values) else ""
            ax.set_title(f"{dataset}: {name} {arrow(facts.higher_is_better(metric, convention))}{dropped}", fontsize=8)
            if not len(finite):
                ax.text(0.5, 0.5, "no finite value", ha="center", va="center", transform=ax.transAxes, fontsize=8)
                continue
            mean = float(finite.mean())
            std = float(finite.std(ddof=1)) if len(finite) > 1 else 0.0
            ax.axvspan(mean - std, mean + std, color="0.85", zorder=0)
            ax.hist(finite, bins="auto", color="0.45", edgecolor="black", linewidth=0.5, zorder=2)
            ax.axvline(mean, color="black", linewidth=1.2, zorder=3)
            if c == 0:
                ax.set_ylabel("runs", fontsize=8)
            if r == len(datasets) - 1:
                ax.set_xlabel("mean over images", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.yaxis.get_major_locator().set_params(integer=True)
    handles = [Patch(facecolor="0.45", edgecolor="black", label=f"{method} (runs)"),
               Line2D([], [], color="black", label="mean over runs"), Patch(facecolor="0.85", label="± std over runs")]
    figure.legend(handles=handles, loc="lower center", ncols=3, fontsize=8, frameon=False)
    runs = int(per_run["run"].max())
    figure.suptitle(f"Reproducibility of {method}: each metric over {runs} training runs", fontsize=10)
    return figure

