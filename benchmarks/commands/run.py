"""Benchmark methods on test sets in one command: train, fuse, evaluate, leaderboard, plots, W&B.

  ivif-bench run [--methods all|a,b] [--datasets auto|sample|tno,flir,nir] [--profile smoke|quick|paper|pretrained]
                 [--seed N|0-4] [--out RUN] [--data-root DIR] [--wandb auto|offline|online|disabled]
                 [--ckpt METHOD=PATH|METHOD=official] [--allow-skip] [--accelerator A --devices N --strategy S]

The unit of work is (method, seed, dataset); a run started again with the same
arguments skips the finished units and resumes an interrupted training from
its last good checkpoint (a damaged one is moved aside as NAME.corrupt-TIME);
Ctrl-C stops it cleanly and prints that command. Without a data root the run
uses the embedded sample, and trains on its sample_flir_train; a requested
method that cannot run stops the run before any work unless --allow-skip. Every reference rule (average, max, and any a plugin
registers: needs_training = False) is always included. Results go to
RUN/results.csv, RUN/leaderboard.{csv,md,tex}, RUN/plots/ and RUN/wandb/
(offline runs: upload later with `wandb sync RUN/wandb/offline-run-*`).
Profiles are the YAML files benchmarks/configs/<method>/<profile>.yaml (a
plugin's method: the configs= folder it registered), read as `ivif-bench train`
reads them; RUN/metrics.json records each metric's direction, unit and definition.

Released weights: `--profile pretrained` trains nothing: it runs every method
whose class has the authors' released weights (didfuse, densefuse, ifcnn, a
plugin's) on them, plus the reference rules; `--ckpt METHOD=official` does so
for one method under any profile. ifcnn is pretrained only (its training set
is not in the benchmark's data): every profile fuses with its released weights.
Their hyper-parameters: benchmarks/configs/<method>/pretrained.yaml, else the
class defaults. Fetch the weights once: `ivif-bench data download weights`.
RUN/results.csv's `weights` column and the leaderboard's weights row say where
each model came from (official, trained under which profile and seed, a checkpoint).
"""

from __future__ import annotations

import argparse


def _devices(text: str):
    from benchmarks.commands.numbers import devices

    return devices(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from benchmarks.commands.numbers import positive_int
    from benchmarks.profiles import PROFILES
    from benchmarks.tracking import MODES

    what = parser.add_argument_group("what to run")
    what.add_argument("--methods", default="all",
                      help="comma-separated registered methods, or 'all' (those with a config for the profile; "
                           "pretrained: those with released weights); ifcnn is pretrained only and always runs on "
                           "its released weights; the reference rules (average, max, a plugin's) are always added "
                           "(default: all)")
    what.add_argument("--datasets", default="auto",
                      help="comma-separated test sets or folders; 'sample' = the embedded sample pairs; 'auto' = "
                           "tno,flir,nir when the data root holds them, else the sample (default: auto)")
    what.add_argument("--profile", default="quick", choices=list(PROFILES),
                      help="; ".join(f"{p.name}: {p.description}" for p in PROFILES.values()) + " (default: quick)")
    what.add_argument("--seed", default="0", help="seed, or several: '0-4' or '0,3,7' (default: 0)")
    what.add_argument("--ids", default=None, help="only these pair ids of each test set, e.g. '1-8,12'")
    what.add_argument("--limit-pairs", type=positive_int, default=None,
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
                      help="use this checkpoint for METHOD instead of training, or METHOD=official for the "
                           "authors' released weights (didfuse, densefuse, ifcnn) (repeatable)")
    what.add_argument("--train-dataset", default=None,
                      help="train every trainable method on this dataset instead of its config's (e.g. "
                           "sample_flir_train; a run on the embedded sample uses it when the config's is missing)")
    what.add_argument("--allow-skip", action="store_true",
                      help="run the other methods when some requested ones cannot run (no config for the profile, "
                           "no training data); without it such a run stops before any work, naming them")
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
    hardware.add_argument("--num-nodes", type=positive_int, default=None, help="number of nodes")
    hardware.add_argument("--max-steps", type=positive_int, default=None,
                          help="override every config's training length (optimizer steps, >= 1)")
    hardware.add_argument("--checkpoint-every", type=positive_int, default=50,
                          help="save last.ckpt every N steps (default: 50)")
    hardware.add_argument("--metric-device", default="cpu",
                          help="device of the metric computation: cpu (default; float64, exact), auto (where the "
                               "model fuses: on a GPU the fused images stay there, float32) or a device name")


def parse_seeds(text: str) -> list[int]:
    """'3' -> [3]; '0-4' -> [0..4]; '0,3,7' -> [0, 3, 7]; each a seed numpy accepts (0 .. 2**32 - 1)."""
    from benchmarks.commands.numbers import MAX_SEED
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
    bad = [s for s in seeds if not 0 <= s <= MAX_SEED]
    if bad:
        raise UserError(f"--seed: {text!r}: a seed is an integer 0..{MAX_SEED} (got {bad[0]})")
    if len(set(seeds)) != len(seeds):
        raise UserError(f"--seed: {text!r} lists a seed twice")
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
        plugins=args.plugin, allow_skip=args.allow_skip, color=args.color)


def main(args: argparse.Namespace) -> int:
    import sys

    from benchmarks.outputs import check_output_dir
    from benchmarks.run import plan_run, run
    from benchmarks.run.interrupt import RunInterrupted, resume_command
    from benchmarks.run.train import rank_job

    rank_zero = rank_job() is None
    options = options_from(args)
    plan = plan_run(options, announce=print if rank_zero else None)
    if rank_zero:
        check_output_dir(plan.layout.root, "--out")
    try:
        run(plan)
    except RunInterrupted as stop:
        command = resume_command(getattr(args, "argv", None) or sys.argv[1:], plan.layout.root)
        print(f"ivif-bench run: interrupted ({stop}); finished units and checkpoints are kept in {plan.layout.root}. "
              f"Resume with:\n  {command}", file=sys.stderr)
        return 130
    return 0
