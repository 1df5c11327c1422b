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

NaN images (a metric undefined on an image, e.g. MS-SSIM with a negative
contrast-structure term) are left out of their cell's mean (nanmean) and
counted: ``n_images`` is the number of images the mean is over, ``n_nan`` the
number left out (with several seeds an image NaN in any seed is left out of
every seed, so that each seed averages the same images). ``image_set``
identifies the set of images a cell averages: cells over different image sets
are never ranked against each other. In each row (dataset, metric) the cells
over the most common set (the largest on a tie) are ranked; the others are
shown with their n and a dagger, unranked. Constant fused images
(:mod:`benchmarks.report.degenerate`) are counted in ``constant_images`` and
marked; a method whose every fused image of a set is constant is not ranked there.

Example:
    >>> import pandas as pd
    >>> from benchmarks.report.degenerate import CONSTANT_STD_LEVELS, constant_counts
from benchmarks.report.facts import Facts
    >>> from benchmarks.report.leaderboard import summarize
    >>> rows = pd.DataFrame({"method": ["max", "max"], "seed": [0, 0], "dataset": ["tno", "tno"],
    ...                      "image": ["1", "2"], "metric": ["EN", "EN"], "value": [6.0, 7.0],
    ...                      "convention": ["default", "default"]})
    >>> summarize(rows, Facts())[["method", "mean", "n", "higher_is_better"]].values.tolist()
    [['max', 6.5, 2, None]]
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.report.degenerate import CONSTANT_STD_LEVELS, constant_counts
from benchmarks.report.facts import Facts
from benchmarks.report.results import RESULT_COLUMNS, WEIGHTS_COLUMN, describe_weights
from datamodules.errors import UserError
from datamodules.io import atomic_write

__all__ = ["NAN_RULE", "SUMMARY_COLUMNS", "per_image_table", "rank", "ranked_cells", "summarize", "to_latex", "to_markdown",
           "write_leaderboard"]

#: columns of ``leaderboard.csv``
SUMMARY_COLUMNS = ["method", "dataset", "metric", "convention", "mean", "std", "n", "n_seeds", "n_images",
                   "n_nan", "image_set", "constant_images", "higher_is_better", "unit", "weights"]
DECIMALS = 3


def summarize(results: pd.DataFrame, facts: Facts, stats: pd.DataFrame | None = None) -> pd.DataFrame:
    """``leaderboard.csv``: mean, std, n per (method, dataset, metric, convention); see the module docstring.

    Args:
        results: per-image rows (:func:`benchmarks.report.results.read_results`).
        facts: the facts recorded with them (:func:`benchmarks.report.facts.read_facts`):
            ``higher_is_better`` is ``None`` for a metric without facts.
        stats: the fused images' statistics (``fused_stats.csv``, :mod:`benchmarks.report.degenerate`);
            ``None``: no constant-image counts (0).
    """
    missing = [c for c in RESULT_COLUMNS if c not in results.columns]
    if missing:
        raise ValueError(f"results miss column(s) {', '.join(missing)}")
    group = ["method", "dataset", "metric", "convention"]
    results = results.assign(value=pd.to_numeric(results["value"], errors="coerce"))
    results = results.assign(value=results["value"].where(np.isfinite(results["value"])))
    constant = constant_counts(stats)
    weights = _weights_per_group(results, group)
    rows = []
    for key, block in results.groupby(group, sort=False):
        cell = dict(zip(group, key))
        rows.append({**cell, **_cell_stats(block), "constant_images": constant.get((cell["method"], cell["dataset"]), 0),
                     "higher_is_better": facts.higher_is_better(key[2], key[3]), "unit": facts.unit(key[2], key[3]),
                     "weights": weights.get(key)})
    summary = _with_color_rules(pd.DataFrame(rows, columns=SUMMARY_COLUMNS), results, group)
    datasets = list(dict.fromkeys(results["dataset"]))
    order = {name: i for i, name in enumerate(facts.method_order(summary["method"]))}
    metric_rank = {name: i for i, name in enumerate(facts.metric_order(summary["metric"]))}
    summary = summary.assign(_d=summary["dataset"].map(datasets.index), _m=summary["metric"].map(metric_rank),
                             _o=summary["method"].map(order))
    return summary.sort_values(["_d", "convention", "_m", "_o"]).drop(columns=["_d", "_m", "_o"]).reset_index(drop=True)


def _cell_stats(block: pd.DataFrame) -> dict:
    """One cell's statistics: the images finite in every seed are kept (nanmean), the others counted in n_nan."""
    seeds = list(dict.fromkeys(block["seed"]))
    images = list(dict.fromkeys(block["image"].astype(str)))
    finite = block.assign(image=block["image"].astype(str), ok=block["value"].notna())
    per_image = finite.groupby("image", sort=False).agg(ok=("ok", "all"), seeds=("seed", "nunique"))
    kept = [i for i in images if per_image.at[i, "ok"] and per_image.at[i, "seeds"] == len(seeds)]
    values = finite[finite["image"].isin(kept)]
    if len(seeds) == 1:
        column = values["value"]
        n = len(column)
    else:
        column = values.groupby("seed", sort=False)["value"].mean() if kept else pd.Series(dtype=float)
        n = len(seeds)
    mean = float(column.mean()) if len(column) else math.nan
    std = float(column.std(ddof=1)) if len(column) > 1 else math.nan
    return {"mean": mean, "std": std, "n": int(n), "n_seeds": len(seeds), "n_images": len(kept),
            "n_nan": len(images) - len(kept), "image_set": _set_id(kept)}


def _set_id(images) -> str:
    """A short id of a set of image ids (equal sets, equal ids): what the ranking compares."""
    text = "\n".join(sorted(map(str, images)))
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def _weights_per_group(results: pd.DataFrame, group: list[str]) -> dict[tuple, str]:
    """``{group key: describe_weights(its rows' weights)}``; empty for results without the ``weights`` column."""
    if WEIGHTS_COLUMN not in results.columns:
        return {}
    return {key: describe_weights(frame[WEIGHTS_COLUMN]) for key, frame in results.groupby(group, sort=False)}


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


def rank(summary: pd.DataFrame, decimals: int = DECIMALS) -> pd.Series:
    """1 for the best, 2 for the second best per (dataset, metric, convention), else 0.

    Values are compared as displayed (rounded to ``decimals``), so ties share a
    rank; NaN is never ranked; lower ranks first for metrics where lower is better;
    a metric whose direction is unknown (``higher_is_better`` ``None``) is not ranked;
    only the cells over the row's ranked image set (:func:`ranked_cells`) compete.
    """
    ranks = pd.Series(0, index=summary.index, dtype=int)
    eligible = ranked_cells(summary)
    for _, block in summary.groupby(["dataset", "metric", "convention"], sort=False):
        higher = block["higher_is_better"].iloc[0]
        if higher is None or pd.isna(higher):
            continue
        higher = bool(higher)
        values = block.loc[eligible[block.index], "mean"].round(decimals)
        distinct = sorted(values.dropna().unique(), reverse=higher)
        for place, value in enumerate(distinct[:2], start=1):
            ranks[values.index[values == value]] = place
    return ranks


def _all_constant(summary: pd.DataFrame) -> pd.Series:
    """Cells of a method whose every fused image of the set (every seed) is constant."""
    if "constant_images" not in summary.columns:
        return pd.Series(False, index=summary.index)
    total = (summary["n_images"] + summary.get("n_nan", 0)) * summary["n_seeds"]
    return (summary["constant_images"] > 0) & (summary["constant_images"] >= total)


def ranked_cells(summary: pd.DataFrame) -> pd.Series:
    """Which cells may be ranked: finite, not all-constant, and over their row's ranked image set.

    A row's (dataset, metric, convention) ranked set is the ``image_set`` most of
    its finite cells share (the one over more images on a tie); a summary
    without ``image_set`` (an older file) counts as one set.
    """
    ok = summary["mean"].notna() & ~_all_constant(summary)
    if "image_set" not in summary.columns:
        return ok
    for _, block in summary[ok].groupby(["dataset", "metric", "convention"], sort=False):
        counts = block.groupby("image_set", sort=False).agg(cells=("mean", "size"), images=("n_images", "max"))
        chosen = counts.sort_values(["cells", "images"], ascending=False, kind="stable").index[0]
        ok[block.index[block["image_set"] != chosen]] = False
    return ok


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


def _weights_row(block: pd.DataFrame, methods: list[str]) -> list[str] | None:
    """The weights origin of each method of a dataset block (``describe_weights``, short), or ``None`` when the
    summary has none recorded (results written before the ``weights`` column)."""
    if not _has_weights(block):
        return None
    texts = []
    for method in methods:
        rows = block[block["method"] == method]
        if rows.empty:
            texts.append("")
            continue
        labels = [p.strip() for v in rows["weights"] if isinstance(v, str) for p in v.split(" + ")]
        texts.append(_shorten(" + ".join(dict.fromkeys(labels))) or "unknown")
    return texts


def _shorten(text: str) -> str:
    """A weights description for a table cell: a checkpoint by its file name."""
    parts = []
    for part in text.split(" + "):
        if part.startswith("checkpoint (") and part.endswith(")"):
            part = f"checkpoint ({Path(part[len('checkpoint ('):-1]).name})"
        parts.append(part)
    return " + ".join(parts)


_WEIGHTS_NOTE = (" The weights row says where each model came from: official (the authors' released weights, "
                 "the artifact named), trained (in this run, under the profile and seed named), checkpoint "
                 "(--ckpt METHOD=PATH; the full path in `leaderboard.csv`), none (a reference rule).")


def _has_weights(summary: pd.DataFrame) -> bool:
    return "weights" in summary.columns and bool(summary["weights"].map(lambda v: isinstance(v, str) and v != "").any())


def _blocks(summary: pd.DataFrame, facts: Facts):
    """Yield (dataset, methods, n_text, rows, flags, weights) with rows = [(metric, convention, higher, cells)], a cell
    ``(mean, rank, n_images or None when the whole set, unranked: over another image set)`` or ``None``
    (no value), flags ``{method: (constant images, images x seeds)}``,
    and weights the weights origin per method (or ``None``)."""
    if "n_nan" not in summary.columns:  # a summary written before NaN images were counted
        summary = summary.assign(n_nan=0, constant_images=0)
    summary = summary.assign(_rank=rank(summary), _ok=ranked_cells(summary), _constant=_all_constant(summary))
    methods = facts.method_order(summary["method"])
    for dataset, block in summary.groupby("dataset", sort=False):
        total = int((block["n_images"] + block["n_nan"]).max())
        seeds = sorted(set(block["n_seeds"].astype(int)))
        n_text = f"{total} images" + (f", {'/'.join(map(str, seeds))} seeds" if seeds != [1] else "")
        n_text += _colour_note(block)
        rows = []
        for (metric, convention), metric_block in block.groupby(["metric", "convention"], sort=False):
            by_method = metric_block.set_index("method")
            cells = []
            for m in methods:
                if m not in by_method.index:
                    cells.append(None)
                    continue
                row = by_method.loc[m]
                finite = bool(np.isfinite(row["mean"]))
                cells.append((row["mean"], int(row["_rank"]), int(row["n_images"]) if row["n_images"] < total else None,
                              finite and not row["_ok"] and not row["_constant"]))
            rows.append((metric, convention, facts.higher_is_better(metric, convention), cells))
        first = block.drop_duplicates("method").set_index("method")
        flags = {m: (int(first.at[m, "constant_images"]),
                     int((first.at[m, "n_images"] + first.at[m, "n_nan"]) * first.at[m, "n_seeds"]))
                 for m in methods if m in first.index and first.at[m, "constant_images"] > 0}
        yield dataset, methods, n_text, rows, flags, _weights_row(block, methods)


def _block_notes(rows, flags: dict, dagger: str, warn: str) -> list[str]:
    notes = [f"{warn} {method}: {k} of {total} fused image(s) constant (8-bit std < {CONSTANT_STD_LEVELS:g} gray "
             f"level): their values measure no fusion" + ("; not ranked" if k >= total else "")
             for method, (k, total) in flags.items()]
    if any(cell is not None and cell[3] for *_, cells in rows for cell in cells):
        notes.append(f"{dagger} over another set of images than the row's ranked cells (its NaN images left out, "
                     "or other pairs): not ranked against them")
    return notes


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


NAN_RULE = ("A cell's mean leaves out the images where its metric is NaN (nanmean; \"(n=K)\": over K of the set's "
            "images; n and n_nan per cell in `leaderboard.csv`); cells over different image sets are never ranked "
            "against each other.")


def _cell_text(cell, missing: str, dagger: str, bold, underline) -> str:
    if cell is None:
        return missing
    value, place, n, unranked = cell
    text = _format(value)
    text = bold(text) if place == 1 else underline(text) if place == 2 else text
    return text + (f" (n={n})" if n is not None else "") + (dagger if unranked else "")


def to_markdown(summary: pd.DataFrame, facts: Facts, title: str = "Leaderboard") -> str:
    """The leaderboard as Markdown: a table per dataset, **bold** best, <u>underlined</u> second."""
    several_seeds = bool((summary["n_seeds"] > 1).any())
    lines = [f"# {title}", "",
             ("Mean over seeds of the per-seed mean over images" if several_seeds else "Mean over images")
             + " (std and n in `leaderboard.csv`). **Bold**: best; <u>underlined</u>: second best; "
             "↑ higher is better, ↓ lower is better (? no direction recorded: not ranked). "
             "Every metric is computed from the 8-bit fused PNGs. " + NAN_RULE + _WEIGHTS_NOTE * _has_weights(summary), ""]
    for dataset, methods, n_text, rows, flags, weights in _blocks(summary, facts):
        header = [f"{m} ⚠" if m in flags else m for m in methods]
        lines += [f"## {dataset} ({n_text})", "", "| Metric | " + " | ".join(header) + " |",
                  "|---|" + "---:|" * len(methods)]
        if weights is not None:
            lines.append("| weights | " + " | ".join(weights) + " |")
        for metric, convention, higher, cells in rows:
            texts = [_cell_text(c, "–", "†", lambda t: f"**{t}**", lambda t: f"<u>{t}</u>") for c in cells]
            lines.append(f"| {_label(metric, convention, higher, ('↑', '↓', '?'))} | " + " | ".join(texts) + " |")
        lines.append("")
        notes = _block_notes(rows, flags, "†", "⚠")
        if notes:
            lines += [*notes, ""]
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
    notes = []
    for dataset, _, n_text, rows, flags, weights in blocks:
        lines += [r"\midrule", rf"\multicolumn{{{len(methods) + 1}}}{{l}}{{\textit{{{_tex(dataset)}}} ({_tex(n_text)})}} \\",
                  r"\midrule"]
        if weights is not None:
            lines.append("Weights & " + " & ".join(_tex(w) for w in weights) + r" \\")
        for metric, convention, higher, cells in rows:
            texts = [_cell_text(c, "--", r"$^\dagger$", lambda t: rf"\textbf{{{t}}}", lambda t: rf"\underline{{{t}}}")
                     for c in cells]
            label = _tex(metric if convention == "default" else f"{metric} ({convention})")
            arrow = "?" if higher is None else r"$\uparrow$" if higher else r"$\downarrow$"
            lines.append(f"{label}{arrow} & " + " & ".join(texts) + r" \\")
        notes += [f"{_tex(dataset)}: {_tex(note)}" for note in _block_notes(rows, flags, "(dagger)", "(constant)")]
    lines += [r"\bottomrule", r"\end{tabular}", r"\par\smallskip", r"\footnotesize"]
    notes += [rf"{_tex(name)} ({_tex(direction)}{'; ' + _tex(unit) if unit else ''}): {_tex(definition)}"
              for name, direction, unit, definition in _footnote_lines(summary, facts)]
    lines.append(r"\raggedright " + r" \\ ".join(notes))
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def write_leaderboard(out_dir: str | os.PathLike, results: pd.DataFrame, facts: Facts,
                      title: str = "Leaderboard", stats: pd.DataFrame | None = None) -> dict[str, Path]:
    """Write ``leaderboard.csv``, ``leaderboard.md`` and ``leaderboard.tex`` into ``out_dir``, atomically.

    ``stats``: the fused images' statistics (``fused_stats.csv``), for the constant-image marks.

    Returns:
        ``{"csv": path, "md": path, "tex": path}``.
    """
    out_dir = Path(out_dir)
    summary = summarize(results, facts, stats)
    paths = {kind: out_dir / f"leaderboard.{kind}" for kind in ("csv", "md", "tex")}
    with atomic_write(paths["csv"], "w", encoding="utf-8", newline="") as handle:
        summary.to_csv(handle, index=False, float_format="%.10g")
    with atomic_write(paths["md"], "w", encoding="utf-8") as handle:
        handle.write(to_markdown(summary, facts, title))
    with atomic_write(paths["tex"], "w", encoding="utf-8") as handle:
        handle.write(to_latex(summary, facts, f"{title}: quantitative results."))
    return paths

