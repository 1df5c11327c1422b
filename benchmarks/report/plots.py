"""Comparison plots of a benchmark run (matplotlib, Agg; each figure as PNG and PDF).

* :func:`plot_bars`: per test set, every metric as a group of bars (one per
  method) with standard-deviation error bars;
* :func:`plot_per_image`: per test set, the per-image values of every metric
  as box plots with the individual images overlaid as a strip;
* :func:`plot_qualitative`: chosen pairs as rows, IR, VIS and each method's
  fusion as columns, one zoom box per image with its enlargement inset in a
  corner (the layout of Figure 4 of the DIDFuse paper); a test set fused in
  colour shows its colour fused images and the colour visible source.

:func:`plot_run` makes all three from a run dir (``ivif-bench plot RUN``).
Figures are built with ``matplotlib.figure.Figure`` (no pyplot state), so
plotting never opens a window and never touches the global backend.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from benchmarks.report.facts import Facts, arrow
from benchmarks.report.results import RunLayout
from datamodules.errors import UserError

__all__ = ["QualitativeRow", "auto_zoom_box", "bars_figure", "per_image_figure", "plot_bars", "plot_per_image",
           "plot_qualitative", "plot_run", "qualitative_figure", "qualitative_rows", "save_figure"]

FORMATS = ("png", "pdf")
ZOOM_COLOR = "#ff7f0e"  # orange, as the boxes of DIDFuse Fig. 4


def save_figure(figure: Figure, stem: str | os.PathLike, formats: Sequence[str] = FORMATS, dpi: int = 150) -> list[Path]:
    """Save ``figure`` as ``<stem>.png`` and ``<stem>.pdf``, each atomically; returns the paths."""
    from datamodules.io import atomic_write

    stem = Path(stem)
    paths = []
    for kind in formats:
        path = stem.with_name(f"{stem.name}.{kind}")
        with atomic_write(path, "wb") as handle:
            figure.savefig(handle, format=kind, dpi=dpi, bbox_inches="tight", metadata={"Creator": "ivif-bench"})
        paths.append(path)
    return paths


def _colors(methods: Sequence[str]) -> dict[str, tuple]:
    from matplotlib import colormaps

    palette = colormaps["tab10"].colors
    return {method: palette[i % len(palette)] for i, method in enumerate(methods)}


def _grid(count: int, columns: int = 4) -> tuple[int, int]:
    columns = max(1, min(columns, count))
    return math.ceil(count / columns), columns


def _metric_title(metric: str, convention: str, higher: bool | None) -> str:
    name = metric if convention == "default" else f"{metric} ({convention})"
    return f"{name} {arrow(higher)}"


def _unit_label(unit: str) -> str:
    return unit if unit else "value (no unit)"


def bars_figure(summary: pd.DataFrame, dataset: str, facts: Facts) -> Figure:
    """The bar figure of one test set: a panel per metric, a bar per method (mean), error bar = std.

    Args:
        summary: ``leaderboard.csv`` rows (method, dataset, metric, convention, mean, std, n, ...).
        dataset: the test set to draw.
        facts: the facts recorded with the results (method order, directions, units).
    """
    block = summary[summary["dataset"] == dataset]
    if block.empty:
        raise ValueError(f"no summary rows for dataset {dataset!r}")
    methods = facts.method_order(summary["method"])
    colors = _colors(methods)
    keys = _metric_keys(block, facts)
    rows, columns = _grid(len(keys))
    figure = Figure(figsize=(3.0 * columns, 2.6 * rows + 0.8), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, (metric, convention) in zip(axes, keys):
        cells = block[(block["metric"] == metric) & (block["convention"] == convention)].set_index("method")
        present = [m for m in methods if m in cells.index]
        means = cells.loc[present, "mean"].to_numpy(float)
        stds = np.nan_to_num(cells.loc[present, "std"].to_numpy(float), nan=0.0)
        x = np.arange(len(present))
        ax.bar(x, means, yerr=stds, capsize=3, color=[colors[m] for m in present], edgecolor="black",
               linewidth=0.5, error_kw={"elinewidth": 0.8})
        ax.set_title(_metric_title(metric, convention, facts.higher_is_better(metric, convention)), fontsize=10)
        ax.set_ylabel(_unit_label(facts.unit(metric, convention)), fontsize=8)
        ax.set_xticks(x, present, rotation=45, ha="right", fontsize=8)
        ax.set_xlabel("method", fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
    for ax in axes[len(keys):]:
        ax.set_visible(False)
    what = "seeds" if (block["n_seeds"] > 1).any() else "images"
    figure.suptitle(f"{dataset}: mean ± std over {block['n'].max()} {what} (↑ higher is better, ↓ lower is better)")
    _legend(figure, methods, colors)
    return figure


def plot_bars(summary: pd.DataFrame, out_dir: str | os.PathLike, facts: Facts,
              formats: Sequence[str] = FORMATS) -> list[Path]:
    """:func:`bars_figure` of every test set, saved as ``bars_<dataset>.png`` / ``.pdf``; returns the files."""
    paths: list[Path] = []
    for dataset in dict.fromkeys(summary["dataset"]):
        paths += save_figure(bars_figure(summary, dataset, facts), Path(out_dir) / f"bars_{dataset}", formats)
    return paths


def _metric_keys(block: pd.DataFrame, facts: Facts) -> list[tuple[str, str]]:
    keys = list(dict.fromkeys(zip(block["metric"], block["convention"])))
    order = {m: i for i, m in enumerate(facts.metric_order([k[0] for k in keys]))}
    return sorted(keys, key=lambda k: (k[1] != "default", order[k[0]]))


def _legend(figure: Figure, methods: Sequence[str], colors: Mapping[str, tuple]) -> None:
    handles = [Rectangle((0, 0), 1, 1, facecolor=colors[m], edgecolor="black", linewidth=0.5) for m in methods]
    figure.legend(handles, methods, loc="outside lower center", ncols=min(len(methods), 8), title="method")


def per_image_figure(results: pd.DataFrame, dataset: str, facts: Facts) -> Figure:
    """The per-image figure of one test set: a panel per metric, a box per method, the images as points on top.

    With several seeds every (seed, image) value is a point. The strip's
    horizontal jitter comes from a fixed seed, so the figure is reproducible.
    """
    block = results[results["dataset"] == dataset]
    if block.empty:
        raise ValueError(f"no results for dataset {dataset!r}")
    methods = facts.method_order(results["method"])
    colors = _colors(methods)
    rng = np.random.default_rng(0)
    keys = _metric_keys(block, facts)
    rows, columns = _grid(len(keys))
    figure = Figure(figsize=(3.0 * columns, 2.6 * rows + 0.8), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, (metric, convention) in zip(axes, keys):
        cells = block[(block["metric"] == metric) & (block["convention"] == convention)]
        present = [m for m in methods if (cells["method"] == m).any()]
        values = [cells.loc[cells["method"] == m, "value"].dropna().to_numpy(float) for m in present]
        boxes = ax.boxplot(values, positions=np.arange(len(present)), widths=0.6, patch_artist=True,
                           showfliers=False, medianprops={"color": "black"})
        for patch, method in zip(boxes["boxes"], present):
            patch.set_facecolor((*colors[method][:3], 0.35))
        for i, (method, vals) in enumerate(zip(present, values)):
            ax.scatter(i + rng.uniform(-0.18, 0.18, len(vals)), vals, s=8, color=colors[method],
                       edgecolor="black", linewidth=0.3, zorder=3)
        ax.set_title(_metric_title(metric, convention, facts.higher_is_better(metric, convention)), fontsize=10)
        ax.set_ylabel(_unit_label(facts.unit(metric, convention)), fontsize=8)
        ax.set_xticks(np.arange(len(present)), present, rotation=45, ha="right", fontsize=8)
        ax.set_xlabel("method", fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
    for ax in axes[len(keys):]:
        ax.set_visible(False)
    figure.suptitle(f"{dataset}: per-image values ({block['image'].nunique()} images; box = quartiles, "
                    "whiskers = 1.5 IQR, points = images)")
    _legend(figure, methods, colors)
    return figure


def plot_per_image(results: pd.DataFrame, out_dir: str | os.PathLike, facts: Facts,
                   formats: Sequence[str] = FORMATS) -> list[Path]:
    """:func:`per_image_figure` of every test set, saved as ``per_image_<dataset>.png`` / ``.pdf``."""
    paths: list[Path] = []
    for dataset in dict.fromkeys(results["dataset"]):
        paths += save_figure(per_image_figure(results, dataset, facts), Path(out_dir) / f"per_image_{dataset}",
                             formats)
    return paths


@dataclass
class QualitativeRow:
    """One row of the qualitative grid.

    Attributes:
        dataset, pair_id: what the row shows.
        ir: the infrared source, uint8 H x W.
        vis: the visible source, uint8 H x W, or H x W x 3 (RGB) for a pair fused in colour.
        fused: ``{method: uint8 H x W or H x W x 3}`` in column order (a colour fusion is RGB).
        zoom: ``(top, left, height, width)`` in pixels; ``None`` picks :func:`auto_zoom_box`.
    """

    dataset: str
    pair_id: str
    ir: np.ndarray
    vis: np.ndarray
    fused: Mapping[str, np.ndarray] = field(default_factory=dict)
    zoom: tuple[int, int, int, int] | None = None


def auto_zoom_box(ir: np.ndarray, vis: np.ndarray, fraction: float = 0.25) -> tuple[int, int, int, int]:
    """The square window (side ``fraction`` of the shorter side) with the most detail in IR and VIS.

    Detail = the sum of the two images' local variances in the window; the
    search runs on a grid of 1/8-window steps, so the choice is deterministic.

    Returns:
        ``(top, left, height, width)`` in pixels.
    """
    height, width = ir.shape
    side = max(8, int(round(min(height, width) * fraction)))
    side = min(side, height, width)
    step = max(1, side // 8)

    def local_variance(image: np.ndarray) -> np.ndarray:
        x = image.astype(np.float64)
        s1 = np.pad(x.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        s2 = np.pad((x * x).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        area = side * side

        def window_sum(s: np.ndarray) -> np.ndarray:
            return s[side:, side:] - s[:-side, side:] - s[side:, :-side] + s[:-side, :-side]

        mean = window_sum(s1) / area
        return window_sum(s2) / area - mean * mean

    score = (local_variance(ir) + local_variance(vis))[::step, ::step]
    top, left = np.unravel_index(int(np.argmax(score)), score.shape)
    return int(top * step), int(left * step), side, side


def _inset_corner(box: tuple[int, int, int, int], shape: tuple[int, ...]) -> str:
    """The corner farthest from the zoom box, so the enlargement never hides the region it enlarges."""
    top, left, height, width = box
    vertical = "upper" if top + height / 2 > shape[0] / 2 else "lower"
    horizontal = "left" if left + width / 2 > shape[1] / 2 else "right"
    return f"{vertical} {horizontal}"


def qualitative_figure(rows: Sequence[QualitativeRow], inset_corner: str = "auto") -> Figure:
    """The qualitative grid: a row per pair, columns IR, VIS, then each method; zoom box + enlarged inset per image.

    Args:
        rows: the pairs to show, with every method's fused image.
        inset_corner: ``"auto"`` (the corner away from the zoom box, per row), or
            ``"lower right"``, ``"lower left"``, ``"upper right"``, ``"upper left"``.
    """
    if not rows:
        raise ValueError("qualitative_figure: no pairs to show")
    vertical, _, horizontal = inset_corner.partition(" ")
    if inset_corner != "auto" and (vertical not in ("lower", "upper") or horizontal not in ("left", "right")):
        raise ValueError(f"inset_corner must be 'auto' or like 'lower right', got {inset_corner!r}")
    methods = list(dict.fromkeys(m for row in rows for m in row.fused))
    columns = ["IR", "VIS", *methods]
    aspects = [r.ir.shape[0] / r.ir.shape[1] for r in rows]  # each row as tall as its images
    figure = Figure(figsize=(1.9 * len(columns), 1.9 * sum(aspects) + 0.6), layout="constrained")
    axes = figure.subplots(len(rows), len(columns), squeeze=False, gridspec_kw={"height_ratios": aspects})
    for r, row in enumerate(rows):
        top, left, height, width = row.zoom or auto_zoom_box(row.ir, _gray(row.vis))
        corner = _inset_corner((top, left, height, width), row.ir.shape) if inset_corner == "auto" else inset_corner
        x0 = 0.0 if corner.endswith("left") else 0.55
        y0 = 0.0 if corner.startswith("lower") else 0.55
        images = {"IR": row.ir, "VIS": row.vis, **row.fused}
        for c, column in enumerate(columns):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(column, fontsize=9)
            if c == 0:
                ax.set_ylabel(f"{row.dataset} #{row.pair_id}", fontsize=9)
            image = images.get(column)
            if image is None:
                ax.text(0.5, 0.5, "missing", ha="center", va="center", transform=ax.transAxes)
                continue
            _show(ax, image)
            ax.add_patch(Rectangle((left - 0.5, top - 0.5), width, height, fill=False, edgecolor=ZOOM_COLOR,
                                   linewidth=1.2))
            inset = ax.inset_axes([x0, y0, 0.45, 0.45])
            _show(inset, image[top:top + height, left:left + width])
            inset.set_xticks([])
            inset.set_yticks([])
            for spine in inset.spines.values():
                spine.set_edgecolor(ZOOM_COLOR)
                spine.set_linewidth(1.5)
    figure.suptitle("Qualitative comparison (orange box: the region enlarged in the corner inset)", fontsize=10)
    return figure


def _gray(image: np.ndarray) -> np.ndarray:
    """A shown image as gray uint8 H x W (an RGB one as its PIL "L" luma), e.g. to choose the zoom box."""
    from datamodules.color import luminance

    return luminance(image)


def _show(ax, image: np.ndarray) -> None:
    """Draw a uint8 image at its own levels: H x W in gray, H x W x 3 as RGB."""
    if image.ndim == 3:
        ax.imshow(image, interpolation="nearest")
    else:
        ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")


def qualitative_rows(run_dir: str | os.PathLike, pairs: Mapping[str, Sequence[str]] | None,
                     methods: Sequence[str]) -> list[QualitativeRow]:
    """Rows of the qualitative grid from a run dir's done markers and fused PNGs.

    Args:
        run_dir: an ``ivif-bench run`` output folder.
        pairs: ``{dataset: [pair_id, ...]}``; default the first pair of each test set.
        methods: column order; the lowest seed of each method is shown.

    Raises:
        ValueError: a dataset or pair the run has not evaluated (named).
    """
    from datamodules.datasets import Pair, read_pair_color
    from datamodules.io import read_image

    layout = RunLayout(run_dir)
    markers = layout.markers()
    datasets = layout.datasets()
    markers.sort(key=lambda m: datasets.index(m["dataset"]))
    if pairs is None:
        pairs = {}
        for marker in markers:
            pairs.setdefault(marker["dataset"], [marker["pairs"][0]["pair_id"]] if marker["pairs"] else [])
    unknown = sorted(set(pairs) - set(datasets))
    if unknown:
        raise UserError(f"{layout.root}: no results for dataset(s) {', '.join(unknown)}; the run has {', '.join(datasets)}")
    rows = []
    for dataset, pair_ids in pairs.items():
        chosen: dict[str, dict] = {}
        for marker in sorted((m for m in markers if m["dataset"] == dataset), key=lambda m: m["seed"]):
            chosen.setdefault(marker["method"], marker)
        for pair_id in pair_ids:
            source = next((p for m in chosen.values() for p in m["pairs"] if p["pair_id"] == str(pair_id)), None)
            if source is None:
                raise UserError(f"{layout.root}: dataset {dataset!r} has no evaluated pair {pair_id!r}")
            ir, vis, vis_rgb = read_pair_color(Pair(str(pair_id), Path(source["ir_path"]), Path(source["vis_path"]),
                                                    dataset, resize_vis=bool(source.get("resize_vis", False))))
            fused = {}
            for method in methods:
                marker = chosen.get(method)
                path = layout.root / marker["fused_dir"] / f"{pair_id}.png" if marker else None
                if path is not None and path.is_file():
                    # a unit fused in colour wrote RGB PNGs; a gray unit's must be gray
                    colour = (marker.get("color") or {}).get("fusion") == "rgb"
                    fused[method] = read_image(path, mode="native" if colour else "gray_strict")
            shown_colour = vis_rgb is not None and any(image.ndim == 3 for image in fused.values())
            rows.append(QualitativeRow(dataset, str(pair_id), ir, vis_rgb if shown_colour else vis, fused))
    return rows


def plot_qualitative(rows: Sequence[QualitativeRow], out_stem: str | os.PathLike, *,
                     inset_corner: str = "auto", formats: Sequence[str] = FORMATS) -> list[Path]:
    """:func:`qualitative_figure` saved as ``<out_stem>.png`` / ``.pdf``; returns the files."""
    return save_figure(qualitative_figure(rows, inset_corner), out_stem, formats)


KINDS = ("bars", "per_image", "qualitative")


def plot_run(run_dir: str | os.PathLike, *, pairs: Mapping[str, Sequence[str]] | None = None,
             methods: Sequence[str] | None = None, out_dir: str | os.PathLike | None = None,
             kinds: Sequence[str] = KINDS, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Every plot of a run dir, from its ``results.csv`` and fused images; returns the files written.

    Args:
        run_dir: an ``ivif-bench run`` output folder.
        pairs: ``{dataset: [pair_id, ...]}`` for the qualitative grid; default the
            first evaluated pair of each test set.
        methods: methods to show (default all in the run).
        out_dir: default ``run_dir/plots``.
        kinds: which plots: ``bars``, ``per_image``, ``qualitative`` (default all three).
    """
    from benchmarks.report.facts import read_facts
    from benchmarks.report.leaderboard import summarize
    from benchmarks.report.results import read_results

    layout = RunLayout(run_dir)
    results, facts = read_results(layout.root), read_facts(layout.root)
    if methods is not None:
        unknown = sorted(set(methods) - set(results["method"]))
        if unknown:
            raise UserError(f"{run_dir}: no results for method(s) {', '.join(unknown)}; "
                             f"the run has {', '.join(facts.method_order(results['method']))}")
        results = results[results["method"].isin(methods)]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise UserError(f"unknown plot kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}")
    out_dir = Path(out_dir) if out_dir is not None else layout.plots
    paths: list[Path] = []
    if "bars" in kinds:
        paths += plot_bars(summarize(results, facts), out_dir, facts, formats)
    if "per_image" in kinds:
        paths += plot_per_image(results, out_dir, facts, formats)
    if "qualitative" in kinds:
        rows = qualitative_rows(layout.root, pairs, facts.method_order(results["method"]))
        if rows:
            paths += plot_qualitative(rows, out_dir / "qualitative", formats=formats)
    return paths

