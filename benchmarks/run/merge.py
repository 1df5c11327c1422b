"""Merging a run's units into ``results.csv`` (with the facts of its metrics and methods), then its leaderboard,
plots, W&B leaderboard run and summary."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import pandas as pd

from benchmarks.provenance import read_json, write_json
from benchmarks.report.console import Reporter, print_summary
from benchmarks.report.facts import Facts, read_facts
from benchmarks.report.leaderboard import write_leaderboard
from benchmarks.report.results import (KEY, OPTIONAL_COLUMNS, RESULT_COLUMNS, WEIGHTS_COLUMN, RunLayout, marker_weights,
                                       read_results_file)
from benchmarks.run.plan import Plan, RunError
from datamodules.io import atomic_write

__all__ = ["merge_results", "report_run"]


def merge_results(layout: RunLayout, datasets: Sequence[str] = ()) -> pd.DataFrame:
    """Rebuild ``results.csv`` from every done unit's file: exactly one row per key, written atomically; and
    ``metrics.json`` / ``methods.json`` from the facts each unit's marker recorded.

    Rows are ordered by method (reference rules first), seed, then ``datasets``'
    order (the run's test sets; others after them), so tables list the sets as the run did.
    """
    markers = layout.markers()
    facts = Facts()
    for marker in markers:
        facts.add(marker.get("metric_facts", []), {marker["method"]: marker["method_facts"]}
                  if marker.get("method_facts") else {}, layout.marker_of(marker))
    methods = facts.method_order(m["method"] for m in markers)
    datasets = list(datasets) + sorted({m["dataset"] for m in markers} - set(datasets))
    markers.sort(key=lambda m: (methods.index(m["method"]), m["seed"], datasets.index(m["dataset"])))
    frames = []
    for marker in markers:
        path = layout.root / marker["results_file"]
        if path.is_file():
            frame = read_results_file(path)
            frame[WEIGHTS_COLUMN] = marker_weights(marker, layout)  # where this unit's model weights came from
            frames.append(frame)
    results = (pd.concat(frames, ignore_index=True) if frames
               else pd.DataFrame(columns=RESULT_COLUMNS + list(OPTIONAL_COLUMNS) + [WEIGHTS_COLUMN]))
    duplicated = results.duplicated(KEY, keep=False)
    if duplicated.any():
        first = results[duplicated].iloc[0]
        raise RunError(f"{layout.root}: two result rows for {dict(first[KEY])}; a results file was edited by hand?")
    with atomic_write(layout.results, "w", encoding="utf-8", newline="") as handle:
        results.to_csv(handle, index=False, float_format="%.17g")
    _write_fused_stats(layout, markers)
    facts.write(layout.root)
    return results


def _write_fused_stats(layout: RunLayout, markers: list[dict]) -> None:
    """``RUN/fused_stats.csv``: each fused image's 8-bit min, max, std and constant flag, from the done markers."""
    from benchmarks.report.degenerate import STATS_FILE, stats_rows

    with atomic_write(layout.root / STATS_FILE, "w", encoding="utf-8", newline="") as handle:
        stats_rows(markers).to_csv(handle, index=False, float_format="%.17g")


def report_run(plan: Plan, results: pd.DataFrame, tracker, reporter: Reporter) -> pd.DataFrame:
    """Leaderboard files, plots, the W&B leaderboard run and the one-screen summary."""
    from benchmarks.report.leaderboard import summarize

    layout = plan.layout
    if results.empty:
        reporter.line("no results yet")
        return pd.DataFrame()
    from benchmarks.report.degenerate import read_fused_stats

    facts = read_facts(layout.root)
    stats = read_fused_stats(layout.root)
    paths = write_leaderboard(layout.root, results, facts, title=f"Leaderboard: {plan.name}", stats=stats)
    summary = summarize(results, facts, stats)
    plot_paths: list[Path] = []
    if plan.options.plots:
        from benchmarks.report.plots import plot_run

        clock = time.perf_counter()
        plot_paths = plot_run(layout.root, pairs=plan.options.qualitative)
        reporter.line(f"plots: {len(plot_paths)} files in {layout.plots} ({time.perf_counter() - clock:.1f} s)")
    if tracker.enabled:
        record = read_json(layout.leaderboard_wandb) if layout.leaderboard_wandb.is_file() else {}
        run_id = record.get("id") or tracker.new_id()
        write_json(layout.leaderboard_wandb, {"id": run_id, "group": plan.name})
        wandb_run = tracker.start(f"{plan.name}-leaderboard", job_type="leaderboard", run_id=run_id,
                                  config={"benchmark": plan.name, "profile": plan.options.profile,
                                          "seeds": plan.options.seeds, "datasets": list(plan.pairs)})
        try:
            tracker.log_leaderboard(wandb_run, summary, plot_paths)
        finally:
            tracker.finish(wandb_run)
    print_summary(reporter, summary, facts, name=plan.name, convention=plan.options.convention, paths=paths,
                  results_path=layout.results, wandb_mode=tracker.mode, wandb_project=tracker.project,
                  wandb_dir=layout.root / "wandb")
    return summary


