"""Planning a reproducibility study: its options, its seeds and shards, the runner's plan of its one method.

The study is a run dir of the runner holding one method under the seeds
``seed0 .. seed0 + runs - 1`` (see :mod:`benchmarks.study`); :func:`plan_study`
builds the runner's :class:`~benchmarks.run.plan.Plan` for this shard's seeds
(no reference rules, fused images always per seed) and checks the study dir.

Example:
    >>> from benchmarks.study.plan import shard_seeds, study_seeds
    >>> study_seeds(runs=5, seed0=10)
    [10, 11, 12, 13, 14]
    >>> shard_seeds([10, 11, 12, 13, 14], index=1, count=2)
    [11, 13]
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Sequence

from benchmarks.provenance import read_json
from benchmarks.report.facts import HEADLINE_METRICS
from benchmarks.run.plan import MethodPlan, Plan, RunOptions, plan_run
from benchmarks.study import EXECUTORS
from datamodules.errors import UserError

__all__ = ["DEFINITION_KEYS", "EXECUTORS", "STUDY_FILE", "StudyError", "StudyOptions", "StudyPlan", "parse_shard",
           "plan_study", "seed_list", "shard_seeds", "study_seeds"]

STUDY_FILE = "study.json"
# what must agree between invocations on one study dir, and between the shard dirs of one study
DEFINITION_KEYS = ("method", "profile", "datasets", "pairs", "metrics", "convention", "cpus_per_run")


class StudyError(UserError):
    """A problem with a study's arguments or dirs (printed as one line by the CLI)."""


@dataclass
class StudyOptions:
    """Everything ``ivif-bench repro`` takes (see ``ivif-bench repro --help``).

    Attributes:
        method: a registered trainable method with a config for ``profile``.
        runs: number of trainings; seeds ``seed0 .. seed0 + runs - 1``.
        seed0: the first seed.
        profile: ``smoke``, ``quick`` or ``paper`` (``benchmarks/configs/<method>/<profile>.yaml``).
        datasets: test set names or folders (``sample``, ``auto`` as in ``ivif-bench run``).
        out: the study dir; default ``runs/repro-<method>-<profile>``, with
            ``/shard<i>of<n>`` for a shard.
        shard: ``(i, n)``: run only the seeds whose index is ``i`` modulo ``n``.
        executor: ``serial`` (this process) or ``ray``.
        ray_address: an existing Ray cluster (``auto``, ``ray://host:10001``);
            default: start a local Ray instance with ``ray_num_cpus`` CPUs (default all).
        cpus_per_run: torch threads of each run (and CPUs each Ray task asks
            for); default: torch's thread count here (serial), 1 (Ray).
        gpus_per_run: GPUs each Ray task asks for (fractions share a GPU);
            default 1 with ``accelerator`` gpu / cuda, else 0.
        competitors: a run dir of ``ivif-bench run`` whose methods the study is ranked against.
        metrics: metric names; default the six of Figure 5 that are registered.
        name: the W&B group; default ``repro-<method>-<profile>`` (the same for every shard).
        data_root, ids, limit_pairs, convention, train_dataset, wandb, accelerator,
        devices, strategy, num_nodes, max_steps, checkpoint_every, metric_device,
        download, progress, plugins: as in :class:`benchmarks.run.plan.RunOptions`.
        argv: the command line recorded in ``study.json`` (default ``sys.argv``).
    """

    method: str = "didfuse"
    runs: int = 25
    seed0: int = 0
    profile: str = "smoke"
    datasets: Sequence[str] = ("tno", "flir", "nir")
    out: Path | None = None
    shard: tuple[int, int] = (0, 1)
    executor: str = "serial"
    ray_address: str | None = None
    ray_num_cpus: int | None = None
    cpus_per_run: int | None = None
    gpus_per_run: float | None = None
    competitors: Path | None = None
    metrics: Sequence[str] | None = None
    name: str | None = None
    data_root: str | os.PathLike | None = None
    ids: str | None = None
    limit_pairs: int | None = None
    convention: str = "default"
    train_dataset: str | None = None
    wandb: str = "auto"
    accelerator: str | None = None
    devices: Any = None
    strategy: str | None = None
    num_nodes: int | None = None
    max_steps: int | None = None
    checkpoint_every: int = 50
    metric_device: str = "cpu"
    download: bool = False
    progress: bool = True
    argv: Sequence[str] | None = None
    plugins: Sequence[str] = ()


@dataclass
class StudyPlan:
    """A checked study: the runner's plan of this shard's seeds, and the study's record.

    Attributes:
        options: the study's arguments, resolved (absolute paths, threads, metrics).
        plan: the runner's :class:`~benchmarks.run.plan.Plan` holding only the studied method.
        seeds: every seed of the study; ``shard_seeds`` those this invocation runs.
    """

    options: StudyOptions
    plan: Plan
    seeds: list[int]
    shard_seeds: list[int]

    @property
    def root(self) -> Path:
        return self.plan.layout.root

    @property
    def method(self) -> MethodPlan:
        return self.plan.methods[0]

    @property
    def datasets(self) -> list[str]:
        return list(self.plan.pairs)

    def definition(self) -> dict[str, Any]:
        """What the study is: method, profile, datasets, pairs, metrics, convention, threads, seeds, shard."""
        return {"method": self.options.method, "profile": self.options.profile, "datasets": self.datasets,
                "pairs": {name: [p.pair_id for p in pairs] for name, pairs in self.plan.pairs.items()},
                "metrics": list(self.plan.metrics), "convention": self.options.convention,
                "cpus_per_run": self.options.cpus_per_run, "runs": self.options.runs, "seed0": self.options.seed0,
                "seeds": self.seeds, "shard": list(self.options.shard), "shard_seeds": self.shard_seeds,
                "name": self.plan.name}


# ------------------------------------------------------------------- seeds
def study_seeds(runs: int, seed0: int = 0) -> list[int]:
    """The seeds of a study: ``seed0 .. seed0 + runs - 1``."""
    if int(runs) < 1:
        raise StudyError(f"--runs must be >= 1; got {runs}")
    return list(range(int(seed0), int(seed0) + int(runs)))


def parse_shard(text: str | tuple[int, int] | None) -> tuple[int, int]:
    """``"i/n"`` -> ``(i, n)`` with ``0 <= i < n``; ``None`` -> ``(0, 1)`` (every seed)."""
    if text is None:
        return 0, 1
    if isinstance(text, tuple):
        index, count = text
    else:
        head, sep, tail = str(text).partition("/")
        try:
            index, count = int(head), int(tail)
        except ValueError:
            raise StudyError(f"--shard {text!r}: expected i/n, e.g. 0/4 (this process runs seeds i, i+n, ...)") from None
        if not sep:
            raise StudyError(f"--shard {text!r}: expected i/n, e.g. 0/4")
    if count < 1 or not 0 <= index < count:
        raise StudyError(f"--shard {index}/{count}: need n >= 1 and 0 <= i < n")
    return int(index), int(count)


def shard_seeds(seeds: Sequence[int], index: int, count: int) -> list[int]:
    """The seeds whose position in ``seeds`` is ``index`` modulo ``count``."""
    return [seed for position, seed in enumerate(seeds) if position % count == index]


# ---------------------------------------------------------------- planning
def _default_out(options: StudyOptions) -> Path:
    out = Path("runs") / f"repro-{options.method}-{options.profile}"
    index, count = options.shard
    return out / f"shard{index}of{count}" if count > 1 else out


def _absolute_dataset(name: str) -> str:
    """A folder dataset as an absolute path (Ray tasks may run elsewhere); registered names unchanged."""
    path = Path(name).expanduser()
    return str(path.resolve()) if path.is_dir() else name


def plan_study(options: StudyOptions, announce=None) -> StudyPlan:
    """Check the arguments and build the :class:`StudyPlan`; writes nothing.

    Raises:
        StudyError / RunError / KeyError / FileNotFoundError: an
            untrainable or unknown method, a bad shard, executor or metric,
            missing data, or a study dir made by a different study.
    """
    from benchmarks.plugins import load_plugins
    from benchmarks.tracking import resolve_mode
    from datamodules.datasets import resolve_data_root
    from lightning_modules import get_method_class, list_methods
    from metrics import list_metrics

    options = StudyOptions(**{f.name: getattr(options, f.name) for f in fields(options)})
    load_plugins(options.plugins)  # the method may be a plugin's (a Ray task loads them here too)
    if options.executor not in EXECUTORS:
        raise StudyError(f"--executor must be one of {', '.join(EXECUTORS)}; got {options.executor!r}")
    if options.method not in list_methods():
        raise StudyError(f"unknown method {options.method!r}; registered: {', '.join(list_methods())}")
    if not getattr(get_method_class(options.method), "needs_training", True):
        raise StudyError(f"{options.method!r} needs no training: every run would give the same result; "
                         f"study a trainable method ({', '.join(list_methods(trainable=True))})")
    options.shard = parse_shard(options.shard)
    seeds = study_seeds(options.runs, options.seed0)
    selected = shard_seeds(seeds, *options.shard)
    if not selected:
        raise StudyError(f"--shard {options.shard[0]}/{options.shard[1]} selects none of the {len(seeds)} seed(s) "
                         f"{seeds[0]}..{seeds[-1]}; use at most {len(seeds)} shards")
    if options.cpus_per_run is None:
        import torch

        options.cpus_per_run = 1 if options.executor == "ray" else torch.get_num_threads()
    if int(options.cpus_per_run) < 1:
        raise StudyError(f"--cpus-per-run must be >= 1; got {options.cpus_per_run}")
    options.cpus_per_run = int(options.cpus_per_run)
    if options.gpus_per_run is None:
        options.gpus_per_run = 1.0 if str(options.accelerator).lower() in ("gpu", "cuda") else 0.0
    if options.gpus_per_run < 0:
        raise StudyError(f"--gpus-per-run must be >= 0; got {options.gpus_per_run}")
    if options.metrics:
        metrics = list(options.metrics)
    else:
        known = list_metrics(options.convention)
        metrics = [m for m in HEADLINE_METRICS if m in known]
        if not metrics:
            raise StudyError(f"none of Figure 5's metrics ({', '.join(HEADLINE_METRICS)}) is registered for "
                             f"convention {options.convention!r}; name some with --metrics")
        missing = [m for m in HEADLINE_METRICS if m not in known]
        if missing and announce is not None:
            announce(f"metrics: {', '.join(metrics)} (Figure 5's {', '.join(missing)} not registered in this installation)")
    options.metrics = metrics
    options.out = Path(options.out if options.out is not None else _default_out(options)).expanduser().resolve()
    options.data_root = str(resolve_data_root(options.data_root))
    options.datasets = [_absolute_dataset(d) for d in options.datasets]
    options.wandb = resolve_mode(options.wandb)  # decided once, here: Ray tasks may see another environment
    options.name = options.name or f"repro-{options.method}-{options.profile}"
    if options.competitors is not None:
        options.competitors = Path(options.competitors).expanduser().resolve()
        if not (options.competitors / "results.csv").is_file():
            raise StudyError(f"--competitors {options.competitors}: no results.csv there; "
                             "give a run dir of ivif-bench run (e.g. runs/quick)")

    run_options = RunOptions(
        out=options.out, methods=[options.method], datasets=list(options.datasets), seeds=selected,
        profile=options.profile, data_root=options.data_root, ids=options.ids, limit_pairs=options.limit_pairs,
        metrics=metrics, convention=options.convention, train_dataset=options.train_dataset, wandb=options.wandb,
        name=options.name, accelerator=options.accelerator, devices=options.devices, strategy=options.strategy,
        num_nodes=options.num_nodes, max_steps=options.max_steps, checkpoint_every=options.checkpoint_every,
        metric_device=options.metric_device, plots=False, download=options.download, progress=options.progress,
        reference_rules=False, seed_level_fused=True, plugins=options.plugins)
    plan = plan_run(run_options, announce=announce)
    if [m.name for m in plan.methods] != [options.method]:
        reason = dict(plan.skipped).get(options.method, "not planned")
        raise StudyError(f"{options.method}: cannot run the study ({reason})")
    study = StudyPlan(options, plan, seeds, selected)
    _check_study_dir(study)
    return study


def _check_study_dir(study: StudyPlan) -> None:
    """Refuse a study dir made by another study (other method, data, metrics or threads) or by ``ivif-bench run``."""
    path = study.root / STUDY_FILE
    if not path.is_file():
        foreign = sorted({m["method"] for m in study.plan.layout.markers()} - {study.options.method})
        if foreign:
            raise StudyError(f"{study.root}: holds results of {', '.join(foreign)} (an ivif-bench run dir?); "
                             "give the study its own --out")
        return
    stored = read_json(path)
    wanted = study.definition()
    changed = [f"{key}: {stored.get(key)!r} -> {wanted[key]!r}" for key in DEFINITION_KEYS if stored.get(key) != wanted[key]]
    if changed:
        raise StudyError(f"{study.root}: made by another study ({'; '.join(changed)[:400]}); "
                         "use another --out, or the same arguments to resume it")



def seed_list(seeds: Sequence[int]) -> str:
    seeds = list(seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(str(s) for s in seeds)

