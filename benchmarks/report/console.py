"""Console output of the runner and the study: plain lines, progress bars and the one-screen leaderboard."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from benchmarks.report.facts import HEADLINE_METRICS, Facts, arrow

__all__ = ["Reporter", "print_summary"]



class Reporter:
    """Console output: plain lines and rich progress bars (quiet on non-zero ranks)."""

    def __init__(self, progress: bool = True) -> None:
        from rich.console import Console

        self.console = Console(highlight=False, soft_wrap=True)
        self.show_progress = progress

    def line(self, text: str) -> None:
        self.console.print(text, markup=False)

    @contextlib.contextmanager
    def progress(self, description: str, total: int) -> Iterator[Any]:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        if not self.show_progress:
            yield lambda: None
            return
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=self.console, transient=False) as bar:
            task = bar.add_task(description, total=total)
            yield lambda: bar.advance(task)


def print_summary(reporter: Reporter, summary: pd.DataFrame, facts: Facts, *, name: str, convention: str, paths: dict[str, Path],
                  results_path: Path, wandb_mode: str, wandb_project: str, wandb_dir: Path) -> None:
    """The leaderboard's headline metrics as one rich table (bold best, underlined second), and where the files are."""
    from rich.table import Table

    from benchmarks.report.leaderboard import rank, ranked_cells

    shown = [m for m in HEADLINE_METRICS if m in set(summary["metric"])] or list(dict.fromkeys(summary["metric"]))[:6]
    view = summary[summary["metric"].isin(shown) & (summary["convention"] == convention)].copy()
    view["_rank"], view["_ok"] = rank(view), ranked_cells(view)
    flagged = view[view["constant_images"] > 0] if "constant_images" in view.columns else view.iloc[:0]
    constant = set(zip(flagged["method"], flagged["dataset"]))  # (method, test set) with constant fused images
    unranked = False
    table = Table(title=f"{name}: mean per test set (bold best, underlined second; "
                        f"all {summary['metric'].nunique()} metrics in leaderboard.md)")
    table.add_column("dataset")
    table.add_column("method")
    for metric in shown:
        higher = facts.higher_is_better(metric, convention)
        table.add_column(f"{metric} {arrow(higher)}", justify="right")
    for dataset, block in view.groupby("dataset", sort=False):
        for method in facts.method_order(block["method"]):
            cells = []
            for metric in shown:
                cell = block[(block["method"] == method) & (block["metric"] == metric)]
                if cell.empty:
                    cells.append("–")
                    continue
                value, place = cell["mean"].iloc[0], cell["_rank"].iloc[0]
                text = "n/a" if not np.isfinite(value) else f"{value:.3f}"
                if np.isfinite(value) and not cell["_ok"].iloc[0] and (method, dataset) not in constant:
                    text, unranked = f"{text}†", True
                cells.append(f"[bold]{text}[/bold]" if place == 1 else f"[underline]{text}[/underline]" if place == 2 else text)
            table.add_row(dataset, f"{method} ⚠" if (method, dataset) in constant else method, *cells)
        table.add_section()
    reporter.console.print(table)
    if constant:
        reporter.line(f"⚠ constant fused images (8-bit std < 1 gray level) from: {', '.join(sorted({m for m, _ in constant}))}: "
                      "their values measure no fusion (counts in leaderboard.csv, per image in fused_stats.csv)")
    if unranked:
        reporter.line("† over another set of images than the others (NaN images left out): not ranked against them")
    reporter.line(f"leaderboard: {paths['md']} (.csv, .tex); per-image results: {results_path}")
    if wandb_mode == "offline":
        reporter.line(f"W&B: offline runs in {wandb_dir}; upload with: wandb sync {wandb_dir}/offline-run-*")
    elif wandb_mode == "online":
        reporter.line(f"W&B: group {name!r} in project {wandb_project!r}")


