"""The reproducibility study: train one method N times with N seeds, and see how much its metrics move.

DIDFuse (Zhao et al., IJCAI 2020, Section 4.4 and Figure 5) answers "deep
fusion methods are unstable" by training the network 25 times and plotting the
six metrics of the 25 runs against the best and second-best competitors. This
module makes that study a command for any trainable method
(``ivif-bench repro``), so a user can tell a real gain from seed noise.

A study is a run dir of the benchmark runner (:mod:`benchmarks.runner`) holding
one method under the seeds ``seed0 .. seed0 + runs - 1``: the same units of
work ``(method, seed, dataset)``, done markers, per-unit results files,
checkpoints, W&B runs and provenance, plus::

    study.json                  what the study is (method, seeds, shard, datasets, pairs, metrics, threads)
                                and every invocation (argv, seeds run, wall time)
    repro_runs.csv              the method's mean over images, per (seed, dataset, metric): the plotted values
    repro_report.{csv,md}       per (dataset, metric): mean, std, min, max over runs; with competitors, the
                                best and second-best competitor and in how many runs the method ranks 1st / 2nd
    plots/repro_figure5.{png,pdf}  Figure 5: a row per dataset, a column per metric

The seed drives weight init, data order and crops (``seed_everything(seed,
workers=True)`` and the data module's ``seed``). Each run uses
``cpus_per_run`` torch threads in every executor, because on CPU the float
results of a convolution depend on the thread count: the same seed, config,
thread count and machine give bitwise the same numbers.

Spreading a study: ``shard=(i, n)`` runs the seeds whose index (0-based,
in seed order) is ``i`` modulo ``n``, in its own dir (SLURM array jobs, plain
processes); :func:`merge_studies` joins shard dirs and refuses duplicated or
missing seeds. ``executor="ray"`` runs the seeds as Ray tasks, each asking for
``cpus_per_run`` CPUs and ``gpus_per_run`` GPUs, on a local Ray instance or an
existing cluster (``ray_address``). Each task writes its units into the study
dir and returns their rows and markers; the driver writes back any the study
dir lacks and merges. For a multi-node cluster the study dir and the data root
must be on a filesystem every node sees (checkpoints and fused images stay
where the tasks wrote them), and ivif-bench must be installed on every node.

Example:
    >>> from benchmarks.study import shard_seeds, study_seeds
    >>> study_seeds(runs=5, seed0=10)
    [10, 11, 12, 13, 14]
    >>> shard_seeds([10, 11, 12, 13, 14], index=1, count=2)
    [11, 13]
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd
import torch

from benchmarks import runner
from benchmarks.leaderboard import method_order, metric_order, read_results, summarize
from benchmarks.provenance import now, read_json, write_json
from datamodules.io import atomic_write

__all__ = ["EXECUTORS", "FIGURE5_METRICS", "StudyError", "StudyOptions", "StudyPlan", "competitor_means",
           "figure5_figure", "histogram_figure", "merge_studies", "parse_shard", "per_run_means", "plan_study",
           "plot_figure5", "read_study", "report_study", "run_study", "shard_seeds", "study_report", "study_seeds",
           "to_markdown", "write_report"]

#: the six metrics of DIDFuse's Figure 5 (and Table 4), the study's default
FIGURE5_METRICS = ("EN", "MI", "SD", "SF", "VIF", "AG")
EXECUTORS = ("serial", "ray")
STUDY_FILE = "study.json"
REPORT_WANDB_FILE = Path("units") / "repro-report.wandb.json"
# what must agree between invocations on one study dir, and between the shard dirs of one study
DEFINITION_KEYS = ("method", "profile", "datasets", "pairs", "metrics", "convention", "cpus_per_run")
REPORT_COLUMNS = ["dataset", "metric", "convention", "higher_is_better", "unit", "n_runs", "mean", "std", "min", "max",
                  "best_competitor", "best_value", "second_competitor", "second_value", "runs_first", "runs_second"]


class StudyError(ValueError):
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
        download, progress: as in :class:`benchmarks.runner.RunOptions`.
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


@dataclass
class StudyPlan:
    """A checked study: the runner's plan of this shard's seeds, and the study's record.

    Attributes:
        options: the study's arguments, resolved (absolute paths, threads, metrics).
        plan: the runner's :class:`~benchmarks.runner.Plan` holding only the studied method.
        seeds: every seed of the study; ``shard_seeds`` those this invocation runs.
    """

    options: StudyOptions
    plan: runner.Plan
    seeds: list[int]
    shard_seeds: list[int]

    @property
    def root(self) -> Path:
        return self.plan.layout.root

    @property
    def method(self) -> runner.MethodPlan:
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


@dataclass
class _SeedLevelPlan(runner.Plan):
    """The runner's plan, with fused images always under ``fused/<method>/seed<k>/`` (a shard may hold one seed)."""

    @property
    def several_seeds(self) -> bool:
        return True


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
        StudyError / runner.RunError / KeyError / FileNotFoundError: an
            untrainable or unknown method, a bad shard, executor or metric,
            missing data, or a study dir made by a different study.
    """
    from benchmarks.tracking import resolve_mode
    from datamodules.datasets import resolve_data_root
    from lightning_modules import get_method_class, list_methods
    from metrics import list_metrics

    options = StudyOptions(**{f.name: getattr(options, f.name) for f in fields(options)})
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
        metrics = [m for m in FIGURE5_METRICS if m in known]
        if not metrics:
            raise StudyError(f"none of Figure 5's metrics ({', '.join(FIGURE5_METRICS)}) is registered for "
                             f"convention {options.convention!r}; name some with --metrics")
        missing = [m for m in FIGURE5_METRICS if m not in known]
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

    run_options = runner.RunOptions(
        out=options.out, methods=[options.method], datasets=list(options.datasets), seeds=selected,
        profile=options.profile, data_root=options.data_root, ids=options.ids, limit_pairs=options.limit_pairs,
        metrics=metrics, convention=options.convention, train_dataset=options.train_dataset, wandb=options.wandb,
        name=options.name, accelerator=options.accelerator, devices=options.devices, strategy=options.strategy,
        num_nodes=options.num_nodes, max_steps=options.max_steps, checkpoint_every=options.checkpoint_every,
        metric_device=options.metric_device, plots=False, download=options.download, progress=options.progress)
    plan = runner.plan_run(run_options, announce=announce)
    studied = [m for m in plan.methods if m.name == options.method]
    if not studied:
        reason = dict(plan.skipped).get(options.method, "not planned")
        raise StudyError(f"{options.method}: cannot run the study ({reason})")
    plan = _SeedLevelPlan(**{f.name: getattr(plan, f.name) for f in fields(plan)})
    plan.methods = studied
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


# ----------------------------------------------------------------- running
@contextlib.contextmanager
def _torch_threads(count: int) -> Iterator[None]:
    """Run with ``count`` torch intra-op threads (CPU float results depend on it), restoring the previous count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(int(count))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _seed_done(study: StudyPlan, seed: int) -> bool:
    layout = study.plan.layout
    return all(layout.marker(unit).is_file() and layout.results_file(unit).is_file()
               for unit in study.plan.units(study.options.method, seed))


def _seed_outputs(study: StudyPlan, seed: int) -> list[dict[str, Any]]:
    """The done markers and results CSV text of one seed's units (what a Ray task returns to the driver)."""
    layout = study.plan.layout
    outputs = []
    for unit in study.plan.units(study.options.method, seed):
        outputs.append({"marker_path": str(layout.marker(unit).relative_to(layout.root)),
                        "marker": read_json(layout.marker(unit)),
                        "results_path": str(layout.results_file(unit).relative_to(layout.root)),
                        "results": layout.results_file(unit).read_text(encoding="utf-8")})
    return outputs


def _write_back(root: Path, outputs: list[dict[str, Any]]) -> int:
    """Write the units a Ray task returned that ``root`` lacks (a task on a node without the shared dir); returns how many."""
    written = 0
    for output in outputs:
        marker = root / output["marker_path"]
        if marker.is_file() and (root / output["results_path"]).is_file():
            continue
        with atomic_write(root / output["results_path"], "w", encoding="utf-8", newline="") as handle:
            handle.write(output["results"])
        write_json(marker, output["marker"])  # the marker last, as the runner does
        written += 1
    return written


def _run_seed(study: StudyPlan, seed: int, tracker, reporter) -> float:
    """Train, fuse and evaluate one seed under the study's thread count; returns its wall time in s."""
    clock = time.perf_counter()
    with _torch_threads(study.options.cpus_per_run):
        runner.run_method_seed(study.plan, study.method, seed, tracker, reporter)
    return time.perf_counter() - clock


def _ray_seed_task(options: StudyOptions, seed: int) -> dict[str, Any]:
    """A Ray task: one seed of the study, on whatever node Ray chose; returns its units' markers and rows."""
    from benchmarks.tracking import Tracker

    study = plan_study(options)
    tracker = Tracker(study.root, study.plan.name, study.options.wandb)
    seconds = _run_seed(study, seed, tracker, runner.Reporter(progress=False))
    import socket

    return {"seed": seed, "seconds": seconds, "host": socket.gethostname(), "outputs": _seed_outputs(study, seed)}


def _execute_ray(study: StudyPlan, pending: list[int], reporter) -> dict[int, float]:
    """Run the pending seeds as Ray tasks; returns ``{seed: wall seconds}``."""
    try:
        import ray
    except ImportError:
        raise StudyError("--executor ray needs Ray: pip install 'ivif-bench[cluster]' (or: pip install 'ray[default]')") from None
    options = study.options
    started_here = not ray.is_initialized()
    if started_here:
        if options.ray_address:
            ray.init(address=options.ray_address, log_to_driver=False)
        else:
            ray.init(num_cpus=options.ray_num_cpus, include_dashboard=False, log_to_driver=False)
    resources = ray.cluster_resources()
    if resources.get("CPU", 0) < options.cpus_per_run or resources.get("GPU", 0) < (options.gpus_per_run or 0):
        if started_here:
            ray.shutdown()
        raise StudyError(f"the Ray cluster has {resources.get('CPU', 0):g} CPU(s) and {resources.get('GPU', 0):g} "
                         f"GPU(s); a run asks for {options.cpus_per_run} CPU(s) and {options.gpus_per_run:g} GPU(s) "
                         "(--cpus-per-run / --gpus-per-run)")
    # a task killed with its node is retried by Ray; a retried seed resumes from its files like a restarted study
    task = ray.remote(num_cpus=options.cpus_per_run, num_gpus=options.gpus_per_run or 0)(_ray_seed_task)
    reporter.line(f"ray: {len(pending)} seed(s) as tasks of {options.cpus_per_run} CPU(s) / {options.gpus_per_run:g} "
                  f"GPU(s) each on {resources.get('CPU', 0):g} CPU(s), {resources.get('GPU', 0):g} GPU(s)")
    times: dict[int, float] = {}
    failures: list[tuple[int, BaseException]] = []
    try:
        refs = {task.remote(options, seed): seed for seed in pending}
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            seed = refs.pop(done[0])
            try:
                result = ray.get(done[0])
            except Exception as err:  # noqa: BLE001 - a failed seed: the others go on, then the study reports it
                failures.append((seed, err))
                reporter.line(f"{options.method}/seed{seed}: failed ({str(err).strip().splitlines()[-1][:300]})")
                continue
            written = _write_back(study.root, result["outputs"])
            times[seed] = result["seconds"]
            reporter.line(f"{options.method}/seed{seed}: done on {result['host']} in {result['seconds']:.1f} s"
                          + (f" ({written} unit(s) written back here)" if written else ""))
    finally:
        if started_here:
            ray.shutdown()
    if failures:
        seed, err = failures[0]
        last = str(err).strip().splitlines()[-1][:400]
        raise StudyError(f"{len(failures)} seed(s) failed ({', '.join(str(s) for s, _ in failures)}); first, "
                         f"seed {seed}: {last}; start the study again to retry them")
    return times


def run_study(study: StudyPlan, reporter=None) -> pd.DataFrame | None:
    """Run the seeds of ``study`` not done yet, merge the results, and report when every seed is there.

    Returns:
        The report (``repro_report.csv`` rows), or ``None`` for a shard (merge
        the shard dirs with :func:`merge_studies`) or on a non-zero rank of a
        multi-device training.
    """
    from benchmarks.tracking import Tracker

    if os.environ.get(runner.TRAIN_ONLY_ENV):  # a rank started by Lightning's launcher: join rank 0's training
        runner.run(study.plan)
        return None
    reporter = reporter or runner.Reporter(study.options.progress)
    options, layout = study.options, study.plan.layout
    # microseconds: this invocation's id in provenance.json (two runs of one dir can start in the same second)
    started, clock = now("microseconds"), time.perf_counter()
    with runner.run_lock(layout):
        tracker = Tracker(layout.root, study.plan.name, options.wandb)
        record = _start_record(study, started)
        runner.write_provenance(study.plan, started, status="running")
        done = [s for s in study.shard_seeds if _seed_done(study, s)]
        pending = [s for s in study.shard_seeds if s not in done]
        if done:
            reporter.line(f"skip seed(s) {_seed_list(done)}: done")
        times: dict[int, float] = {}
        try:
            if pending and options.executor == "ray":
                times = _execute_ray(study, pending, reporter)
            else:
                for seed in pending:
                    times[seed] = _run_seed(study, seed, tracker, reporter)
                    reporter.line(f"{options.method}/seed{seed}: done in {times[seed]:.1f} s "
                                  f"({len(times)}/{len(pending)} of this invocation)")
            results = runner.merge_results(layout, study.datasets)
        except BaseException:
            runner.write_provenance(study.plan, started, status="failed", clock=clock)
            _finish_record(study, record, times, clock, "failed")
            raise
        runner.write_provenance(study.plan, started, status="finished", clock=clock,
                                 counts={"done": len(pending), "skipped": len(done)})
        _finish_record(study, record, times, clock, "finished")
        reporter.line(f"{len(pending)} seed(s) run, {len(done)} already done, in {time.perf_counter() - clock:.1f} s")
        if options.shard[1] > 1:
            reporter.line(f"shard {options.shard[0]}/{options.shard[1]} done: seeds {_seed_list(study.shard_seeds)} "
                          f"in {layout.root}; when every shard is done: ivif-bench repro-merge SHARD_DIR... --out DIR")
            return None
        results = results[(results["method"] == options.method) & results["seed"].isin(study.seeds)]
        return report_study(layout.root, results, options.method, study.seeds, competitors=options.competitors,
                            title=f"Reproducibility of {options.method}: {study.plan.name}", tracker=tracker,
                            wandb_config=study.definition(), reporter=reporter)


def _seed_list(seeds: Sequence[int]) -> str:
    seeds = list(seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(str(s) for s in seeds)


def _start_record(study: StudyPlan, started: str) -> dict[str, Any]:
    path = study.root / STUDY_FILE
    record = {"kind": "ivif-bench repro", "created": started, **study.definition(), "invocations": [], "seed_times_s": {}}
    if path.is_file():
        stored = read_json(path)
        record.update(created=stored.get("created", started), invocations=stored.get("invocations", []),
                      seed_times_s=stored.get("seed_times_s", {}))
    record["invocations"].append({"argv": list(study.options.argv or sys.argv), "executor": study.options.executor,
                                  "started": started, "status": "running", "seeds_run": []})
    write_json(path, record)
    return record


def _finish_record(study: StudyPlan, record: dict[str, Any], times: dict[int, float], clock: float, status: str) -> None:
    record["invocations"][-1].update(status=status, finished=now(), wall_time_s=round(time.perf_counter() - clock, 3),
                                     seeds_run=sorted(times))
    record["seed_times_s"].update({str(seed): round(seconds, 3) for seed, seconds in times.items()})
    write_json(study.root / STUDY_FILE, record)


# ---------------------------------------------------------------- merging
def merge_studies(dirs: Sequence[str | os.PathLike], out: str | os.PathLike, competitors=None,
                  wandb: str = "auto", reporter=None) -> pd.DataFrame:
    """Join the shard dirs of one study into ``out`` and report; with one dir and ``out`` the same, just report again.

    Every seed of the study must be done in exactly one dir. ``out`` gets the
    merged ``study.json``, each unit's done marker and results file (fused
    images and checkpoints stay in the shard dirs; the markers point there),
    ``results.csv`` and the report.

    Raises:
        StudyError: a dir that is not a study, shards of different studies,
            seeds done in two dirs, or seeds done in none (naming seeds and dirs).
    """
    from benchmarks.tracking import Tracker

    reporter = reporter or runner.Reporter(progress=False)
    roots = [Path(d).expanduser().resolve() for d in dirs]
    if not roots:
        raise StudyError("repro-merge: give the study's shard dirs")
    if len(set(roots)) != len(roots):
        raise StudyError(f"repro-merge: a dir is given twice ({', '.join(str(r) for r in roots)})")
    out = Path(out).expanduser().resolve()
    records = []
    for root in roots:
        if not (root / STUDY_FILE).is_file():
            raise StudyError(f"{root}: no {STUDY_FILE}; not an ivif-bench repro dir")
        records.append(read_json(root / STUDY_FILE))
    first = records[0]
    # shards may run on nodes with other core counts: the thread counts are recorded, not required to agree
    same_study = [key for key in (*DEFINITION_KEYS, "runs", "seed0") if key != "cpus_per_run"]
    for root, record in zip(roots[1:], records[1:]):
        changed = [key for key in same_study if record.get(key) != first.get(key)]
        if changed:
            raise StudyError(f"{root} and {roots[0]} are shards of different studies (they differ in "
                             f"{', '.join(changed)}); merge the shards of one study")
    threads = sorted({int(r.get("cpus_per_run") or 0) for r in records})
    expected = [int(s) for s in first["seeds"]]
    method, datasets = first["method"], list(first["datasets"])
    where: dict[int, list[Path]] = {}
    for root in roots:
        for seed in _done_seeds(root, method, datasets):
            where.setdefault(seed, []).append(root)
    duplicated = {seed: places for seed, places in where.items() if len(places) > 1}
    if duplicated:
        lines = "; ".join(f"seed {s} in {', '.join(str(p) for p in places)}" for s, places in sorted(duplicated.items()))
        raise StudyError(f"seed(s) done in more than one dir: {lines}; keep each seed in one dir")
    missing = [seed for seed in expected if seed not in where]
    if missing:
        owners = {}
        for record, root in zip(records, roots):
            for seed in record.get("shard_seeds", []):
                owners.setdefault(int(seed), str(root))
        detail = ", ".join(f"{s} (shard dir {owners[s]})" if s in owners else f"{s} (no shard dir given holds it)"
                           for s in missing)
        raise StudyError(f"missing seed(s) of the {len(expected)}-run study: {detail}; finish those shards "
                         "(run the same repro command again) or give their dirs")
    extra = sorted(set(where) - set(expected))
    layout = runner.RunLayout(out)
    in_place = roots == [out]
    if not in_place:
        if out in roots:
            raise StudyError(f"--out {out} is one of the shard dirs; merge into a new dir")
        if (out / STUDY_FILE).is_file():
            stored = read_json(out / STUDY_FILE)
            changed = [key for key in same_study if stored.get(key) != first.get(key)]
            if changed:
                raise StudyError(f"--out {out}: holds another study (it differs in {', '.join(changed)}); "
                                 "merge into a new dir")
        elif (out / "units").is_dir() and layout.markers():
            raise StudyError(f"--out {out}: holds other results; merge into a new dir")
        for seed in expected:
            _copy_seed(where[seed][0], out, method, seed, datasets)
        merged = {**first, "shard": [0, 1], "shard_seeds": expected, "merged_from": [str(r) for r in roots],
                  "cpus_per_run": threads[0] if len(threads) == 1 else threads,
                  "merged": now(),
                  "invocations": [dict(i, dir=str(r)) for r, rec in zip(roots, records) for i in rec.get("invocations", [])],
                  "seed_times_s": {k: v for rec in records for k, v in rec.get("seed_times_s", {}).items()}}
        write_json(out / STUDY_FILE, merged)
    if extra:
        reporter.line(f"note: seed(s) {_seed_list(extra)} outside the study's {_seed_list(expected)} are left out")
    if len(threads) > 1:
        reporter.line(f"note: the shards ran with different thread counts per run ({threads}); on CPU the last "
                      "digits of a seed's numbers depend on it")
    results = runner.merge_results(layout, datasets)
    results = results[(results["method"] == method) & results["seed"].isin(expected)]
    tracker = Tracker(out, first.get("name") or f"repro-{method}", wandb)
    return report_study(out, results, method, expected, competitors=competitors,
                        title=f"Reproducibility of {method}: {first.get('name') or out.name}", tracker=tracker,
                        wandb_config={k: first.get(k) for k in (*DEFINITION_KEYS, "runs", "seed0", "name")},
                        reporter=reporter)


def _done_seeds(root: Path, method: str, datasets: Sequence[str]) -> list[int]:
    """Seeds of ``method`` with a done marker and a results file for every dataset in ``root``."""
    layout = runner.RunLayout(root)
    seeds = []
    for seed_dir in sorted((root / "units" / method).glob("seed*")):
        try:
            seed = int(seed_dir.name[4:])
        except ValueError:
            continue
        units = [runner.Unit(method, seed, d) for d in datasets]
        if all(layout.marker(u).is_file() and layout.results_file(u).is_file() for u in units):
            seeds.append(seed)
    return seeds


def _copy_seed(source: Path, out: Path, method: str, seed: int, datasets: Sequence[str]) -> None:
    """Copy one seed's results files and markers (markers last); the marker's paths are made to point at ``source``."""
    src, dst = runner.RunLayout(source), runner.RunLayout(out)
    for dataset in datasets:
        unit = runner.Unit(method, seed, dataset)
        with atomic_write(dst.results_file(unit), "wb") as handle:
            handle.write(src.results_file(unit).read_bytes())
        marker = read_json(src.marker(unit))
        if marker.get("fused_dir"):
            marker["fused_dir"] = os.path.relpath(source / marker["fused_dir"], out)
        marker["merged_from"] = str(source)
        write_json(dst.marker(unit), marker)


# ---------------------------------------------------------------- the report
def per_run_means(results: pd.DataFrame, method: str) -> pd.DataFrame:
    """The method's mean over images per (seed, dataset, metric): what Figure 5 plots.

    Returns:
        Columns ``run`` (1-based, in seed order), ``seed``, ``dataset``,
        ``metric``, ``convention``, ``value``, ``n_images``; NaN when any image's value is NaN.
    """
    rows = results[results["method"] == method]
    if rows.empty:
        raise StudyError(f"no results of method {method!r}")
    rows = rows.assign(value=pd.to_numeric(rows["value"], errors="coerce"))
    means = rows.groupby(["seed", "dataset", "metric", "convention"], sort=False).agg(
        value=("value", lambda v: v.mean(skipna=False)), n_images=("image", "nunique")).reset_index()
    seeds = sorted(int(s) for s in means["seed"].unique())
    means.insert(0, "run", means["seed"].map({s: i + 1 for i, s in enumerate(seeds)}))
    datasets = list(dict.fromkeys(rows["dataset"]))
    names = list(dict.fromkeys(means["metric"]))
    figure5 = [m for m in FIGURE5_METRICS if m in names]  # Figure 5's order, then the registry's
    order = {m: i for i, m in enumerate(figure5 + [m for m in metric_order(names) if m not in figure5])}
    means = means.assign(_d=means["dataset"].map(datasets.index), _m=means["metric"].map(order))
    return means.sort_values(["_d", "_m", "convention", "run"]).drop(columns=["_d", "_m"]).reset_index(drop=True)


def competitor_means(run_dir: str | os.PathLike, exclude: str | None = None) -> pd.DataFrame:
    """Each competitor's mean per (dataset, metric, convention) from a run dir of ``ivif-bench run``.

    The mean is the leaderboard's (over images; over seeds of per-seed means
    when the run has several seeds). ``exclude`` drops the studied method.

    Returns:
        Columns ``method``, ``dataset``, ``metric``, ``convention``, ``mean``, ``n_images``, ``images`` (a frozenset).
    """
    results = read_results(run_dir)
    if exclude is not None:
        results = results[results["method"] != exclude]
    if results.empty:
        raise StudyError(f"{run_dir}: no competitor results (only {exclude!r})")
    summary = summarize(results)
    images = results.groupby(["method", "dataset"])["image"].agg(frozenset)
    summary["images"] = [images.get((m, d), frozenset()) for m, d in zip(summary["method"], summary["dataset"])]
    return summary[["method", "dataset", "metric", "convention", "mean", "n_images", "images"]]


def _metric_facts(metric: str, convention: str) -> tuple[bool, str]:
    """(higher_is_better, unit) from the metric registry; an unregistered metric ranks up."""
    from metrics import get_metric_info

    try:
        info = get_metric_info(metric, convention)
    except KeyError:
        return True, ""
    return bool(info.higher_is_better), info.unit


def study_report(per_run: pd.DataFrame, competitors: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per (dataset, metric): mean, std (ddof 1), min, max over runs; with competitors, places.

    A run ranks ``1 + (number of competitors strictly better)`` in the
    metric's direction (from the registry), comparing full-precision means;
    ``runs_first`` / ``runs_second`` count the runs in first / second place.

    Returns:
        Rows with :data:`REPORT_COLUMNS`.
    """
    rows = []
    for (dataset, metric, convention), block in per_run.groupby(["dataset", "metric", "convention"], sort=False):
        values = block["value"].to_numpy(dtype=float)
        higher, unit = _metric_facts(metric, convention)
        row = {"dataset": dataset, "metric": metric, "convention": convention, "higher_is_better": higher, "unit": unit,
               "n_runs": len(values), "mean": float(np.mean(values)),
               "std": float(np.std(values, ddof=1)) if len(values) > 1 else math.nan,
               "min": float(np.min(values)), "max": float(np.max(values)),
               "best_competitor": None, "best_value": math.nan, "second_competitor": None, "second_value": math.nan,
               "runs_first": None, "runs_second": None}
        if competitors is not None:
            others = competitors[(competitors["dataset"] == dataset) & (competitors["metric"] == metric)
                                 & (competitors["convention"] == convention)].dropna(subset=["mean"])
            if not others.empty:
                ordered = others.sort_values("mean", ascending=not higher)
                row["best_competitor"], row["best_value"] = ordered["method"].iloc[0], float(ordered["mean"].iloc[0])
                if len(ordered) > 1:
                    row["second_competitor"], row["second_value"] = (ordered["method"].iloc[1],
                                                                     float(ordered["mean"].iloc[1]))
                means = others["mean"].to_numpy(dtype=float)
                better = [(means > v).sum() if higher else (means < v).sum() for v in values]
                places = [1 + int(b) if np.isfinite(v) else 0 for b, v in zip(better, values)]
                row["runs_first"] = sum(p == 1 for p in places)
                row["runs_second"] = sum(p == 2 for p in places)
        rows.append(row)
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


def _fmt(value: Any, decimals: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{value:.{decimals}f}"


def to_markdown(report: pd.DataFrame, method: str, seeds: Sequence[int], title: str, notes: Sequence[str] = ()) -> str:
    """The report as Markdown: a table per dataset, a row per metric."""
    competitors = report["best_competitor"].notna().any()
    lines = [f"# {title}", "",
             f"{method} trained {len(seeds)} times (seeds {_seed_list(seeds)}); each value is a run's mean over the "
             "test images (8-bit fused PNGs); mean, std (ddof 1), min and max run over the runs. "
             "↑ higher is better, ↓ lower is better.", ""]
    if competitors:
        lines += ["Best / second: the best and second-best competitor's mean (leaderboard of the competitors' run); "
                  "1st / 2nd: in how many runs the method ranks first / second against them.", ""]
    lines += [f"- {note}" for note in notes] + ([""] if notes else [])
    for dataset, block in report.groupby("dataset", sort=False):
        n = int(block["n_runs"].max())
        header = ["Metric", "mean ± std", "min", "max"]
        if competitors:
            header += ["best competitor", "second competitor", "1st", "2nd"]
        lines += [f"## {dataset} ({n} runs)", "", "| " + " | ".join(header) + " |",
                  "|---|" + "---:|" * (len(header) - 1)]
        for row in block.itertuples(index=False):
            name = row.metric if row.convention == "default" else f"{row.metric} ({row.convention})"
            cells = [f"{name} {'↑' if row.higher_is_better else '↓'}", f"{_fmt(row.mean)} ± {_fmt(row.std)}",
                     _fmt(row.min), _fmt(row.max)]
            if competitors:
                cells += [f"{row.best_competitor} {_fmt(row.best_value)}" if row.best_competitor else "–",
                          f"{row.second_competitor} {_fmt(row.second_value)}" if row.second_competitor else "–",
                          "–" if row.runs_first is None or pd.isna(row.runs_first) else f"{int(row.runs_first)}/{row.n_runs}",
                          "–" if row.runs_second is None or pd.isna(row.runs_second) else f"{int(row.runs_second)}/{row.n_runs}"]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


def plot_figure5(per_run: pd.DataFrame, report: pd.DataFrame, method: str, out_stem: str | os.PathLike,
                 formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """:func:`figure5_figure` saved as ``<out_stem>.png`` / ``.pdf``; returns the files written."""
    from benchmarks.plots import save_figure

    return save_figure(figure5_figure(per_run, report, method), out_stem, formats)


def _panel_grid(per_run: pd.DataFrame, hspace: float):
    """(figure, axes, datasets, columns): one panel per (dataset row, (metric, convention) column) of ``per_run``,
    with fixed margins in inches (constrained layout costs seconds per save)."""
    from matplotlib.figure import Figure

    datasets = list(dict.fromkeys(per_run["dataset"]))
    columns = list(dict.fromkeys(zip(per_run["metric"], per_run["convention"])))
    width, height = 2.3 * len(columns) + 0.7, 1.8 * len(datasets) + 1.0
    figure = Figure(figsize=(width, height))
    axes = figure.subplots(len(datasets), len(columns), squeeze=False)
    figure.subplots_adjust(left=0.75 / width, right=1 - 0.1 / width, bottom=0.75 / height, top=1 - 0.5 / height,
                           wspace=0.42, hspace=hspace)
    return figure, axes, datasets, columns


def figure5_figure(per_run: pd.DataFrame, report: pd.DataFrame, method: str):
    """Figure 5 of DIDFuse: a row per dataset, a column per metric (a ``matplotlib.figure.Figure``).

    Black solid line: the method's mean over images in each run (x: run
    number, seed order); red dashed: the best competitor; blue dotted: the
    second best.

    Args:
        per_run: :func:`per_run_means` rows. report: :func:`study_report` rows.
    """
    from matplotlib.lines import Line2D

    figure, axes, datasets, columns = _panel_grid(per_run, hspace=0.3)
    facts = report.set_index(["dataset", "metric", "convention"])
    for r, dataset in enumerate(datasets):
        for c, (metric, convention) in enumerate(columns):
            ax = axes[r, c]
            block = per_run[(per_run["dataset"] == dataset) & (per_run["metric"] == metric)
                            & (per_run["convention"] == convention)]
            ax.plot(block["run"], block["value"], color="black", linestyle="-", linewidth=1.2, marker=".",
                    markersize=3)
            key = (dataset, metric, convention)
            row = facts.loc[key] if key in facts.index else None
            if row is not None:
                lines = [(name, value, color, style)
                         for name, value, color, style in ((row["best_competitor"], row["best_value"], "red", "--"),
                                                           (row["second_competitor"], row["second_value"], "blue", ":"))
                         if isinstance(name, str) and np.isfinite(value)]
                top = max((value for _, value, _, _ in lines), default=None)
                for name, value, color, style in lines:
                    above = value == top  # the upper line's name above it, the lower's below: never on top of each other
                    ax.axhline(value, color=color, linestyle=style, linewidth=1.2)
                    ax.annotate(name, (1.0, value), xycoords=("axes fraction", "data"), xytext=(-2, 2 if above else -2),
                                textcoords="offset points", ha="right", va="bottom" if above else "top",
                                fontsize=6, color=color)
                ax.margins(y=0.15)
            higher = bool(row["higher_is_better"]) if row is not None else True
            if r == 0:
                name = metric if convention == "default" else f"{metric} ({convention})"
                ax.set_title(f"{name} {'↑' if higher else '↓'}", fontsize=9)
            if c == 0:
                ax.set_ylabel(f"{dataset}\nmean over images", fontsize=8)
            if r == len(datasets) - 1:
                ax.set_xlabel("run", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.grid(alpha=0.25, linewidth=0.5)
    handles = [Line2D([], [], color="black", linestyle="-", marker=".", label=f"{method} (each run)"),
               Line2D([], [], color="red", linestyle="--", label="best competitor"),
               Line2D([], [], color="blue", linestyle=":", label="second-best competitor")]
    figure.legend(handles=handles, loc="lower center", ncols=3, fontsize=8, frameon=False)
    runs = int(per_run["run"].max())
    figure.suptitle(f"Reproducibility of {method}: {runs} training runs (DIDFuse Fig. 5 layout)", fontsize=10)
    return figure


def histogram_figure(per_run: pd.DataFrame, method: str):
    """The spread over runs: a row per dataset, a column per metric, a histogram of the runs' means over images.

    Grey band: mean ± std over runs (ddof 1); black line: the mean. NaN runs
    are left out and counted in the panel's title. The competitors are left
    out (they would squeeze the spread into one bar; :func:`figure5_figure` shows them).

    Args:
        per_run: :func:`per_run_means` rows.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    figure, axes, datasets, columns = _panel_grid(per_run, hspace=0.45)
    for r, dataset in enumerate(datasets):
        for c, (metric, convention) in enumerate(columns):
            ax = axes[r, c]
            values = per_run.loc[(per_run["dataset"] == dataset) & (per_run["metric"] == metric)
                                 & (per_run["convention"] == convention), "value"].to_numpy(dtype=float)
            finite = values[np.isfinite(values)]
            higher, _ = _metric_facts(metric, convention)
            name = metric if convention == "default" else f"{metric} ({convention})"
            dropped = f", {len(values) - len(finite)} NaN" if len(finite) < len(values) else ""
            ax.set_title(f"{dataset}: {name} {'↑' if higher else '↓'}{dropped}", fontsize=8)
            if not len(finite):
                ax.text(0.5, 0.5, "no finite value", ha="center", va="center", transform=ax.transAxes, fontsize=8)
                continue
            mean = float(finite.mean())
            std = float(finite.std(ddof=1)) if len(finite) > 1 else 0.0
            ax.axvspan(mean - std, mean + std, color="0.85", zorder=0)
            ax.hist(finite, bins="auto", color="0.45", edgecolor="black", linewidth=0.5, zorder=2)
            ax.axvline(mean, color="black", linewidth=1.2, zorder=3)
            if c == 0:
                ax.set_ylabel("runs", fontsize=8)
            if r == len(datasets) - 1:
                ax.set_xlabel("mean over images", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.yaxis.get_major_locator().set_params(integer=True)
    handles = [Patch(facecolor="0.45", edgecolor="black", label=f"{method} (runs)"),
               Line2D([], [], color="black", label="mean over runs"), Patch(facecolor="0.85", label="± std over runs")]
    figure.legend(handles=handles, loc="lower center", ncols=3, fontsize=8, frameon=False)
    runs = int(per_run["run"].max())
    figure.suptitle(f"Reproducibility of {method}: each metric over {runs} training runs", fontsize=10)
    return figure


def read_study(study_dir: str | os.PathLike, competitors: str | os.PathLike | None = None) -> dict[str, Any]:
    """What a finished study dir holds, as tables: for notebooks and scripts.

    Args:
        study_dir: a dir written by ``ivif-bench repro`` (or ``repro-merge``).
        competitors: a run dir of ``ivif-bench run`` to rank the runs against
            instead of the competitors the study was reported with.

    Returns:
        ``{"study": study.json, "method": str, "seeds": [int], "results": per-image rows,
        "runs": per_run_means rows, "report": study_report rows}``.

    Raises:
        StudyError: not a study dir, or a study without its report (a shard, or unfinished).
    """
    root = Path(study_dir).expanduser()
    if not (root / STUDY_FILE).is_file():
        raise StudyError(f"{root}: no {STUDY_FILE}; not an ivif-bench repro dir (ivif-bench repro --out DIR)")
    record = read_json(root / STUDY_FILE)
    method, seeds = record["method"], [int(s) for s in record["seeds"]]
    if not (root / "repro_report.csv").is_file():
        raise StudyError(f"{root}: no repro_report.csv; an unfinished study or a shard (finish it with the same "
                         "ivif-bench repro command, or join the shards with ivif-bench repro-merge)")
    results = read_results(root)
    results = results[(results["method"] == method) & results["seed"].isin(seeds)].reset_index(drop=True)
    per_run = per_run_means(results, method)
    if competitors is not None:
        report = study_report(per_run, competitor_means(competitors, exclude=method))
    else:
        report = pd.read_csv(root / "repro_report.csv", dtype={"best_competitor": object, "second_competitor": object})
        for column in ("best_competitor", "second_competitor", "runs_first", "runs_second"):
            report[column] = report[column].astype(object).where(report[column].notna(), None)
    return {"study": record, "method": method, "seeds": seeds, "results": results, "runs": per_run, "report": report}


def write_report(out_dir: str | os.PathLike, results: pd.DataFrame, method: str, seeds: Sequence[int],
                 competitors: str | os.PathLike | None = None, title: str | None = None) -> dict[str, Any]:
    """Write ``repro_runs.csv``, ``repro_report.{csv,md}`` and ``plots/repro_figure5.{png,pdf}``, atomically.

    Args:
        results: per-image rows (``results.csv`` columns) of the study.
        seeds: every seed of the study; a seed without results is an error.
        competitors: a run dir of ``ivif-bench run``.

    Returns:
        ``{"report": DataFrame, "runs": DataFrame, "paths": {name: Path}}``.
    """
    out_dir = Path(out_dir)
    have = {int(s) for s in results.loc[results["method"] == method, "seed"].unique()}
    missing = [s for s in seeds if s not in have]
    if missing:
        raise StudyError(f"{out_dir}: no results for seed(s) {_seed_list(missing)} of the study")
    per_run = per_run_means(results[results["seed"].isin(list(seeds))], method)
    notes = []
    table = None
    if competitors is not None:
        table = competitor_means(competitors, exclude=method)
        study_images = results.groupby("dataset")["image"].agg(frozenset)
        for dataset in per_run["dataset"].unique():
            block = table[table["dataset"] == dataset]
            if block.empty:
                notes.append(f"{dataset}: no competitor results in {competitors}")
                continue
            for name, images in block.groupby("method")["images"].first().items():
                if images != study_images[dataset]:
                    notes.append(f"{dataset}: competitor {name} was evaluated on {len(images)} image(s), the study on "
                                 f"{len(study_images[dataset])} (not the same pairs: compare with care)")
        notes.append(f"competitors: {', '.join(method_order(table['method']))} from {competitors}")
    report = study_report(per_run, table)
    paths = {"runs": out_dir / "repro_runs.csv", "csv": out_dir / "repro_report.csv", "md": out_dir / "repro_report.md"}
    with atomic_write(paths["runs"], "w", encoding="utf-8", newline="") as handle:
        per_run.to_csv(handle, index=False, float_format="%.17g")
    with atomic_write(paths["csv"], "w", encoding="utf-8", newline="") as handle:
        report.to_csv(handle, index=False, float_format="%.17g")
    with atomic_write(paths["md"], "w", encoding="utf-8") as handle:
        handle.write(to_markdown(report, method, seeds, title or f"Reproducibility of {method}", notes))
    png, pdf = plot_figure5(per_run, report, method, out_dir / "plots" / "repro_figure5")
    paths.update(png=png, pdf=pdf)
    return {"report": report, "runs": per_run, "paths": paths}


def report_study(out_dir: Path, results: pd.DataFrame, method: str, seeds: Sequence[int], competitors=None,
                 title: str | None = None, tracker=None, wandb_config: dict | None = None, reporter=None) -> pd.DataFrame:
    """:func:`write_report`, then the W&B report run of the study's group (table + figure), then a summary on screen."""
    reporter = reporter or runner.Reporter(progress=False)
    written = write_report(out_dir, results, method, seeds, competitors, title)
    report, paths = written["report"], written["paths"]
    if tracker is not None and tracker.enabled:
        import wandb

        record_path = Path(out_dir) / REPORT_WANDB_FILE
        run_id = (read_json(record_path).get("id") if record_path.is_file() else None) or tracker.new_id()
        write_json(record_path, {"id": run_id, "group": tracker.group})
        run = tracker.start(f"{tracker.group}-report", job_type="repro-report", run_id=run_id,
                            config=dict(wandb_config or {}, method=method, seeds=list(seeds)))
        try:
            run.log({"repro/report": wandb.Table(dataframe=report.astype({"higher_is_better": str})),
                     "repro/runs": wandb.Table(dataframe=written["runs"]),
                     "repro/figure5": wandb.Image(str(paths["png"]))})
        finally:
            tracker.finish(run)
    shown = report.assign(text=[f"{m:.3f} ± {s:.3f}" if np.isfinite(s) else f"{m:.3f}"
                                for m, s in zip(report["mean"], report["std"])])
    table = shown.pivot(index="dataset", columns="metric", values="text").reindex(
        index=list(dict.fromkeys(report["dataset"])), columns=list(dict.fromkeys(report["metric"])))
    reporter.line(f"{method}, {len(seeds)} runs: mean ± std over runs of the mean over images\n{table.to_string()}")
    reporter.line(f"report: {paths['md']} (.csv), per-run means: {paths['runs']}, figure: {paths['png']} (.pdf)")
    return report
