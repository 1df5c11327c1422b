"""The benchmark runner: train, fuse, evaluate every (method, seed, dataset), resumably.

The flow, one module each:

* :mod:`~benchmarks.run.plan`: the options and the checked :class:`Plan` (nothing written);
* :mod:`~benchmarks.run.train`: training one (method, seed), resumable, across DDP ranks;
* :mod:`~benchmarks.run.execute`: running the units not done yet (fuse, evaluate, write, mark done);
* :mod:`~benchmarks.run.merge`: ``results.csv`` from the done units, then leaderboard, plots, W&B.

The names below are loaded on first use (importing the package imports no torch).
The run dir's files are named in :mod:`benchmarks.report.results` (:class:`RunLayout`).

Example:
    >>> from benchmarks.run import RunOptions, plan_run, run
    >>> plan = plan_run(RunOptions(methods=["max"], datasets=["sample_tno"], metrics=["EN"],
    ...                            out="runs/demo", wandb="disabled"))  # doctest: +SKIP
    >>> summary = run(plan)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "RunLayout": "benchmarks.report.results", "Unit": "benchmarks.report.results",
    "run": "benchmarks.run.execute", "run_lock": "benchmarks.run.execute", "run_method_seed": "benchmarks.run.execute",
    "write_provenance": "benchmarks.run.execute",
    "merge_results": "benchmarks.run.merge",
    "FULL_DATASETS": "benchmarks.run.plan", "SAMPLE_DATASETS": "benchmarks.run.plan", "MethodPlan": "benchmarks.run.plan",
    "Plan": "benchmarks.run.plan", "RunError": "benchmarks.run.plan", "RunOptions": "benchmarks.run.plan",
    "check_checkpoint": "benchmarks.run.plan", "choose_datasets": "benchmarks.run.plan", "plan_run": "benchmarks.run.plan",
    "TRAIN_ONLY_ENV": "benchmarks.run.train",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
