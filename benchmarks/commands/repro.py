"""Reproducibility study: train one method --runs times with seeds seed0.., evaluate each run, report the spread.

  ivif-bench repro --method didfuse [--runs 25] [--seed0 0] [--profile smoke|quick|paper]
                   [--datasets tno,flir,nir] [--out DIR] [--competitors RUN_DIR]
                   [--shard i/n] [--executor serial|ray [--ray-address ADDR]]

DIDFuse's Section 4.4 / Figure 5 as a command: the seed drives weight init,
data order and crops; every run is fused and evaluated on every test set
(one row per run, dataset, image and metric in DIR/results.csv). Started again
with the same arguments, it skips the finished seeds. Writes
DIR/repro_report.{csv,md} (mean, std, min, max over runs; with --competitors,
how many runs rank 1st / 2nd against the competitors of an `ivif-bench run`
dir), DIR/repro_runs.csv and DIR/plots/repro_figure5.{png,pdf}; W&B: every run
of the study in one group, plus a report run with the table and the figure.

Spreading the runs: `--shard i/n` runs every n-th seed starting at the i-th, in
its own dir (default runs/repro-<method>-<profile>/shard<i>of<n>); join the
shard dirs with `ivif-bench repro-merge DIR... --out DIR`. `--executor ray`
(pip install 'ivif-bench[cluster]') runs the seeds as Ray tasks of
--cpus-per-run CPUs and --gpus-per-run GPUs on a local Ray instance, or on a
running cluster with --ray-address (then DIR and the data root must be on a
filesystem every node sees). Each run uses --cpus-per-run torch threads in
every executor: same seed, config, threads and machine give the same numbers.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from benchmarks.commands.numbers import non_negative_float, positive_int, seed_value
    from benchmarks.commands.run import _devices
    from benchmarks.profiles import PROFILES
    from benchmarks.report.facts import HEADLINE_METRICS
    from benchmarks.study import EXECUTORS
    from benchmarks.tracking import MODES

    what = parser.add_argument_group("the study")
    what.add_argument("--method", default="didfuse", help="a trainable registered method (default: didfuse)")
    what.add_argument("--runs", type=positive_int, default=25, help="number of trainings (default: 25, as DIDFuse's Figure 5)")
    what.add_argument("--seed0", type=seed_value, default=0, help="first seed; the runs use seed0 .. seed0+runs-1 (default: 0)")
    what.add_argument("--profile", default="smoke", choices=list(PROFILES),
                      help="; ".join(f"{p.name}: {p.description}" for p in PROFILES.values()) + " (default: smoke)")
    what.add_argument("--datasets", default="tno,flir,nir",
                      help="comma-separated test sets or folders; 'sample' = the embedded sample pairs "
                           "(default: tno,flir,nir)")
    what.add_argument("--ids", default=None, help="only these pair ids of each test set, e.g. '1-8,12'")
    what.add_argument("--limit-pairs", type=positive_int, default=None,
                      help="only the first N pairs of each test set (default: the profile's: smoke 2, else all)")
    what.add_argument("--metrics", default=None,
                      help=f"comma-separated metrics (default: Figure 5's {','.join(HEADLINE_METRICS)})")
    what.add_argument("--convention", default="default", help="metric convention (default: default)")
    what.add_argument("--competitors", default=None, metavar="RUN_DIR",
                      help="an `ivif-bench run` dir: rank every run against its methods (best / second-best lines)")
    what.add_argument("--train-dataset", default=None, help="train on this dataset instead of the config's")
    where = parser.add_argument_group("where and how")
    where.add_argument("--out", default=None,
                       help="study dir (default: runs/repro-<method>-<profile>, plus /shard<i>of<n> for a shard)")
    where.add_argument("--name", default=None, help="W&B group (default: repro-<method>-<profile>, shared by all shards)")
    where.add_argument("--data-root", default=None, help="data root (default: $IVIF_BENCH_DATA, else the user cache dir)")
    where.add_argument("--download", action="store_true", help="fetch missing registered datasets first")
    where.add_argument("--shard", default=None, metavar="i/n",
                       help="run only the seeds at positions i, i+n, i+2n, ... (e.g. $SLURM_ARRAY_TASK_ID/8)")
    where.add_argument("--executor", default="serial", choices=list(EXECUTORS),
                       help="serial: one seed after another here; ray: the seeds as Ray tasks (default: serial)")
    where.add_argument("--ray-address", default=None,
                       help="a running Ray cluster ('auto', 'ray://head:10001'); default: start a local one")
    where.add_argument("--ray-num-cpus", type=positive_int, default=None, help="CPUs of the local Ray instance (default: all)")
    where.add_argument("--cpus-per-run", type=positive_int, default=None,
                       help="torch threads of each run = CPUs a Ray task asks for (default: serial all, ray 1)")
    where.add_argument("--gpus-per-run", type=non_negative_float, default=None,
                       help="GPUs a Ray task asks for, e.g. 1 or 0.25 (default: 1 with --accelerator gpu, else 0)")
    where.add_argument("--wandb", default="auto", choices=list(MODES),
                       help="W&B mode; auto = online when an API key is configured, else offline (default: auto)")
    where.add_argument("--no-progress", action="store_true", help="no progress bars")
    hardware = parser.add_argument_group("Lightning (passed to the Trainer)")
    hardware.add_argument("--accelerator", default=None, help="cpu, gpu, cuda, mps, auto (default: the config's)")
    hardware.add_argument("--devices", default=None, type=_devices, help="number of devices or a list")
    hardware.add_argument("--strategy", default=None, help="e.g. ddp (default: the config's)")
    hardware.add_argument("--num-nodes", type=positive_int, default=None, help="number of nodes")
    hardware.add_argument("--max-steps", type=positive_int, default=None, help="override the config's training length")
    hardware.add_argument("--checkpoint-every", type=positive_int, default=50, help="save last.ckpt every N steps (default: 50)")
    hardware.add_argument("--metric-device", default="cpu", help="device of the metric computation (default: cpu)")


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


def options_from(args: argparse.Namespace):
    from benchmarks.study import StudyOptions, parse_shard

    return StudyOptions(
        method=args.method, runs=args.runs, seed0=args.seed0, profile=args.profile, datasets=_split(args.datasets),
        out=args.out, shard=parse_shard(args.shard), executor=args.executor, ray_address=args.ray_address,
        ray_num_cpus=args.ray_num_cpus, cpus_per_run=args.cpus_per_run, gpus_per_run=args.gpus_per_run,
        competitors=args.competitors, metrics=_split(args.metrics), name=args.name, data_root=args.data_root,
        ids=args.ids, limit_pairs=args.limit_pairs, convention=args.convention, train_dataset=args.train_dataset,
        wandb=args.wandb, accelerator=args.accelerator, devices=args.devices, strategy=args.strategy,
        num_nodes=args.num_nodes, max_steps=args.max_steps, checkpoint_every=args.checkpoint_every,
        metric_device=args.metric_device, download=args.download, progress=not args.no_progress,
        argv=["ivif-bench", *sys.argv[1:]], plugins=args.plugin)


def main(args: argparse.Namespace) -> int:
    from benchmarks.run.train import rank_job
    from benchmarks.study import plan_study, run_study

    from benchmarks.outputs import check_output_dir
    from benchmarks.run.interrupt import RunInterrupted, resume_command, watch_interrupt

    rank_zero = rank_job() is None
    study = plan_study(options_from(args), announce=print if rank_zero else None)
    if rank_zero:
        check_output_dir(study.root, "--out")
        index, count = study.options.shard
        print(f"study: {study.options.method}, {len(study.seeds)} runs (seeds {study.seeds[0]}..{study.seeds[-1]})"
              + (f", shard {index}/{count}: seeds {','.join(map(str, study.shard_seeds))}" if count > 1 else "")
              + f", {study.options.executor} executor, {study.options.cpus_per_run} thread(s) per run -> {study.root}")
    try:
        with watch_interrupt():
            run_study(study)
    except RunInterrupted as stop:
        command = resume_command(getattr(args, "argv", None) or sys.argv[1:], study.root)
        print(f"ivif-bench repro: interrupted ({stop}); finished seeds and checkpoints are kept in {study.root}. "
              f"Resume with:\n  {command}", file=sys.stderr)
        return 130
    return 0
