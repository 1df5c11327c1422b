"""Join the shard dirs of a reproducibility study (ivif-bench repro --shard i/n) and write its report.

  ivif-bench repro-merge SHARD_DIR [SHARD_DIR ...] --out DIR [--competitors RUN_DIR]
  ivif-bench repro-merge STUDY_DIR [--competitors RUN_DIR]      (report again, in place)

Every seed of the study must be done in exactly one of the dirs: a seed done
in two dirs, or in none, is refused with the seeds and dirs named. DIR gets
the merged study.json, each unit's marker and results file, results.csv,
repro_report.{csv,md}, repro_runs.csv and plots/repro_figure5.{png,pdf}
(checkpoints and fused images stay in the shard dirs).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from benchmarks.tracking import MODES

    parser.add_argument("dirs", nargs="+", metavar="SHARD_DIR", help="study dirs of ivif-bench repro (its shards)")
    parser.add_argument("--out", default=None, help="merged study dir (default: the dir, when only one is given)")
    parser.add_argument("--competitors", default=None, metavar="RUN_DIR",
                        help="an `ivif-bench run` dir: rank every run against its methods")
    parser.add_argument("--wandb", default="auto", choices=list(MODES),
                        help="W&B mode of the report run (default: auto)")


def main(args: argparse.Namespace) -> int:
    from datamodules.errors import UserError
    from benchmarks.study import merge_studies

    if args.out is None and len(args.dirs) > 1:
        raise UserError("several shard dirs: name the merged study dir with --out")
    merge_studies(args.dirs, args.out or args.dirs[0], competitors=args.competitors, wandb=args.wandb)
    return 0
