"""Rebuild the leaderboard (csv, md, tex) from one or several run dirs.

  ivif-bench leaderboard RUN [RUN ...] [--out DIR]

Reads each RUN/results.csv (one row per method, seed, dataset, image, metric)
and the facts recorded with it (RUN/metrics.json: each metric's direction,
unit, definition; RUN/methods.json): a metric is ranked in the direction the
run recorded, and one without recorded facts is shown with "?" and not ranked.
A cell's mean leaves out its NaN images (nanmean, with n per cell); cells over
different image sets are never ranked against each other; methods whose fused
images are constant (RUN/fused_stats.csv) are marked. Imports no torch.
Several runs are combined (e.g. runs of different seeds or methods); the same
row with different values in two runs is an error. With one run the files are
rewritten in RUN; with several, --out names where they go.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run dirs of ivif-bench run")
    parser.add_argument("--out", default=None, help="output folder (default: the run dir when there is one)")
    parser.add_argument("--title", default=None, help="title of the Markdown table (default: from the run dir names)")


def main(args: argparse.Namespace) -> int:
    from benchmarks.report.facts import read_facts
    from benchmarks.report.degenerate import read_fused_stats
    from benchmarks.report.leaderboard import write_leaderboard
    from benchmarks.report.results import read_results
    from datamodules.errors import UserError

    if args.out is None and len(args.runs) > 1:
        raise UserError("several run dirs: name the output folder with --out")
    from benchmarks.outputs import check_output_dir

    out = check_output_dir(args.out or args.runs[0], "--out" if args.out else "RUN")
    results, facts = read_results(args.runs), read_facts(args.runs)
    title = args.title or "Leaderboard: " + " + ".join(Path(r).resolve().name for r in args.runs)
    paths = write_leaderboard(out, results, facts, title=title, stats=read_fused_stats(args.runs))
    print(paths["md"].read_text(encoding="utf-8"))
    print(f"written: {paths['csv']}, {paths['md']}, {paths['tex']}")
    return 0
