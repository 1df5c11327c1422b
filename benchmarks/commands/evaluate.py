"""Evaluate a folder of fused images against a dataset's source pairs.

  ivif-bench evaluate FUSED_DIR --dataset tno [--pattern 'F{id}'] [--ids 1-16,20]
                      [--metrics all|EN,MI,...] [--convention default|vifb|cddfuse|tang|all]
                      [--device cpu]
                      [--data-root DIR] [--out results.csv]

Each fused file is named pattern.format(id=PAIR_ID) plus an image extension
(png, bmp, jpg, tif); the DIDFuse authors' outputs use --pattern 'F{id}'.
Missing fused files, files named like the pattern that match no pair, and fused
images whose size differs from their pair stop the command before any work.
Fused images are evaluated from their 8-bit values. --out writes one CSV row per
(dataset, image, metric) with columns dataset,image,metric,value,convention;
the table of means is printed either way; beside it, OUT's stem + .metrics.json
records each metric's direction, unit, convention and definition. --convention picks the evaluation code
whose formulas (and quirks) are reproduced (docs/conventions.md); 'all' computes
every convention's metrics, one row per (image, metric, convention), and prints
one table per convention.

Example (the DIDFuse paper's Table 4, TNO):
  ivif-bench evaluate ../shared/data/IVIF-DIDFuse/Test_result/TNO_IJCAI \\
      --dataset tno --pattern 'F{id}' --data-root ../shared/data --metrics EN,MI,VIF,AG
"""

from __future__ import annotations

import argparse
import math


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("fused_dir", metavar="FUSED_DIR", help="folder of fused images, one per pair")
    parser.add_argument("--dataset", required=True,
                        help="registered dataset (tno, flir, nir, ...) or a dataset folder with ir/ + vis/")
    parser.add_argument("--data-root", default=None,
                        help="data root (default: $IVIF_BENCH_DATA, else the user cache dir)")
    parser.add_argument("--pattern", default="{id}",
                        help="fused file stem of a pair, with an {id} field (default: '{id}'; DIDFuse: 'F{id}')")
    parser.add_argument("--ids", default=None, help="only these pair ids, e.g. 1-16,20")
    parser.add_argument("--metrics", default="all", help="'all' (default) or a comma list, e.g. EN,MI,SSIM")
    parser.add_argument("--convention", default="default",
                        help="metric convention: default, vifb, cddfuse, tang, or all (default: default)")
    parser.add_argument("--device", default="cpu", help="cpu (float64, default) or cuda (float32)")
    parser.add_argument("--out", default=None, help="write the per-image results to this CSV file")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _format(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.4f}"


def print_means(results) -> None:
    """Print the tables of means (rows: metrics; columns: datasets) with direction and unit, one per convention."""
    from rich.console import Console
    from rich.table import Table

    from metrics.evaluate import mean_table
    from metrics.registry import get_metric_info

    for convention, part in results.groupby("convention", sort=False):
        means = mean_table(part)
        counts = part.groupby("dataset", sort=False)["image"].nunique()
        table = Table(title=f"mean over images (convention: {convention})")
        table.add_column("metric")
        table.add_column("better", justify="center")
        for dataset in means.index:
            table.add_column(f"{dataset} ({counts[dataset]})", justify="right")
        table.add_column("unit")
        for metric in means.columns:
            info = get_metric_info(metric, convention)
            table.add_row(metric, "higher" if info.higher_is_better else "lower",
                          *(_format(means.loc[d, metric]) for d in means.index), info.unit)
        Console().print(table)


def main(args: argparse.Namespace) -> int:
    from datamodules.io import atomic_write
    from metrics.evaluate import evaluate_folder

    results = evaluate_folder(args.fused_dir, args.dataset, data_root=args.data_root, pattern=args.pattern,
                              ids=args.ids, metrics=args.metrics, convention=args.convention, device=args.device,
                              progress=not args.no_progress)
    if args.out:
        with atomic_write(args.out, "w", newline="") as handle:
            results.to_csv(handle, index=False)
        from benchmarks.report.facts import write_metric_facts  # the facts travel with the rows
        from metrics.registry import get_metric_info

        pairs = dict.fromkeys(zip(results["metric"], results["convention"]))
        facts = write_metric_facts(args.out, [get_metric_info(metric, convention) for metric, convention in pairs])
    print_means(results)
    if args.out:
        print(f"wrote {len(results)} rows to {args.out} (metric facts: {facts})")
    return 0
