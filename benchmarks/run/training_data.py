"""Which data a run trains and tests on, the first line that says so, and the methods it cannot run.

On a machine without a data root (a fresh install, an empty cache), a run on
the embedded sample test sets (``sample_tno``, ``sample_flir``, ``sample_nir``)
trains every trainable method whose configured training set is missing on the
embedded training set instead, :data:`EMBEDDED_TRAIN` (``sample_flir_train``:
``flir_train`` pairs 1-8, shipped in the package), keeping the config's
``train_ids`` that the sample holds. A run on the full test sets never trains
on the sample silently: a missing training set there skips the method.

A method the run cannot run is a *skip*; :func:`check_skips` stops the run
before any work unless the user allowed skips (``--allow-skip``). A
pretrained-only method (``pretrained_only = True`` on its class, e.g. IFCNN)
without a config of the profile is left out of ``--methods all`` without
counting as a skip.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from datamodules.errors import UserError

if TYPE_CHECKING:  # pragma: no cover
    from benchmarks.run.plan import Plan

__all__ = ["EMBEDDED_TRAIN", "TrainingData", "check_skips", "choose_training_data", "data_line", "is_pretrained_only"]

#: the embedded training set: what every trainable method trains on when a sample run has no training data
EMBEDDED_TRAIN = "sample_flir_train"


@dataclass(frozen=True)
class TrainingData:
    """The training set a method uses in place of its config's.

    Attributes:
        dataset: the registered name trained on (:data:`EMBEDDED_TRAIN`).
        ids: the pair ids kept (``None``: all of them).
        instead_of: the config's training set, missing from the data root.
    """

    dataset: str
    ids: list[str] | None
    instead_of: str


def is_pretrained_only(method: str) -> bool:
    """Whether ``method``'s class says its weights come only from a release (``pretrained_only = True``)."""
    from lightning_modules import get_method_class

    return bool(getattr(get_method_class(method), "pretrained_only", False))


def _sample_run(plan: Plan) -> bool:
    from datamodules.datasets import get_dataset, list_datasets

    sources = [plan.sources.get(label, label) for label in plan.pairs]
    return bool(sources) and all(s in list_datasets() and get_dataset(s).embedded for s in sources)


def _available(name: str, data_root: Any, ids: Any) -> str | None:
    """``None`` when the registered dataset ``name`` (with ``ids``) is there, else why not (one line)."""
    from datamodules.datasets import load_pairs

    try:
        load_pairs(name, data_root, ids)
    except UserError as err:
        return str(err)
    return None


def _kept_ids(ids: Any) -> list[str] | None:
    """The config's ``train_ids`` that :data:`EMBEDDED_TRAIN` holds (``None``: all of its pairs)."""
    from datamodules.datasets import dataset_ids, parse_ids

    selection = parse_ids(ids)
    if selection is None:
        return None
    have = dataset_ids(EMBEDDED_TRAIN)
    kept = [i for i in selection if i in have]
    return kept or None


def choose_training_data(plan: Plan, explicit: bool) -> None:
    """Decide each trainable method's training data; drop (skip) or refuse the methods that have none.

    The decision does not depend on what the run dir holds, so that a rerun
    resolves the same configs (the config-drift check compares them). A method
    whose every seed already has a good ``final.ckpt`` needs no training data.

    Raises:
        RunError: an explicitly requested method without training data.
    """
    from benchmarks.run.plan import RunError
    from benchmarks.run.train import checkpoint_problem
    from datamodules.datasets import get_dataset, list_datasets

    sample = _sample_run(plan)
    kept = []
    for method in plan.methods:
        if not method.trainable or method.checkpoint is not None:
            kept.append(method)
            continue
        seeds = plan.options.seeds
        data = plan.resolved_config(method.name, seeds[0])["data"]["init_args"]
        name = data.get("train_dataset")
        if name not in list_datasets():  # None (no training data needed) or a folder: the data module checks it
            kept.append(method)
            continue
        missing = _available(name, data.get("data_root"), data.get("train_ids"))
        if missing is not None and sample and not plan.options.train_dataset and not get_dataset(name).embedded:
            plan.training[method.name] = TrainingData(EMBEDDED_TRAIN, _kept_ids(data.get("train_ids")), name)
            for seed in seeds:  # resolved again, with the embedded training set
                plan._configs.pop((method.name, int(seed)), None)
            kept.append(method)
            continue
        if missing is None or all(checkpoint_problem(plan.layout.final_checkpoint(method.name, s)) is None
                                  for s in seeds):
            kept.append(method)
            continue
        hint = (f"ivif-bench data download {name}" + (f" --data-root {data['data_root']}" if data.get("data_root") else "")
                + f", or --train-dataset {EMBEDDED_TRAIN} (the embedded flir_train pairs 1-8)")
        if explicit:
            raise RunError(f"{method.name}: its training data is not available: {missing} ({hint})")
        plan.skipped.append((method.name, f"training data {name!r} not available ({hint})"))
    plan.methods = kept


def check_skips(plan: Plan) -> None:
    """Stop the run before any work when it would skip a requested method, unless ``allow_skip``.

    Raises:
        RunError: naming the methods and why, and how to allow it.
    """
    from benchmarks.run.plan import RunError

    counted = [(m, why) for m, why in plan.skipped if not is_pretrained_only(m)]
    if not counted or plan.options.allow_skip:
        return
    reasons: dict[str, list[str]] = {}
    for method, why in counted:
        reasons.setdefault(why, []).append(method)
    parts = "; ".join(f"{', '.join(methods)}: {why}" for why, methods in reasons.items())
    raise RunError(f"{len(counted)} requested method(s) cannot run: {parts}; fix that, or pass --allow-skip to run "
                   f"the others")


def _origin(data_root: Any) -> str:
    return "--data-root" if data_root else ("$IVIF_BENCH_DATA" if os.environ.get("IVIF_BENCH_DATA")
                                            else "the user cache dir")


def data_line(plan: Plan, test_message: str) -> str:
    """The first line of a run's output: its test sets and, for trainable methods, what they train on.

    ``test_message`` is :func:`benchmarks.run.plan.choose_datasets`'s line about the test sets.
    """
    from datamodules.datasets import resolve_data_root

    trained: dict[str, list[str]] = {}
    for method in plan.methods:
        if method.trainable and method.checkpoint is None:
            name = plan.resolved_config(method.name, plan.options.seeds[0])["data"]["init_args"].get("train_dataset")
            if name is not None:
                trained.setdefault(str(name), []).append(method.name)
    if not trained:
        return test_message
    every = sum(len(v) for v in trained.values()) == sum(1 for m in plan.methods if m.trainable and m.checkpoint is None)
    parts = []
    for name, methods in trained.items():
        if len(trained) == 1 and every:
            parts.append(name)
        else:
            parts.append(f"{name} ({', '.join(methods)})")
    training = "; training: " + ", ".join(parts)
    substituted = sorted({t.instead_of for t in plan.training.values()})
    if not substituted:
        return test_message + training
    from benchmarks.run.plan import FULL_DATASETS

    root = resolve_data_root(plan.options.data_root)
    missing = [n for n in FULL_DATASETS if _available(n, plan.options.data_root, None) is not None] + substituted
    return (f"data: the embedded sample (test: {', '.join(plan.pairs)}; training: {EMBEDDED_TRAIN} = flir_train "
            f"pairs 1-8, instead of {', '.join(substituted)}), because {root} ({_origin(plan.options.data_root)}) "
            f"does not hold {', '.join(missing)}; for the full data set IVIF_BENCH_DATA or --data-root to a folder "
            f"holding them, or fetch them with: ivif-bench data download {' '.join(missing)} --data-root {root}")
