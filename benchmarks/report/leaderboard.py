"""The leaderboard: per-image results summarised per (method, dataset, metric), as CSV, Markdown and LaTeX.

Laid out like Table 4 of the DIDFuse paper: one block per test set, metrics as
rows, methods as columns, the best value in bold and the second underlined,
each metric ranked in its own direction (up or down), and a footnote giving
each metric's definition and unit. Directions, units and definitions come from
the facts recorded with the results (:mod:`benchmarks.report.facts`): a metric
without them is shown with "?" and never ranked. Reference rules come first.

A test set fused in colour says so in its heading (``vifb (21 images; colour fusion,
colour rule pil-l)``) and ``leaderboard.csv`` has the ``color_rule`` of each row's images.

Statistics: with one seed, ``mean`` and ``std`` (sample standard deviation,
ddof 1) run over the images and ``n`` counts them; with several seeds, the
mean over images is taken per seed first, then ``mean`` / ``std`` run over
the seeds and ``n`` counts the seeds (``n_images`` is kept beside it).

Example:
    >>> import pandas as pd
    >>> from benchmarks.report.facts import Facts
    >>> from benchmarks.report.leaderboard import summarize
    >>> rows = pd.DataFrame({"method": ["max", "max"], "seed": [0, 0], "dataset": ["tno", "tno"],
    ...                      "image": ["1", "2"], "metric": ["EN", "EN"], "value": [6.0, 7.0],
    ...                      "convention": ["default", "default"]})
    >>> summarize(rows, Facts())[["method", "mean", "n", "higher_is_better"]].values.tolist()
    [['max', 6.5, 2, None]]
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.report.facts import Facts
from benchmarks.report.results import RESULT_COLUMNS
from datamodules.errors import UserError
from datamodules.io import atomic_write

__all__ = ["SUMMARY_COLUMNS", "per_image_table", "rank", "summarize", "to_latex", "to_markdown", "write_leaderboard"]

#: columns of ``leaderboard.csv``
SUMMARY_COLUMNS = ["method", "dataset", "metric", "convention", "mean", "std", "n", "n_seeds", "n_images",
                   "higher_is_better", "unit"]
DECIMALS = 3


def summarize(results: pd.DataFrame, facts: Facts) -> pd.DataFrame:
    """``leaderboard.csv``: mean, std, n per (method, dataset, metric, convention); see the module docstring.

    Args:
        results: per-image rows (:func:`benchmarks.report.results.read_results`).
        facts: the facts recorded with them (:func:`benchmarks.report.facts.read_facts`):
            ``higher_is_better`` is ``None`` for a metric without facts.
    """
    missing = [c for c in RESULT_COLUMNS if c not in results.columns]
    if missing:
        raise ValueError(f"results miss column(s) {', '.join(missing)}")
    group = ["method", "dataset", "metric", "convention"]
    results = results.assign(value=pd.to_numeric(results["value"], errors="coerce"))
    results = results.assign(value=results["value"].where(np.isfinite(results["value"])))
    over_images = _stats(results, group)
    per_seed = results.groupby(group + ["seed"], sort=False).agg(
        value=("value", lambda v: v.mean(skipna=False)), n_images=("image", "nunique")).reset_index()
    over_seeds = _stats(per_seed, group)
    n_seeds = per_seed.groupby(group, sort=False).agg(n_seeds=("seed", "size"), n_images=("n_images", "max"))
    rows = []
    for key, counts in n_seeds.iterrows():
        stats = over_seeds.loc[key] if counts["n_seeds"] > 1 else over_images.loc[key]
        rows.append({**dict(zip(group, key)), "mean": stats["mean"], "std": stats["std"], "n": int(stats["n"]),
                     "n_seeds": int(counts["n_seeds"]), "n_images": int(counts["n_images"]),
                     "higher_is_better": facts.higher_is_better(key[2], key[3]), "unit": facts.unit(key[2], key[3])})
    summary = _with_color_rules(pd.DataFrame(rows, columns=SUMMARY_COLUMNS), results, group)
    datasets = list(dict.fromkeys(results["dataset"]))
    order = {name: i for i, name in enumerate(facts.method_order(summary["method"]))}
    metric_rank = {name: i for i, name in enumerate(facts.metric_order(summary["metric"]))}
    summary = summary.assign(_d=summary["dataset"].map(datasets.index), _m=summary["metric"].map(metric_rank),
                             _o=summary["method"].map(order))
    return summary.sort_values(["_d", "convention", "_m", "_o"]).drop(columns=["_d", "_m", "_o"]).reset_index(drop=True)


def per_image_table(results: pd.DataFrame, dataset: str, facts: Facts, sort_by: str | None = None,
                    convention: str = "default") -> pd.DataFrame:
    """One test set's per-image values: a row per (method, seed, image), a column per metric.

    Args:
        results: per-image rows (:func:`read_results`).
        dataset: the test set to show.
        facts: the facts recorded with the results (method order, directions).
        sort_by: a metric: rows best first in that metric's direction (NaN last);
            default: methods in leaderboard order, then seeds, then images by id.
        convention: the metric convention whose values are shown.

    Raises:
        UserError: no rows for ``dataset`` / ``convention``, ``sort_by`` not among their metrics,
            or a ``sort_by`` metric whose direction was not recorded.
    """
    block = results[(results["dataset"] == dataset) & (results["convention"] == convention)]
    if block.empty:
        known = sorted(set(results["dataset"]))
        raise UserError(f"no results for dataset {dataset!r} (convention {convention!r}); the results have "
                         f"{', '.join(known)}")
    table = block.pivot_table(index=["method", "seed", "image"], columns="metric", values="value",
                              aggfunc="first", dropna=False, sort=False)
    table = table[facts.metric_order(table.columns, convention)]
    table.columns.name = None
    if sort_by is None:
        methods = facts.method_order(block["method"])
        return table.loc[sorted(table.index, key=lambda row: (methods.index(row[0]), int(row[1]), _natural(row[2])))]
    if sort_by not in table.columns:
        raise UserError(f"sort_by={sort_by!r}: not a metric of these results ({', '.join(table.columns)})")
    higher = facts.higher_is_better(sort_by, convention)
    if higher is None:
        raise UserError(f"sort_by={sort_by!r}: no direction is recorded for it with these results, so there is no "
                        "'best first'; sort the table yourself (table.sort_values)")
    return table.sort_values(sort_by, ascending=not higher, na_position="last", kind="stable")


def _natural(pair_id: str) -> tuple:
    """Sort key of a pair id: numeric ids in numeric order, before any other id."""
    return (0, int(pair_id), "") if str(pair_id).isdigit() else (1, 0, str(pair_id))


def _stats(frame: pd.DataFrame, group: list[str]) -> pd.DataFrame:
    """mean, std (ddof 1) and n of ``value`` per group; NaN when any value of the group is NaN."""
    grouped = frame.groupby(group, sort=False)["value"]
    stats = grouped.agg(["mean", "std", "size"]).rename(columns={"size": "n"})
    has_nan = frame["value"].isna().groupby([frame[c] for c in group], sort=False).any()
    stats.loc[has_nan[has_nan].index, ["mean", "std"]] = math.nan
    return stats


def rank(summary: pd.DataFrame, decimals: int = DECIMALS) -> pd.Series:
    """1 for the best, 2 for the second best per (dataset, metric, convention), else 0.

    Values are compared as displayed (rounded to ``decimals``), so ties share a
    rank; NaN is never ranked; lower ranks first for metrics where lower is better;
    a metric whose direction is unknown (``higher_is_better`` ``None``) is not ranked.
    """
    ranks = pd.Series(0, index=summary.index, dtype=int)
    for _, block in summary.groupby(["dataset", "metric", "convention"], sort=False):
        values = block["mean"].round(decimals)
        higher = block["higher_is_better"].iloc[0]
        if higher is None or pd.isna(higher):
            continue
        higher = bool(higher)
        distinct = sorted(values.dropna().unique(), reverse=higher)
        for place, value in enumerate(distinct[:2], start=1):
            ranks[values.index[values == value]] = place
    return ranks


def _with_color_rules(summary: pd.DataFrame, results: pd.DataFrame, group: list[str]) -> pd.DataFrame:
    """``summary`` with a ``color_rule`` column (the rules of its images, comma-joined) when ``results`` has one."""
    if "color_rule" not in results.columns:
        return summary
    rules = results.groupby(group, sort=False)["color_rule"].agg(lambda r: ",".join(sorted(set(r.astype(str)))))
    return summary.merge(rules.rename("color_rule").reset_index(), on=group, how="left")


def _colour_note(block: pd.DataFrame) -> str:
    """``"; colour fusion, colour rule pil-l"`` for a test set whose images were colour, else ``""``."""
    if "color_rule" not in block.columns:
        return ""
    rules = sorted({r for text in block["color_rule"].dropna() for r in str(text).split(",")} - {"gray"})
    return f"; colour fusion, colour rule {', '.join(rules)}" if rules else ""


def _label(metric: str, convention: str, higher: bool | None, arrows: tuple[str, str, str]) -> str:
    name = metric if convention == "default" else f"{metric} ({convention})"
    return f"{name} {arrows[2] if higher is None else arrows[0] if higher else arrows[1]}"


def _blocks(summary: pd.DataFrame, facts: Facts):
    """Yield (dataset, methods, n_text, rows) with rows = [(metric, convention, higher, [(mean, rank)...])]."""
    summary = summary.assign(_rank=rank(summary))
    methods = facts.method_order(summary["method"])
    for dataset, block in summary.groupby("dataset", sort=False):
        counts = sorted(set(block["n_images"].astype(int)))
        seeds = sorted(set(block["n_seeds"].astype(int)))
        n_text = f"{'/'.join(map(str, counts))} images" + (f", {'/'.join(map(str, seeds))} seeds" if seeds != [1] else "")
        n_text += _colour_note(block)
        rows = []
        for (metric, convention), metric_block in block.groupby(["metric", "convention"], sort=False):
            by_method = metric_block.set_index("method")
            cells = [(by_method.at[m, "mean"], by_method.at[m, "_rank"]) if m in by_method.index else (None, 0)
                     for m in methods]
            rows.append((metric, convention, facts.higher_is_better(metric, convention), cells))
        yield dataset, methods, n_text, rows


def _footnote_lines(summary: pd.DataFrame, facts: Facts) -> list[tuple[str, str, str, str]]:
    seen = summary[["metric", "convention"]].drop_duplicates().itertuples(index=False)
    lines = []
    for metric, convention in seen:
        higher = facts.higher_is_better(metric, convention)
        direction = "direction unknown" if higher is None else "higher is better" if higher else "lower is better"
        lines.append((metric if convention == "default" else f"{metric} ({convention})", direction,
                      facts.unit(metric, convention), facts.definition(metric, convention)))
    return lines


def _format(value: float | None, decimals: int = DECIMALS) -> str | None:
    if value is None:
        return None
    return "n/a" if not np.isfinite(value) else f"{value:.{decimals}f}"


def to_markdown(summary: pd.DataFrame, facts: Facts, title: str = "Leaderboard") -> str:
    """The leaderboard as Markdown: a table per dataset, **bold** best, <u>underlined</u> second."""
    several_seeds = bool((summary["n_seeds"] > 1).any())
    lines = [f"# {title}", "",
             ("Mean over seeds of the per-seed mean over images" if several_seeds else "Mean over images")
             + " (std and n in `leaderboard.csv`). **Bold**: best; <u>underlined</u>: second best; "
             "↑ higher is better, ↓ lower is better (? no direction recorded: not ranked). "
             "Every metric is computed from the 8-bit fused PNGs.", ""]
    for dataset, methods, n_text, rows in _blocks(summary, facts):
        lines += [f"## {dataset} ({n_text})", "", "| Metric | " + " | ".join(methods) + " |",
                  "|---|" + "---:|" * len(methods)]
        for metric, convention, higher, cells in rows:
            texts = []
            for value, place in cells:
                text = _format(value)
                text = "–" if text is None else text
                texts.append(f"**{text}**" if place == 1 else f"<u>{text}</u>" if place == 2 else text)
            lines.append(f"| {_label(metric, convention, higher, ('↑', '↓', '?'))} | " + " | ".join(texts) + " |")
        lines.append("")
    lines += ["### Metrics", ""]
    lines += [f"- **{name}** ({direction}{'; ' + unit if unit else ''}): {definition}"
              for name, direction, unit, definition in _footnote_lines(summary, facts)]
    return "\n".join(lines) + "\n"


def _tex(text: str) -> str:
    for char, escaped in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"), ("#", r"\#"),
                          ("_", r"\_"), ("{", r"\{"), ("}", r"\}"), ("~", r"\textasciitilde{}"),
                          ("^", r"\textasciicircum{}")):
        text = text.replace(char, escaped)
    return text


def to_latex(summary: pd.DataFrame, facts: Facts, caption: str = "Quantitative results of the fusion methods.") -> str:
    """The leaderboard as a LaTeX ``table`` (needs ``booktabs``): bold best, underlined second, footnote of metrics."""
    blocks = list(_blocks(summary, facts))
    methods = blocks[0][1] if blocks else []
    lines = [r"% generated by ivif-bench; needs \usepackage{booktabs}", r"\begin{table}[t]", r"\centering",
             rf"\caption{{{_tex(caption)} The best value is in bold and the second best underlined; "
             r"$\uparrow$: higher is better, $\downarrow$: lower is better.}",
             r"\begin{tabular}{l" + "r" * len(methods) + "}", r"\toprule",
             "Metric & " + " & ".join(_tex(m) for m in methods) + r" \\"]
    for dataset, _, n_text, rows in blocks:
        lines += [r"\midrule", rf"\multicolumn{{{len(methods) + 1}}}{{l}}{{\textit{{{_tex(dataset)}}} ({_tex(n_text)})}} \\",
                  r"\midrule"]
        for metric, convention, higher, cells in rows:
            texts = []
            for value, place in cells:
                text = _format(value)
                text = "--" if text is None else text
                texts.append(rf"\textbf{{{text}}}" if place == 1 else rf"\underline{{{text}}}" if place == 2 else text)
            label = _tex(metric if convention == "default" else f"{metric} ({convention})")
            arrow = "?" if higher is None else r"$\uparrow$" if higher else r"$\downarrow$"
            lines.append(f"{label}{arrow} & " + " & ".join(texts) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\par\smallskip", r"\footnotesize"]
    notes = [rf"{_tex(name)} ({_tex(direction)}{'; ' + _tex(unit) if unit else ''}): {_tex(definition)}"
             for name, direction, unit, definition in _footnote_lines(summary, facts)]
    lines.append(r"\raggedright " + r" \\ ".join(notes))
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def write_leaderboard(out_dir: str | os.PathLike, results: pd.DataFrame, facts: Facts,
                      title: str = "Leaderboard") -> dict[str, Path]:
    """Write ``leaderboard.csv``, ``leaderboard.md`` and ``leaderboard.tex`` into ``out_dir``, atomically.

    Returns:
        ``{"csv": path, "md": path, "tex": path}``.
    """
    out_dir = Path(out_dir)
    summary = summarize(results, facts)
    paths = {kind: out_dir / f"leaderboard.{kind}" for kind in ("csv", "md", "tex")}
    with atomic_write(paths["csv"], "w", encoding="utf-8", newline="") as handle:
        summary.to_csv(handle, index=False, float_format="%.10g")
    with atomic_write(paths["md"], "w", encoding="utf-8") as handle:
        handle.write(to_markdown(summary, facts, title))
    with atomic_write(paths["tex"], "w", encoding="utf-8") as handle:
        handle.write(to_latex(summary, facts, f"{title}: quantitative results."))
    return paths

