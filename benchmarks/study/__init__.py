"""The reproducibility study: train one method N times with N seeds, and see how much its metrics move.

DIDFuse (Zhao et al., IJCAI 2020, Section 4.4 and Figure 5) answers "deep
fusion methods are unstable" by training the network 25 times and plotting the
six metrics of the 25 runs against the best and second-best competitors. This
module makes that study a command for any trainable method
(``ivif-bench repro``), so a user can tell a real gain from seed noise.

A study is a run dir of the benchmark runner (:mod:`benchmarks.run`) holding
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

The flow, one module each: :mod:`~benchmarks.study.plan` (options, seeds,
shards, the runner's plan), :mod:`~benchmarks.study.executors` (serial and
Ray), :mod:`~benchmarks.study.merge` (shard dirs), :mod:`~benchmarks.study.statistics`
(the report; no torch) and :mod:`~benchmarks.study.figures`. The names below
are loaded on first use, so reading a study (:func:`read_study`) imports no torch.
"""

from __future__ import annotations

import importlib

#: how a study's seeds run (``--executor``): one after another in this process, or as Ray tasks
EXECUTORS = ("serial", "ray")

_EXPORTS = {
    "StudyError": "plan", "StudyOptions": "plan", "StudyPlan": "plan", "parse_shard": "plan",
    "plan_study": "plan", "shard_seeds": "plan", "study_seeds": "plan",
    "run_study": "executors",
    "merge_studies": "merge",
    "REPORT_COLUMNS": "statistics", "competitor_means": "statistics", "per_run_means": "statistics",
    "read_study": "statistics", "report_study": "statistics", "study_report": "statistics",
    "to_markdown": "statistics", "write_report": "statistics",
    "figure5_figure": "figures", "histogram_figure": "figures", "plot_figure5": "figures",
}
__all__ = sorted([*_EXPORTS, "EXECUTORS"])


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
