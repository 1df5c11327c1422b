"""Evaluate a folder of fused images against a dataset's source pairs.

  ivif-bench evaluate FUSED_DIR --dataset tno [--pattern 'F{id}'] [--ids 1-16,20]
                      [--metrics all|EN,MI,...] [--convention default|vifb|cddfuse|tang|all]
                      [--device cpu] [--workers N]
                      [--data-root DIR] [--out results.csv]

Each fused file is named pattern.format(id=PAIR_ID) plus an image extension
(png, bmp, jpg, tif); the DIDFuse authors' outputs use --pattern 'F{id}'.
Missing fused files, files named like the pattern that match no pair, and fused
images whose size differs from their pair stop the command before any work.
Fused images are evaluated from their 8-bit values, each image on one CPU thread
(float64), so the values do not depend on --workers (worker processes, one image
each at a time). --out writes one CSV row per (dataset, image, metric) with
columns dataset,image,metric,value,convention; it is checked before any work, and
each finished image's rows go to OUT.partial at once, so an interrupted run keeps
them and the same command run again resumes. Beside it, OUT's stem + .metrics.json
records each metric's direction, unit, convention and definition. The table of
means is printed either way. --convention picks the evaluation code
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
    parser.add_argument("--metrics", default="all",
                        help="'all' (default) or a comma list, e.g. EN,MI,SSIM; NAME:CONVENTION picks one "
                             "convention's metric, e.g. EN,MSE:tang")
    parser.add_argument("--convention", default="default",
                        help="metric convention: default, vifb, cddfuse, tang, or all (default: default)")
    parser.add_argument("--device", default="cpu", help="cpu (float64, default) or cuda (float32)")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes on CPU, one image each at a time (default: 1)")
    parser.add_argument("--batch-size", type=int, default=8,
                        help="on cuda: same-size images evaluated together (float32; default: 8)")
    parser.add_argument("--out", default=None, help="write the per-image results to this CSV file")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _format(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.4f}"


def print_means(rows) -> None:
    """Print the tables of means (rows: metrics; columns: datasets) with direction and unit, one per convention.

    ``rows``: ``(dataset, image, metric, value, convention)`` tuples, or a DataFrame with those columns.
    """
    from rich.console import Console
    from rich.table import Table

    from metrics.evaluate import COLUMNS, means_by_convention
    from metrics.registry import get_metric_info

    if hasattr(rows, "itertuples"):  # a DataFrame
        rows = list(rows[COLUMNS].itertuples(index=False, name=None))
    for convention, by_metric in means_by_convention(rows).items():
        datasets = list(dict.fromkeys(d for by_dataset in by_metric.values() for d in by_dataset))
        counts = {d: len({r[1] for r in rows if r[0] == d and r[4] == convention}) for d in datasets}
        table = Table(title=f"mean over images (convention: {convention})")
        table.add_column("metric")
        table.add_column("better", justify="center")
        for dataset in datasets:
            table.add_column(f"{dataset} ({counts[dataset]})", justify="right")
        table.add_column("unit")
        for metric, by_dataset in by_metric.items():
            info = get_metric_info(metric, convention)
            table.add_row(metric, "higher" if info.higher_is_better else "lower",
                          *(_format(by_dataset[d][0]) if d in by_dataset else "-" for d in datasets), info.unit)
        Console().print(table)


def main(args: argparse.Namespace) -> int:
    import sys

    from metrics.evaluate import evaluate_folder_rows
    from metrics.results_log import check_output_file

    if args.out:
        check_output_file(args.out)  # a folder, or a place that cannot be written: stop before any work
    try:
        rows = evaluate_folder_rows(args.fused_dir, args.dataset, data_root=args.data_root, pattern=args.pattern,
                                    ids=args.ids, metrics=args.metrics, convention=args.convention,
                                    device=args.device, progress=not args.no_progress, workers=args.workers,
                                    out=args.out, batch_size=args.batch_size,
                                    report=lambda note: print(note, file=sys.stderr))
    except KeyboardInterrupt as interrupt:
        print(f"ivif-bench evaluate: {interrupt or 'interrupted'}", file=sys.stderr)
        return 130
    if args.out:
        from benchmarks.report.facts import write_metric_facts  # the facts travel with the rows
        from metrics.registry import get_metric_info

        pairs = dict.fromkeys((row[2], row[4]) for row in rows)  # (metric, convention)
        facts = write_metric_facts(args.out, [get_metric_info(metric, convention) for metric, convention in pairs])
    print_means(rows)
    if args.out:
        print(f"wrote {len(rows)} rows to {args.out} (metric facts: {facts})")
    return 0
