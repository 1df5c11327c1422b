"""Benchmark methods on test sets in one command: train, fuse, evaluate, leaderboard, plots, W&B.

  ivif-bench run [--methods all|a,b] [--datasets auto|sample|tno,flir,nir] [--profile smoke|quick|paper]
                 [--seed N|0-4] [--out RUN] [--data-root DIR] [--wandb auto|offline|online|disabled]
                 [--ckpt METHOD=PATH] [--accelerator A --devices N --strategy S]

The unit of work is (method, seed, dataset); a run started again with the same
arguments skips the finished units and resumes an interrupted training from
its last checkpoint. Every reference rule (average, max, and any a plugin
registers: needs_training = False) is always included. Results go to
RUN/results.csv, RUN/leaderboard.{csv,md,tex}, RUN/plots/ and RUN/wandb/
(offline runs: upload later with `wandb sync RUN/wandb/offline-run-*`).
Profiles are the YAML files benchmarks/configs/<method>/<profile>.yaml (a
plugin's method: the configs= folder it registered), read as `ivif-bench train`
reads them; RUN/metrics.json records each metric's direction, unit and definition.
"""

from __future__ import annotations

import argparse


def _devices(text: str):
    return int(text) if text.isdigit() else text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from benchmarks.profiles import PROFILES
    from benchmarks.tracking import MODES

    what = parser.add_argument_group("what to run")
    what.add_argument("--methods", default="all",
                      help="comma-separated registered methods, or 'all' (those with a config for the profile); "
                           "the reference rules (average, max, a plugin's) are always added (default: all)")
    what.add_argument("--datasets", default="auto",
                      help="comma-separated test sets or folders; 'sample' = the embedded sample pairs; 'auto' = "
                           "tno,flir,nir when the data root holds them, else the sample (default: auto)")
    what.add_argument("--profile", default="quick", choices=list(PROFILES),
                      help="; ".join(f"{p.name}: {p.description}" for p in PROFILES.values()) + " (default: quick)")
    what.add_argument("--seed", default="0", help="seed, or several: '0-4' or '0,3,7' (default: 0)")
    what.add_argument("--ids", default=None, help="only these pair ids of each test set, e.g. '1-8,12'")
    what.add_argument("--limit-pairs", type=int, default=None,
                      help="only the first N pairs of each test set (default: the profile's: smoke 2, else all)")
    what.add_argument("--metrics", default=None,
                      help="comma-separated metrics, or 'all' (default: the profile's: smoke and quick evaluate "
                           "DIDFuse Table 4's six, EN,MI,SD,SF,VIF,AG, to fit a CPU; paper evaluates all)")
    what.add_argument("--convention", default="default", help="metric convention (default: default)")
    what.add_argument("--color", default="auto", choices=["auto", "gray"],
                      help="auto: pairs whose visible image is colour (vifb, roadscene, a folder of colour images) are "
                           "fused in colour: the method fuses the visible Y, the fused Y goes back with the visible "
                           "Cb, Cr -> RGB PNG, and the metrics apply their convention's colour rule; gray: fuse every "
                           "pair gray, as before (default: auto)")
    what.add_argument("--ckpt", action="append", default=[], metavar="METHOD=PATH",
                      help="use this checkpoint for METHOD instead of training (repeatable)")
    what.add_argument("--train-dataset", default=None,
                      help="train every trainable method on this dataset instead of its config's (e.g. sample_flir)")
    where = parser.add_argument_group("where")
    where.add_argument("--out", default=None, help="run dir (default: runs/<profile>, runs/<profile>-sample on the sample)")
    where.add_argument("--name", default=None, help="benchmark name, the W&B group (default: the run dir's name)")
    where.add_argument("--data-root", default=None, help="data root (default: $IVIF_BENCH_DATA, else the user cache dir)")
    where.add_argument("--download", action="store_true",
                       help="fetch missing registered datasets first (pinned commits, sha256-verified)")
    report = parser.add_argument_group("reporting")
    report.add_argument("--wandb", default="auto", choices=list(MODES),
                        help="W&B mode; auto = online when an API key is configured, else offline (default: auto)")
    report.add_argument("--no-plots", action="store_true", help="skip the plots")
    report.add_argument("--pairs", default=None,
                        help="pairs of the qualitative grid, e.g. 'tno:1,tno:7,flir:3' (default: first pair per set)")
    report.add_argument("--no-progress", action="store_true", help="no progress bars")
    hardware = parser.add_argument_group("Lightning (passed to the Trainer)")
    hardware.add_argument("--accelerator", default=None, help="cpu, gpu, cuda, mps, auto (default: the config's)")
    hardware.add_argument("--devices", default=None, type=_devices, help="number of devices or a list, e.g. 2 or 0,1")
    hardware.add_argument("--strategy", default=None, help="e.g. ddp, ddp_spawn, fsdp (default: the config's)")
    hardware.add_argument("--num-nodes", type=int, default=None, help="number of nodes")
    hardware.add_argument("--max-steps", type=int, default=None, help="override every config's training length")
    hardware.add_argument("--checkpoint-every", type=int, default=50, help="save last.ckpt every N steps (default: 50)")
    hardware.add_argument("--metric-device", default="cpu", help="device of the metric computation (default: cpu, float64)")


def parse_seeds(text: str) -> list[int]:
    """'3' -> [3]; '0-4' -> [0..4]; '0,3,7' -> [0, 3, 7]."""
    from datamodules.errors import UserError

    seeds: list[int] = []
    for token in str(text).split(","):
        token = token.strip()
        try:
            if "-" in token[1:]:
                start, end = token.split("-", 1) if not token.startswith("-") else (token, "")
                seeds += list(range(int(start), int(end) + 1))
            elif token:
                seeds.append(int(token))
        except ValueError:
            raise UserError(f"--seed: {text!r} is not a seed, a range 'a-b' or a list 'a,b'") from None
    if not seeds:
        raise UserError(f"--seed: {text!r} selects no seed")
    return seeds


def parse_checkpoints(items: list[str]) -> dict[str, str]:
    from datamodules.errors import UserError

    checkpoints: dict[str, str] = {}
    for item in items:
        method, sep, path = item.partition("=")
        if not sep or not method.strip() or not path.strip():
            raise UserError(f"--ckpt {item!r}: expected METHOD=PATH")
        if method.strip() in checkpoints:
            raise UserError(f"--ckpt: method {method.strip()!r} given twice")
        checkpoints[method.strip()] = path.strip()
    return checkpoints


def parse_pairs(text: str | None) -> dict[str, list[str]] | None:
    from datamodules.errors import UserError

    if not text:
        return None
    pairs: dict[str, list[str]] = {}
    for item in text.split(","):
        dataset, sep, pair_id = item.strip().rpartition(":")
        if not sep or not dataset or not pair_id:
            raise UserError(f"--pairs: {item!r} is not DATASET:PAIR_ID")
        pairs.setdefault(dataset, []).append(pair_id)
    return pairs


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


def options_from(args: argparse.Namespace):
    from benchmarks.run.plan import RunOptions

    return RunOptions(
        out=args.out, methods=_split(args.methods), datasets=_split(args.datasets), seeds=parse_seeds(args.seed),
        profile=args.profile, data_root=args.data_root, ids=args.ids, limit_pairs=args.limit_pairs,
        checkpoints=parse_checkpoints(args.ckpt), metrics=_split(args.metrics), convention=args.convention,
        train_dataset=args.train_dataset, wandb=args.wandb, name=args.name, accelerator=args.accelerator,
        devices=args.devices, strategy=args.strategy, num_nodes=args.num_nodes, max_steps=args.max_steps,
        checkpoint_every=args.checkpoint_every, metric_device=args.metric_device, plots=not args.no_plots,
        qualitative=parse_pairs(args.pairs), download=args.download, progress=not args.no_progress,
        plugins=args.plugin, color=args.color)


def main(args: argparse.Namespace) -> int:
    from benchmarks.run import plan_run, run
    from benchmarks.run.train import rank_job

    rank_zero = rank_job() is None
    plan = plan_run(options_from(args), announce=print if rank_zero else None)
    run(plan)
    return 0
