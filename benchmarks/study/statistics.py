"""A study's statistics over runs and its report: per-run means, competitors, ranks, Markdown, W&B; reading a study.

Imports no torch: :func:`read_study` is what the notebooks call.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from benchmarks.provenance import read_json, write_json
from benchmarks.report.console import Reporter
from benchmarks.report.facts import HEADLINE_METRICS, Facts, arrow, read_facts
from benchmarks.report.leaderboard import summarize
from benchmarks.report.results import read_results
from benchmarks.study.figures import plot_figure5
from benchmarks.study.plan import STUDY_FILE, StudyError, seed_list
from datamodules.io import atomic_write

__all__ = ["REPORT_COLUMNS", "competitor_means", "per_run_means", "read_study", "report_study", "study_report",
           "to_markdown", "write_report"]

REPORT_WANDB_FILE = Path("units") / "repro-report.wandb.json"
REPORT_COLUMNS = ["dataset", "metric", "convention", "higher_is_better", "unit", "n_runs", "mean", "std", "min", "max",
                  "best_competitor", "best_value", "second_competitor", "second_value", "runs_first", "runs_second"]


def per_run_means(results: pd.DataFrame, method: str, facts: Facts) -> pd.DataFrame:
    """The method's mean over images per (seed, dataset, metric): what Figure 5 plots (metrics in Figure 5's
    order, then the recorded order of ``facts``).

    Returns:
        Columns ``run`` (1-based, in seed order), ``seed``, ``dataset``,
        ``metric``, ``convention``, ``value``, ``n_images``; NaN when any image's value is NaN.
    """
    rows = results[results["method"] == method]
    if rows.empty:
        raise StudyError(f"no results of method {method!r}")
    rows = rows.assign(value=pd.to_numeric(rows["value"], errors="coerce"))
    means = rows.groupby(["seed", "dataset", "metric", "convention"], sort=False).agg(
        value=("value", lambda v: v.mean(skipna=False)), n_images=("image", "nunique")).reset_index()
    seeds = sorted(int(s) for s in means["seed"].unique())
    means.insert(0, "run", means["seed"].map({s: i + 1 for i, s in enumerate(seeds)}))
    datasets = list(dict.fromkeys(rows["dataset"]))
    names = list(dict.fromkeys(means["metric"]))
    figure5 = [m for m in HEADLINE_METRICS if m in names]  # Figure 5's order, then the run's
    order = {m: i for i, m in enumerate(figure5 + [m for m in facts.metric_order(names) if m not in figure5])}
    means = means.assign(_d=means["dataset"].map(datasets.index), _m=means["metric"].map(order))
    return means.sort_values(["_d", "_m", "convention", "run"]).drop(columns=["_d", "_m"]).reset_index(drop=True)


def competitor_means(run_dir: str | os.PathLike, exclude: str | None = None) -> pd.DataFrame:
    """Each competitor's mean per (dataset, metric, convention) from a run dir of ``ivif-bench run``.

    The mean is the leaderboard's (over images; over seeds of per-seed means
    when the run has several seeds). ``exclude`` drops the studied method.

    Returns:
        Columns ``method``, ``dataset``, ``metric``, ``convention``, ``mean``, ``n_images``, ``images`` (a frozenset).
    """
    results = read_results(run_dir)
    if exclude is not None:
        results = results[results["method"] != exclude]
    if results.empty:
        raise StudyError(f"{run_dir}: no competitor results (only {exclude!r})")
    summary = summarize(results, read_facts(run_dir))
    # the study compares means over all its images: a competitor's mean that left NaN images out is not comparable
    summary.loc[summary["n_nan"] > 0, "mean"] = math.nan
    images = results.groupby(["method", "dataset"])["image"].agg(frozenset)
    summary["images"] = [images.get((m, d), frozenset()) for m, d in zip(summary["method"], summary["dataset"])]
    return summary[["method", "dataset", "metric", "convention", "mean", "n_images", "images"]]


def study_report(per_run: pd.DataFrame, facts: Facts, competitors: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per (dataset, metric): mean, std (ddof 1), min, max over runs; with competitors, places.

    A run ranks ``1 + (number of competitors strictly better)`` in the
    metric's direction (from the ``facts`` recorded with the study), comparing
    full-precision means; ``runs_first`` / ``runs_second`` count the runs in
    first / second place. A metric without a recorded direction is not ranked
    (no best competitor, no places).

    Returns:
        Rows with :data:`REPORT_COLUMNS`.
    """
    rows = []
    for (dataset, metric, convention), block in per_run.groupby(["dataset", "metric", "convention"], sort=False):
        values = block["value"].to_numpy(dtype=float)
        higher, unit = facts.higher_is_better(metric, convention), facts.unit(metric, convention)
        row = {"dataset": dataset, "metric": metric, "convention": convention, "higher_is_better": higher, "unit": unit,
               "n_runs": len(values), "mean": float(np.mean(values)),
               "std": float(np.std(values, ddof=1)) if len(values) > 1 else math.nan,
               "min": float(np.min(values)), "max": float(np.max(values)),
               "best_competitor": None, "best_value": math.nan, "second_competitor": None, "second_value": math.nan,
               "runs_first": None, "runs_second": None}
        if competitors is not None and higher is not None:
            others = competitors[(competitors["dataset"] == dataset) & (competitors["metric"] == metric)
                                 & (competitors["convention"] == convention)].dropna(subset=["mean"])
            if not others.empty:
                ordered = others.sort_values("mean", ascending=not higher)
                row["best_competitor"], row["best_value"] = ordered["method"].iloc[0], float(ordered["mean"].iloc[0])
                if len(ordered) > 1:
                    row["second_competitor"], row["second_value"] = (ordered["method"].iloc[1],
                                                                     float(ordered["mean"].iloc[1]))
                means = others["mean"].to_numpy(dtype=float)
                better = [(means > v).sum() if higher else (means < v).sum() for v in values]
                places = [1 + int(b) if np.isfinite(v) else 0 for b, v in zip(better, values)]
                row["runs_first"] = sum(p == 1 for p in places)
                row["runs_second"] = sum(p == 2 for p in places)
        rows.append(row)
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


def _fmt(value: Any, decimals: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{value:.{decimals}f}"


def to_markdown(report: pd.DataFrame, method: str, seeds: Sequence[int], title: str, notes: Sequence[str] = ()) -> str:
    """The report as Markdown: a table per dataset, a row per metric."""
    competitors = report["best_competitor"].notna().any()
    lines = [f"# {title}", "",
             f"{method} trained {len(seeds)} times (seeds {seed_list(seeds)}); each value is a run's mean over the "
             "test images (8-bit fused PNGs); mean, std (ddof 1), min and max run over the runs. "
             "↑ higher is better, ↓ lower is better (? no direction recorded: not ranked).", ""]
    if competitors:
        lines += ["Best / second: the best and second-best competitor's mean (leaderboard of the competitors' run); "
                  "1st / 2nd: in how many runs the method ranks first / second against them.", ""]
    lines += [f"- {note}" for note in notes] + ([""] if notes else [])
    for dataset, block in report.groupby("dataset", sort=False):
        n = int(block["n_runs"].max())
        header = ["Metric", "mean ± std", "min", "max"]
        if competitors:
            header += ["best competitor", "second competitor", "1st", "2nd"]
        lines += [f"## {dataset} ({n} runs)", "", "| " + " | ".join(header) + " |",
                  "|---|" + "---:|" * (len(header) - 1)]
        for row in block.itertuples(index=False):
            name = row.metric if row.convention == "default" else f"{row.metric} ({row.convention})"
            cells = [f"{name} {arrow(row.higher_is_better)}", f"{_fmt(row.mean)} ± {_fmt(row.std)}",
                     _fmt(row.min), _fmt(row.max)]
            if competitors:
                cells += [f"{row.best_competitor} {_fmt(row.best_value)}" if row.best_competitor else "–",
                          f"{row.second_competitor} {_fmt(row.second_value)}" if row.second_competitor else "–",
                          "–" if row.runs_first is None or pd.isna(row.runs_first) else f"{int(row.runs_first)}/{row.n_runs}",
                          "–" if row.runs_second is None or pd.isna(row.runs_second) else f"{int(row.runs_second)}/{row.n_runs}"]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


def read_study(study_dir: str | os.PathLike, competitors: str | os.PathLike | None = None) -> dict[str, Any]:
    """What a finished study dir holds, as tables: for notebooks and scripts.

    Args:
        study_dir: a dir written by ``ivif-bench repro`` (or ``repro-merge``).
        competitors: a run dir of ``ivif-bench run`` to rank the runs against
            instead of the competitors the study was reported with.

    Returns:
        ``{"study": study.json, "method": str, "seeds": [int], "results": per-image rows,
        "runs": per_run_means rows, "report": study_report rows, "facts": the facts recorded with the study}``.

    Raises:
        StudyError: not a study dir, or a study without its report (a shard, or unfinished).
    """
    root = Path(study_dir).expanduser()
    if not (root / STUDY_FILE).is_file():
        raise StudyError(f"{root}: no {STUDY_FILE}; not an ivif-bench repro dir (ivif-bench repro --out DIR)")
    record = read_json(root / STUDY_FILE)
    method, seeds = record["method"], [int(s) for s in record["seeds"]]
    if not (root / "repro_report.csv").is_file():
        raise StudyError(f"{root}: no repro_report.csv; an unfinished study or a shard (finish it with the same "
                         "ivif-bench repro command, or join the shards with ivif-bench repro-merge)")
    results = read_results(root)
    results = results[(results["method"] == method) & results["seed"].isin(seeds)].reset_index(drop=True)
    facts = read_facts(root)
    per_run = per_run_means(results, method, facts)
    if competitors is not None:
        report = study_report(per_run, facts, _competitors(competitors, method, facts))
    else:
        report = pd.read_csv(root / "repro_report.csv", dtype={"best_competitor": object, "second_competitor": object})
        for column in ("best_competitor", "second_competitor", "runs_first", "runs_second", "higher_is_better"):
            report[column] = report[column].astype(object).where(report[column].notna(), None)
    return {"study": record, "method": method, "seeds": seeds, "results": results, "runs": per_run, "report": report,
            "facts": facts}


def _competitors(run_dir: str | os.PathLike, method: str, facts: Facts) -> pd.DataFrame:
    """:func:`competitor_means`, after checking the competitors' run records each metric as the study does."""
    facts.merged(read_facts(run_dir), f"--competitors {run_dir}")
    return competitor_means(run_dir, exclude=method)


def write_report(out_dir: str | os.PathLike, results: pd.DataFrame, method: str, seeds: Sequence[int],
                 competitors: str | os.PathLike | None = None, title: str | None = None) -> dict[str, Any]:
    """Write ``repro_runs.csv``, ``repro_report.{csv,md}`` and ``plots/repro_figure5.{png,pdf}``, atomically.

    Args:
        results: per-image rows (``results.csv`` columns) of the study.
        seeds: every seed of the study; a seed without results is an error.
        competitors: a run dir of ``ivif-bench run``.

    Returns:
        ``{"report": DataFrame, "runs": DataFrame, "paths": {name: Path}}``.
    """
    out_dir = Path(out_dir)
    have = {int(s) for s in results.loc[results["method"] == method, "seed"].unique()}
    missing = [s for s in seeds if s not in have]
    if missing:
        raise StudyError(f"{out_dir}: no results for seed(s) {seed_list(missing)} of the study")
    facts = read_facts(out_dir)
    per_run = per_run_means(results[results["seed"].isin(list(seeds))], method, facts)
    notes = []
    table = None
    if competitors is not None:
        table = _competitors(competitors, method, facts)
        study_images = results.groupby("dataset")["image"].agg(frozenset)
        for dataset in per_run["dataset"].unique():
            block = table[table["dataset"] == dataset]
            if block.empty:
                notes.append(f"{dataset}: no competitor results in {competitors}")
                continue
            for name, images in block.groupby("method")["images"].first().items():
                if images != study_images[dataset]:
                    notes.append(f"{dataset}: competitor {name} was evaluated on {len(images)} image(s), the study on "
                                 f"{len(study_images[dataset])} (not the same pairs: compare with care)")
        notes.append(f"competitors: {', '.join(read_facts(competitors).method_order(table['method']))} "
                     f"from {competitors}")
    report = study_report(per_run, facts, table)
    paths = {"runs": out_dir / "repro_runs.csv", "csv": out_dir / "repro_report.csv", "md": out_dir / "repro_report.md"}
    with atomic_write(paths["runs"], "w", encoding="utf-8", newline="") as handle:
        per_run.to_csv(handle, index=False, float_format="%.17g")
    with atomic_write(paths["csv"], "w", encoding="utf-8", newline="") as handle:
        report.to_csv(handle, index=False, float_format="%.17g")
    with atomic_write(paths["md"], "w", encoding="utf-8") as handle:
        handle.write(to_markdown(report, method, seeds, title or f"Reproducibility of {method}", notes))
    png, pdf = plot_figure5(per_run, report, method, out_dir / "plots" / "repro_figure5")
    paths.update(png=png, pdf=pdf)
    return {"report": report, "runs": per_run, "paths": paths}


def report_study(out_dir: Path, results: pd.DataFrame, method: str, seeds: Sequence[int], competitors=None,
                 title: str | None = None, tracker=None, wandb_config: dict | None = None, reporter=None) -> pd.DataFrame:
    """:func:`write_report`, then the W&B report run of the study's group (table + figure), then a summary on screen."""
    reporter = reporter or Reporter(progress=False)
    written = write_report(out_dir, results, method, seeds, competitors, title)
    report, paths = written["report"], written["paths"]
    if tracker is not None and tracker.enabled:
        import wandb

        record_path = Path(out_dir) / REPORT_WANDB_FILE
        run_id = (read_json(record_path).get("id") if record_path.is_file() else None) or tracker.new_id()
        write_json(record_path, {"id": run_id, "group": tracker.group})
        run = tracker.start(f"{tracker.group}-report", job_type="repro-report", run_id=run_id,
                            config=dict(wandb_config or {}, method=method, seeds=list(seeds)))
        try:
            run.log({"repro/report": wandb.Table(dataframe=report.astype({"higher_is_better": str})),
                     "repro/runs": wandb.Table(dataframe=written["runs"]),
                     "repro/figure5": wandb.Image(str(paths["png"]))})
        finally:
            tracker.finish(run)
    shown = report.assign(text=[f"{m:.3f} ± {s:.3f}" if np.isfinite(s) else f"{m:.3f}"
                                for m, s in zip(report["mean"], report["std"])])
    table = shown.pivot(index="dataset", columns="metric", values="text").reindex(
        index=list(dict.fromkeys(report["dataset"])), columns=list(dict.fromkeys(report["metric"])))
    reporter.line(f"{method}, {len(seeds)} runs: mean ± std over runs of the mean over images\n{table.to_string()}")
    reporter.line(f"report: {paths['md']} (.csv), per-run means: {paths['runs']}, figure: {paths['png']} (.pdf)")
    return report
