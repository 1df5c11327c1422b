"""Regenerate the comparison plots of a run dir (PNG and PDF).

  ivif-bench plot RUN [--pairs tno:1,flir:3] [--methods a,b] [--kind qualitative] [--out DIR]

Per test set: every metric as bars with std error bars (bars_<dataset>),
the per-image values as box + strip plots (per_image_<dataset>), and a
qualitative grid of the chosen pairs with a zoomed inset per image
(qualitative). Default output: RUN/plots.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="run dir of ivif-bench run")
    parser.add_argument("--pairs", default=None,
                        help="pairs of the qualitative grid, e.g. 'tno:1,flir:3' (default: first pair per test set)")
    parser.add_argument("--methods", default=None, help="comma-separated methods to show (default: all in the run)")
    parser.add_argument("--out", default=None, help="output folder (default: RUN/plots)")
    parser.add_argument("--kind", action="append", choices=["bars", "per_image", "qualitative"], default=None,
                        help="only this kind of plot (repeatable; default: all three)")


def main(args: argparse.Namespace) -> int:
    from benchmarks.commands.run import _split, parse_pairs
    from benchmarks.report.plots import KINDS, plot_run

    from benchmarks.outputs import check_output_dir
    from pathlib import Path

    check_output_dir(args.out or Path(args.run) / "plots", "--out")
    paths = plot_run(args.run, pairs=parse_pairs(args.pairs), methods=_split(args.methods), out_dir=args.out,
                     kinds=args.kind or KINDS)
    for path in paths:
        print(path)
    return 0
