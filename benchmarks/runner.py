"""The benchmark runner: train, fuse, evaluate every (method, seed, dataset), resumably.

The unit of work is ``(method, seed, dataset)``. For each (method, seed) the
runner gets a model (a reference rule needs none; a trainable method reuses
``--ckpt METHOD=PATH``, or the run dir's ``final.ckpt``, or is trained under
its profile config, resuming from ``last.ckpt``), then for each test set not
yet done it fuses every pair to an 8-bit PNG, evaluates every metric on the
PNG read back, writes the per-image rows and finally a done marker. A killed
run started again with the same arguments skips the done units.

Run dir layout (``RUN``)::

    provenance.json                     argv, seeds, resolved configs, versions, device, git (latest + history)
    units/<method>/seed<k>/config.yaml  the resolved config of that training (trainable methods)
    units/<method>/seed<k>/training.json  how the model was obtained (trained / resumed / reused), times
    units/<method>/seed<k>/<dataset>.done.json  done marker: pairs, metrics, checkpoint sha256, timings
    checkpoints/<method>/seed<k>/{last,interrupted,final}.ckpt  (every N steps / on an exception / done)
    fused/<method>/<dataset>/<pair_id>.png          (one seed)
    fused/<method>/seed<k>/<dataset>/<pair_id>.png  (several seeds)
    results/<method>/seed<k>/<dataset>.csv  per-image rows of the unit
    results.csv                         every done unit's rows: one per (method, seed, dataset, image, metric)
    leaderboard.{csv,md,tex}, plots/*.{png,pdf}, wandb/

Every file is written atomically (temp file + rename); markers last, so a unit
is either done with all its files or redone.

Multi-device training (``--devices 2 --strategy ddp``) uses Lightning's own
launcher, which starts the other ranks by re-running the command line: those
ranks see ``IVIF_BENCH_TRAIN_ONLY`` (set by rank 0 around ``fit``), train that
one (method, seed) with rank 0 and exit; rank 0 alone fuses, evaluates and
writes. Under DDP the metric states are synced by torchmetrics
(``dist_reduce_fx="cat"``); the runner's evaluation itself runs on rank 0.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd
import torch
import yaml

from benchmarks import profiles
from benchmarks.leaderboard import RESULT_COLUMNS, read_results_file, write_leaderboard
from benchmarks.provenance import collect, environment, now, read_json, seed_everything, write_json
from datamodules.io import atomic_write, read_image, save_png, to_tensor
from metrics.evaluate import evaluate_folder

__all__ = ["RunLayout", "RunOptions", "Plan", "Unit", "choose_datasets", "plan_run", "run"]

TRAIN_ONLY_ENV = "IVIF_BENCH_TRAIN_ONLY"
SAMPLE_DATASETS = ("sample_tno", "sample_flir", "sample_nir")
FULL_DATASETS = ("tno", "flir", "nir")
HEADLINE_METRICS = ("EN", "MI", "SD", "SF", "VIF", "AG")  # DIDFuse Table 4's six


class RunError(ValueError):
    """A problem with the run's arguments or run dir, found before any training."""


@dataclass(frozen=True)
class Unit:
    """One unit of work: a method's fusion of one test set under one seed."""

    method: str
    seed: int
    dataset: str

    def __str__(self) -> str:
        return f"{self.method}/seed{self.seed}/{self.dataset}"


class RunLayout:
    """Where each file of a run dir lives (see the module docstring)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    provenance = property(lambda self: self.root / "provenance.json")
    results = property(lambda self: self.root / "results.csv")
    plots = property(lambda self: self.root / "plots")
    lock = property(lambda self: self.root / ".lock")
    leaderboard_wandb = property(lambda self: self.root / "units" / "leaderboard.wandb.json")

    def unit_dir(self, method: str, seed: int) -> Path:
        return self.root / "units" / method / f"seed{seed}"

    def marker(self, unit: Unit) -> Path:
        return self.unit_dir(unit.method, unit.seed) / f"{unit.dataset}.done.json"

    def config_file(self, method: str, seed: int) -> Path:
        return self.unit_dir(method, seed) / "config.yaml"

    def training_record(self, method: str, seed: int) -> Path:
        return self.unit_dir(method, seed) / "training.json"

    def wandb_record(self, method: str, seed: int) -> Path:
        return self.unit_dir(method, seed) / "wandb.json"

    def checkpoint_dir(self, method: str, seed: int) -> Path:
        return self.root / "checkpoints" / method / f"seed{seed}"

    def final_checkpoint(self, method: str, seed: int) -> Path:
        return self.checkpoint_dir(method, seed) / "final.ckpt"

    def last_checkpoint(self, method: str, seed: int) -> Path:
        return self.checkpoint_dir(method, seed) / "last.ckpt"

    def interrupted_checkpoint(self, method: str, seed: int) -> Path:
        return self.checkpoint_dir(method, seed) / "interrupted.ckpt"

    def fused_dir(self, unit: Unit, several_seeds: bool) -> Path:
        seed_level = (f"seed{unit.seed}",) if several_seeds else ()
        return self.root.joinpath("fused", unit.method, *seed_level, unit.dataset)

    def results_file(self, unit: Unit) -> Path:
        return self.root / "results" / unit.method / f"seed{unit.seed}" / f"{unit.dataset}.csv"

    def markers(self) -> list[dict[str, Any]]:
        """Every done marker of the run dir, in (method, seed, dataset) path order."""
        return [read_json(p) for p in sorted((self.root / "units").glob("*/seed*/*.done.json"))]

    def qualitative_rows(self, pairs: dict[str, Sequence[str]] | None, methods: Sequence[str]):
        """Rows of the qualitative grid (:class:`benchmarks.plots.QualitativeRow`) from the done markers.

        Args:
            pairs: ``{dataset: [pair_id, ...]}``; default the first pair of each test set.
            methods: column order; the lowest seed of each method is shown.
        """
        from benchmarks.plots import QualitativeRow

        markers = self.markers()
        run_order = list(read_json(self.provenance).get("pairs", {})) if self.provenance.is_file() else []
        datasets = list(dict.fromkeys([d for d in run_order if any(m["dataset"] == d for m in markers)]
                                      + [m["dataset"] for m in markers]))
        markers.sort(key=lambda m: datasets.index(m["dataset"]))
        if pairs is None:
            pairs = {}
            for marker in markers:
                pairs.setdefault(marker["dataset"], [marker["pairs"][0]["pair_id"]] if marker["pairs"] else [])
        unknown = sorted(set(pairs) - set(datasets))
        if unknown:
            raise ValueError(f"{self.root}: no results for dataset(s) {', '.join(unknown)}; the run has {', '.join(datasets)}")
        rows = []
        for dataset, pair_ids in pairs.items():
            chosen = {}
            for marker in sorted((m for m in markers if m["dataset"] == dataset), key=lambda m: m["seed"]):
                chosen.setdefault(marker["method"], marker)
            for pair_id in pair_ids:
                source = next((p for m in chosen.values() for p in m["pairs"] if p["pair_id"] == str(pair_id)), None)
                if source is None:
                    raise ValueError(f"{self.root}: dataset {dataset!r} has no evaluated pair {pair_id!r}")
                from datamodules.datasets import Pair, read_pair

                ir, vis = read_pair(Pair(str(pair_id), Path(source["ir_path"]), Path(source["vis_path"]), dataset,
                                         resize_vis=bool(source.get("resize_vis", False))))
                fused = {}
                for method in methods:
                    marker = chosen.get(method)
                    path = self.root / marker["fused_dir"] / f"{pair_id}.png" if marker else None
                    if path is not None and path.is_file():
                        fused[method] = read_image(path, mode="gray_strict")
                rows.append(QualitativeRow(dataset, str(pair_id), ir, vis, fused))
        return rows


@dataclass
class RunOptions:
    """Everything ``ivif-bench run`` takes (see ``ivif-bench run --help``).

    Attributes:
        out: the run dir.
        methods: method names, or ``["all"]`` for every registered method that
            has a config for the profile; ``average`` and ``max`` are always added.
        datasets: test set names or folders; ``["sample"]`` is the embedded
            sample; ``["auto"]`` the full TNO / FLIR / NIR when the data root
            holds them, else the sample.
        seeds: one or several seeds.
        profile: ``smoke``, ``quick`` or ``paper``.
        ids: pair ids of each test set (``"1-8,12"``), default all (or the profile's limit).
        limit_pairs: evaluate only the first N pairs of each test set (default: the profile's).
        checkpoints: ``{method: checkpoint path}`` to reuse instead of training.
        metrics: metric names, or ``["all"]``; default the profile's (smoke / quick:
            DIDFuse Table 4's six, paper: all of ``convention``).
        train_dataset: train every trainable method on this dataset instead of its config's.
        wandb: ``auto``, ``online``, ``offline`` or ``disabled``.
        name: the benchmark's name (W&B group); default the run dir's name.
        accelerator, devices, strategy, num_nodes, max_steps: passed to the ``Trainer``.
        checkpoint_every: save ``last.ckpt`` every N training steps.
        metric_device: device of the metric computation (``cpu`` is float64, exact).
        plots: make the plots. qualitative: ``{dataset: [pair_id]}`` for the grid.
        download: fetch missing registered datasets (pinned, sha256-verified).
        progress: show progress bars.
    """

    out: Path | None = None
    methods: Sequence[str] = ("all",)
    datasets: Sequence[str] = ("auto",)
    seeds: Sequence[int] = (0,)
    profile: str = "smoke"
    data_root: str | os.PathLike | None = None
    ids: str | None = None
    limit_pairs: int | None = None
    checkpoints: dict[str, str | os.PathLike] = field(default_factory=dict)
    metrics: Sequence[str] | None = None
    convention: str = "default"
    train_dataset: str | None = None
    wandb: str = "auto"
    name: str | None = None
    accelerator: str | None = None
    devices: Any = None
    strategy: str | None = None
    num_nodes: int | None = None
    max_steps: int | None = None
    checkpoint_every: int = 50
    metric_device: str = "cpu"
    plots: bool = True
    qualitative: dict[str, Sequence[str]] | None = None
    download: bool = False
    progress: bool = True


@dataclass
class MethodPlan:
    """A method of the plan: its profile config (unresolved), and a user checkpoint if given."""

    name: str
    trainable: bool
    config: dict[str, Any]
    checkpoint: Path | None = None


@dataclass
class Plan:
    """A checked run: what will run, on which pairs, with which configs. Built by :func:`plan_run`."""

    options: RunOptions
    layout: RunLayout
    methods: list[MethodPlan]
    pairs: dict[str, list]  # dataset -> [datamodules.Pair]
    metrics: list[str]
    data_message: str
    skipped: list[tuple[str, str]] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # dataset label -> registered name or folder

    @property
    def several_seeds(self) -> bool:
        return len(self.options.seeds) > 1

    @property
    def name(self) -> str:
        return self.options.name or self.layout.root.resolve().name

    def units(self, method: str, seed: int) -> list[Unit]:
        return [Unit(method, int(seed), dataset) for dataset in self.pairs]

    def method(self, name: str) -> MethodPlan:
        return next(m for m in self.methods if m.name == name)

    def fusion_device(self, method: str, seed: int) -> torch.device:
        """Where a method fuses: the first GPU when the run's accelerator allows one, else the CPU."""
        accelerator = self.options.accelerator
        if accelerator is None and self.method(method).trainable:
            accelerator = self.resolved_config(method, seed)["trainer"].get("accelerator")
        return _fusion_device(accelerator)

    def resolved_config(self, method: str, seed: int) -> dict[str, Any]:
        """The config of ``method`` under ``seed`` with the run's overrides (the record of what trains)."""
        options = self.options
        ids = {name: [p.pair_id for p in pairs] for name, pairs in self.pairs.items()}
        config = profiles.resolve_config(
            self.method(method).config, seed=seed, data_root=options.data_root, test_datasets=list(self.pairs),
            test_ids=ids, default_root_dir=self.layout.checkpoint_dir(method, seed), accelerator=options.accelerator,
            devices=options.devices, strategy=options.strategy, num_nodes=options.num_nodes,
            max_steps=options.max_steps, download=options.download or None)
        if options.train_dataset and self.method(method).trainable:
            config["data"]["init_args"]["train_dataset"] = options.train_dataset
            config["data"]["init_args"].pop("train_ids", None)
        return config


# ------------------------------------------------------------------ planning
def choose_datasets(requested: Sequence[str], data_root: str | os.PathLike | None = None) -> tuple[list[str], str]:
    """Expand ``auto`` / ``sample`` and say which data the run uses.

    Returns:
        (dataset names, a one-line message for the first line of output).
    """
    from datamodules.datasets import DatasetError, load_pairs, resolve_data_root

    requested = [d.strip() for d in requested if d.strip()]
    root = resolve_data_root(data_root)
    origin = "--data-root" if data_root else ("$IVIF_BENCH_DATA" if os.environ.get("IVIF_BENCH_DATA") else "the user cache dir")
    if requested in (["auto"], []):
        missing = []
        for name in FULL_DATASETS:
            try:
                load_pairs(name, root)
            except (FileNotFoundError, DatasetError):
                missing.append(name)
        if not missing:
            return list(FULL_DATASETS), f"data: full test sets {', '.join(FULL_DATASETS)} from {root} ({origin})"
        return list(SAMPLE_DATASETS), (
            f"data: the embedded sample pairs ({', '.join(SAMPLE_DATASETS)}), because {root} ({origin}) does not "
            f"hold {', '.join(missing)}; for the full test sets set IVIF_BENCH_DATA or --data-root to a folder "
            f"holding them, or fetch them with: ivif-bench data download {' '.join(FULL_DATASETS)} --data-root {root}")
    names: list[str] = []
    for name in requested:
        names += list(SAMPLE_DATASETS) if name == "sample" else [name]
    names = list(dict.fromkeys(names))
    embedded = all(n in SAMPLE_DATASETS for n in names)
    where = "embedded in the package" if embedded else f"data root {root} ({origin})"
    return names, f"data: {', '.join(names)} ({where})"


def plan_run(options: RunOptions, announce=None) -> Plan:
    """Check every argument and input and build the :class:`Plan`; writes nothing.

    Raises:
        RunError / KeyError / FileNotFoundError / ValueError: an unknown method,
            dataset, metric or profile, a missing config, a ``--ckpt`` that does
            not exist or belongs to another method, missing data: all before
            any training starts.

    Args:
        options: the run's arguments; ``options.out`` ``None`` becomes
            ``runs/<profile>`` (``runs/<profile>-sample`` on the sample).
        announce: called first with the one line saying which data the run uses.
    """
    from datamodules.datasets import list_datasets, load_pairs
    from lightning_modules import get_method_class, list_methods

    profile = profiles.get_profile(options.profile)
    seeds = [int(s) for s in options.seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise RunError(f"--seed must list distinct seeds; got {options.seeds}")
    options.seeds = seeds
    if options.checkpoint_every < 1:
        raise RunError(f"--checkpoint-every must be >= 1; got {options.checkpoint_every}")

    # methods
    registered = list_methods()
    requested = [m.strip() for m in options.methods if m.strip()]
    explicit = requested != ["all"]
    names = requested if explicit else registered
    unknown = [m for m in names if m not in registered]
    if unknown:
        raise RunError(f"unknown method(s) {', '.join(unknown)}; registered: {', '.join(registered)}")
    names = list(dict.fromkeys([*profiles.REFERENCE_METHODS, *names]))
    for method in options.checkpoints:
        if method not in registered:
            raise RunError(f"--ckpt {method}=...: unknown method {method!r}; registered: {', '.join(registered)}")
        if method not in names:
            raise RunError(f"--ckpt {method}=...: method {method!r} is not among --methods {','.join(requested)}")
    methods: list[MethodPlan] = []
    skipped: list[tuple[str, str]] = []
    for method in names:
        trainable = bool(getattr(get_method_class(method), "needs_training", True))
        checkpoint = options.checkpoints.get(method)
        try:
            config = profiles.method_config(method, options.profile)
        except FileNotFoundError as err:
            if explicit or checkpoint is not None:
                raise RunError(f"{err}; profiles with a config for {method!r}: "
                               f"{', '.join(p for p in profiles.PROFILES if profiles.config_path(method, p)) or 'none'}") from None
            skipped.append((method, f"no {options.profile!r} config"))
            continue
        if checkpoint is not None:
            if not trainable:
                raise RunError(f"--ckpt {method}=...: {method!r} is a reference rule without weights")
            checkpoint = check_checkpoint(method, checkpoint)
        methods.append(MethodPlan(method, trainable, config, checkpoint))
    if options.train_dataset is not None and not any(m.trainable for m in methods):
        warnings.warn("--train-dataset is unused: no trainable method in this run", stacklevel=2)

    # metrics
    from metrics import get_metric_info, list_metrics

    if options.metrics in (None, ["all"], ("all",), "all"):
        metric_names = list(list_metrics(options.convention) if options.metrics or profile.metrics is None
                            else [m for m in profile.metrics if m in list_metrics(options.convention)])
    else:
        metric_names = list(dict.fromkeys(options.metrics))
    for name in metric_names:
        get_metric_info(name, options.convention)  # KeyError names the known ones
    if not metric_names:
        raise RunError(f"no metric registered for convention {options.convention!r}")

    # datasets and pairs
    datasets, message = choose_datasets(options.datasets, options.data_root)
    if announce is not None:
        announce(message)
    if options.out is None:
        sample = all(d in SAMPLE_DATASETS for d in datasets)
        options.out = Path("runs") / f"{options.profile}{'-sample' if sample else ''}"
    options.out = Path(options.out)
    if options.download:
        from datamodules.datasets import get_dataset
        from datamodules.download import download

        registered_data = set(list_datasets(embedded=False))
        wanted = [d for d in datasets if d in registered_data]
        wanted += [m.config["data"]["init_args"].get("train_dataset") for m in methods if m.trainable]
        wanted = [d for d in dict.fromkeys(wanted) if d in registered_data and not get_dataset(d).embedded]
        if wanted:
            download(wanted, data_root=options.data_root, progress=print)
    limit = options.limit_pairs if options.limit_pairs is not None else profile.limit_pairs
    if limit is not None and limit < 1:
        raise RunError(f"--limit-pairs must be >= 1; got {limit}")
    pairs, sources = {}, {}
    for dataset in datasets:
        selected = load_pairs(dataset, options.data_root, options.ids)
        label = _dataset_label(dataset)
        if label in pairs:
            raise RunError(f"two test sets are both called {label!r}: {sources[label]} and {dataset}")
        pairs[label], sources[label] = (selected[:limit] if limit else selected), str(dataset)

    plan = Plan(options, RunLayout(options.out), methods, pairs, metric_names, message, skipped, sources)
    # trainable methods that will train need their training data now, not after hours of other work
    kept = []
    for method in plan.methods:
        needs_data = method.trainable and method.checkpoint is None and not all(
            plan.layout.final_checkpoint(method.name, s).is_file() for s in seeds)
        if needs_data:
            data = plan.resolved_config(method.name, seeds[0])["data"]["init_args"]
            train_name = data.get("train_dataset")
            if train_name in list_datasets():  # a folder is checked by the data module itself
                try:
                    load_pairs(train_name, data.get("data_root"), data.get("train_ids"))
                except (FileNotFoundError, KeyError, ValueError) as err:
                    if explicit:
                        raise RunError(f"{method.name}: its training data is not available: {err}") from None
                    plan.skipped.append((method.name, f"training data {train_name!r} not available "
                                                      f"(ivif-bench data download {train_name}, or --train-dataset)"))
                    continue
        kept.append(method)
    plan.methods = kept
    for method in plan.methods:  # the resolved configs must build their classes
        config = plan.resolved_config(method.name, seeds[0])
        profiles.import_class(config["data"]["class_path"], f"{method.name}: data.class_path")
    _check_training_configs(plan)
    return plan


def _dataset_label(name: str) -> str:
    from datamodules.datasets import dataset_label

    return dataset_label(name)


def check_checkpoint(method: str, path: str | os.PathLike) -> Path:
    """Check that ``path`` is a Lightning checkpoint of ``method``; returns it resolved.

    A checkpoint "belongs" to a method when it carries the runner's stamp for
    it (or no stamp) and loads strictly into the method's class.

    Raises:
        RunError: missing file, not a checkpoint, or another method's.
    """
    from lightning_modules import get_method_class

    path = Path(path).expanduser()
    if not path.is_file():
        raise RunError(f"--ckpt {method}={path}: no such file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means "not a checkpoint"
        raise RunError(f"--ckpt {method}={path}: not a readable checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise RunError(f"--ckpt {method}={path}: not a Lightning checkpoint (no state_dict)")
    stamp = checkpoint.get("ivif_bench") or {}
    if stamp.get("method") not in (None, method):
        raise RunError(f"--ckpt {method}={path}: this checkpoint belongs to method {stamp['method']!r}, not {method!r}")
    cls = get_method_class(method)
    class_path = (checkpoint.get("hyper_parameters") or {}).get("_class_path")
    if class_path and class_path != f"{cls.__module__}.{cls.__qualname__}":
        raise RunError(f"--ckpt {method}={path}: this checkpoint is of {class_path}, not method {method!r}")
    try:
        cls.load_from_checkpoint(path, map_location="cpu", strict=True, weights_only=False)
    except Exception as err:  # noqa: BLE001 - mismatched keys or shapes, bad hyper-parameters
        first = str(err).strip().splitlines()[0][:300]
        raise RunError(f"--ckpt {method}={path}: does not load into method {method!r} "
                       f"({type(err).__name__}: {first}); is it another method's checkpoint?") from None
    return path.resolve()


# the parts of a resolved config that do not change what a training produces
_NOT_TRAINING = {("data", "test_datasets"), ("data", "test_ids"), ("data", "val_datasets"), ("data", "val_ids"),
                 ("data", "data_root"), ("data", "download"), ("data", "num_workers"), ("data", "pin_memory"),
                 ("trainer", "default_root_dir"), ("trainer", "accelerator"), ("trainer", "devices"),
                 ("trainer", "strategy"), ("trainer", "num_nodes"), ("trainer", "enable_progress_bar")}


def _training_view(config: dict[str, Any]) -> dict[str, Any]:
    view = json.loads(json.dumps(config, default=str))
    for section, key in _NOT_TRAINING:
        target = view.get(section, {})
        target = target.get("init_args", target) if section == "data" else target
        target.pop(key, None)
    return view


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            out += _differences(old.get(key, "<absent>"), new.get(key, "<absent>"), f"{prefix}{key}.")
        return out
    return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} -> {new!r}"]


def _check_training_configs(plan: Plan) -> None:
    """Refuse to reuse a checkpoint trained under a config that has since changed."""
    for method in plan.methods:
        if not method.trainable or method.checkpoint is not None:
            continue
        for seed in plan.options.seeds:
            stored_file = plan.layout.config_file(method.name, seed)
            has_weights = any(path.is_file() for path in (plan.layout.final_checkpoint(method.name, seed),
                                                          plan.layout.last_checkpoint(method.name, seed),
                                                          plan.layout.interrupted_checkpoint(method.name, seed)))
            if not (stored_file.is_file() and has_weights):
                continue
            stored = yaml.safe_load(stored_file.read_text(encoding="utf-8"))
            changes = _differences(_training_view(stored), _training_view(plan.resolved_config(method.name, seed)))
            if changes:
                raise RunError(
                    f"{method.name}/seed{seed}: the config differs from the one its checkpoint in "
                    f"{plan.layout.checkpoint_dir(method.name, seed)} was trained with ({'; '.join(changes[:4])}); "
                    f"use another --out, or delete that folder to train again")


# ------------------------------------------------------------------- running
def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def run_lock(layout: RunLayout) -> Iterator[None]:
    """Hold ``RUN/.lock`` so two processes never write one run dir at once (released when the process dies)."""
    layout.root.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks
        yield
        return
    with open(layout.lock, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            raise RunError(f"{layout.root}: another ivif-bench run is writing here (pid {handle.read().strip() or '?'}); "
                           "wait for it or choose another --out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Reporter:
    """Console output: plain lines and rich progress bars (quiet on non-zero ranks)."""

    def __init__(self, progress: bool = True) -> None:
        from rich.console import Console

        self.console = Console(highlight=False, soft_wrap=True)
        self.show_progress = progress

    def line(self, text: str) -> None:
        self.console.print(text, markup=False)

    @contextlib.contextmanager
    def progress(self, description: str, total: int) -> Iterator[Any]:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        if not self.show_progress:
            yield lambda: None
            return
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=self.console, transient=False) as bar:
            task = bar.add_task(description, total=total)
            yield lambda: bar.advance(task)


def run(plan: Plan, reporter: Reporter | None = None) -> pd.DataFrame | None:
    """Run a plan: every (method, seed, dataset) not done yet, then results, leaderboard, plots, W&B.

    Returns:
        The leaderboard summary (``leaderboard.csv`` rows), or ``None`` on a
        non-zero rank of a multi-device training.
    """
    train_only = os.environ.get(TRAIN_ONLY_ENV)
    if train_only:  # a rank started by Lightning's launcher: join rank 0's training, then stop
        _train_only(plan, json.loads(train_only))
        return None
    from benchmarks.tracking import Tracker

    reporter = reporter or Reporter(plan.options.progress)
    layout, options = plan.layout, plan.options
    # microseconds: this invocation's id in provenance.json (two runs of one dir can start in the same second)
    started, clock = now("microseconds"), time.perf_counter()
    with run_lock(layout):
        tracker = Tracker(layout.root, plan.name, options.wandb)
        for method, reason in plan.skipped:
            reporter.line(f"skip method {method}: {reason}")
        write_provenance(plan, started, status="running")
        counts = {"done": 0, "skipped": 0}
        try:
            for method in plan.methods:
                for seed in options.seeds:
                    done, skipped = run_method_seed(plan, method, seed, tracker, reporter)
                    counts["done"] += done
                    counts["skipped"] += skipped
            results = merge_results(layout, list(plan.pairs))
            summary = _report(plan, results, tracker, reporter)
        except BaseException:
            write_provenance(plan, started, status="failed", clock=clock, counts=counts)
            raise
        write_provenance(plan, started, status="finished", clock=clock, counts=counts)
    reporter.line(f"finished in {time.perf_counter() - clock:.1f} s: {counts['done']} unit(s) run, "
                  f"{counts['skipped']} already done")
    return summary


def write_provenance(plan: Plan, started: str, status: str, clock: float | None = None,
                     counts: dict[str, int] | None = None) -> None:
    """Write ``RUN/provenance.json`` atomically: configs, seeds, versions, device, git commit, this invocation
    with ``status`` (running / finished / failed), the wall time since ``clock`` (a ``time.perf_counter()``
    start) and the earlier invocations of this run dir as ``history``."""
    layout = plan.layout
    history = []
    if layout.provenance.is_file():
        try:
            previous = read_json(layout.provenance)
            history = previous.get("history", [])
            if previous.get("started") != started:
                history.append({k: previous.get(k) for k in ("argv", "started", "finished", "status", "git", "units")})
        except ValueError:
            pass
    options = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(plan.options).items()}
    options["checkpoints"] = {k: str(v) for k, v in plan.options.checkpoints.items()}
    record = collect(
        seeds=plan.options.seeds,
        configs={f"{m.name}/seed{s}": plan.resolved_config(m.name, s) for m in plan.methods for s in plan.options.seeds},
        benchmark=plan.name,
        profile=plan.options.profile,
        options=options,
        data=plan.data_message,
        pairs={name: [p.pair_id for p in pairs] for name, pairs in plan.pairs.items()},
        metrics=plan.metrics,
        convention=plan.options.convention,
        skipped_methods=dict(plan.skipped),
        started=started,
        finished=now() if clock is not None else None,
        wall_time_s=None if clock is None else round(time.perf_counter() - clock, 3),
        status=status,
        units=counts,
        history=history,
    )
    write_json(layout.provenance, record)


def _unit_signature(plan: Plan, unit: Unit, checkpoint_sha: str | None) -> dict[str, Any]:
    return {"pair_ids": [p.pair_id for p in plan.pairs[unit.dataset]], "metrics": list(plan.metrics),
            "convention": plan.options.convention, "checkpoint_sha256": checkpoint_sha}


def _pending(plan: Plan, units: list[Unit], checkpoint_sha: str | None) -> tuple[list[Unit], dict[Unit, str]]:
    """Units that still need work, and for each the reason (absent marker, changed pairs / metrics / weights)."""
    pending, reasons = [], {}
    for unit in units:
        path = plan.layout.marker(unit)
        if not path.is_file():
            pending.append(unit)
            continue
        try:
            marker = read_json(path)
        except ValueError:
            pending.append(unit)
            reasons[unit] = "unreadable marker"
            continue
        wanted = _unit_signature(plan, unit, checkpoint_sha)
        changed = [k for k, v in wanted.items() if marker.get("signature", {}).get(k) != v]
        results_file = plan.layout.root / marker.get("results_file", "")
        if changed or not results_file.is_file():
            pending.append(unit)
            reasons[unit] = f"changed {', '.join(changed)}" if changed else "results file missing"
    return pending, reasons


def run_method_seed(plan: Plan, method: MethodPlan, seed: int, tracker, reporter: Reporter) -> tuple[int, int]:
    """Obtain the model of (method, seed) and run its pending units; returns (units run, units skipped)."""
    layout = plan.layout
    units = plan.units(method.name, seed)
    known_checkpoint = method.checkpoint or (layout.final_checkpoint(method.name, seed) if method.trainable else None)
    checkpoint_sha = sha256_of(known_checkpoint) if known_checkpoint and known_checkpoint.is_file() else None
    if method.trainable and checkpoint_sha is None:
        pending, reasons = units, {}
    else:
        pending, reasons = _pending(plan, units, checkpoint_sha)
    for unit in units:
        if unit not in pending:
            reporter.line(f"skip {unit}: done ({layout.marker(unit).relative_to(layout.root)})")
        elif unit in reasons:
            reporter.line(f"redo {unit}: {reasons[unit]}")
    if not pending:
        return 0, len(units)

    wandb_file = layout.wandb_record(method.name, seed)
    run_id = read_json(wandb_file).get("id") if wandb_file.is_file() else None
    wandb_run = None
    if tracker.enabled:
        run_id = run_id or tracker.new_id()
        write_json(wandb_file, {"id": run_id, "group": plan.name, "name": f"{method.name}-seed{seed}"})
        wandb_run = tracker.start(f"{method.name}-seed{seed}", job_type="train" if method.trainable else "reference",
                                  run_id=run_id, tags=[method.name, plan.options.profile],
                                  config={"method": method.name, "seed": seed, "profile": plan.options.profile,
                                          "benchmark": plan.name, "metrics": plan.metrics,
                                          "convention": plan.options.convention,
                                          "config": plan.resolved_config(method.name, seed)})
    exit_code = 1
    try:
        model, checkpoint = _obtain_model(plan, method, seed, wandb_run, reporter)
        checkpoint_sha = sha256_of(checkpoint) if checkpoint else None
        for unit in pending:
            _run_unit(plan, unit, model, checkpoint, checkpoint_sha, wandb_run, tracker, reporter)
        exit_code = 0
    finally:
        tracker.finish(wandb_run, exit_code)
    return len(pending), len(units) - len(pending)


def _fusion_device(accelerator: Any) -> torch.device:
    accelerator = str(accelerator or "auto").lower()
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return torch.device("cuda", 0)
    mps = getattr(torch.backends, "mps", None)
    if accelerator in ("auto", "gpu", "mps") and mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _obtain_model(plan: Plan, method: MethodPlan, seed: int, wandb_run, reporter: Reporter):
    """(model in eval mode, checkpoint path or None): reference rule, user checkpoint, finished training, or train."""
    from lightning_modules import get_method_class

    layout = plan.layout
    if not method.trainable:
        seed_everything(seed)
        return profiles.instantiate(method.config["model"], f"{method.name}: model").eval(), None
    if method.checkpoint is not None:
        checkpoint, source = method.checkpoint, "user checkpoint (--ckpt)"
    else:
        checkpoint = layout.final_checkpoint(method.name, seed)
        source = "reused final.ckpt of this run dir"
        if not checkpoint.is_file():
            _train(plan, method, seed, wandb_run, reporter)
            source = None
    if source is not None:
        reporter.line(f"{method.name}/seed{seed}: {source}: {checkpoint}")
        record_path = layout.training_record(method.name, seed)
        record = read_json(record_path) if record_path.is_file() else {}
        if record.get("checkpoint_sha256") != sha256_of(checkpoint):
            write_json(record_path, {**record, "method": method.name, "seed": seed, "source": source,
                                     "checkpoint": str(checkpoint), "checkpoint_sha256": sha256_of(checkpoint),
                                     "recorded": now()})
    model = get_method_class(method.name).load_from_checkpoint(checkpoint, map_location="cpu", weights_only=False)
    return model.eval(), checkpoint


class _Stamp:
    """A Lightning callback writing ``checkpoint["ivif_bench"] = {method, seed, class_path}`` into every checkpoint."""

    def __new__(cls, method: str, seed: int, class_path: str):
        from lightning.pytorch.callbacks import Callback

        class StampCallback(Callback):
            def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:  # noqa: D102
                checkpoint["ivif_bench"] = {"method": method, "seed": seed, "class_path": class_path}

        return StampCallback()


def _build_trainer(plan: Plan, method: MethodPlan, seed: int, config: dict[str, Any], wandb_run, show_progress: bool):
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint, OnExceptionCheckpoint, ProgressBar, RichProgressBar

    from benchmarks.tracking import Tracker

    where = f"{method.name}: trainer"
    kwargs = profiles.instantiate(dict(config["trainer"]), where)
    callbacks = kwargs.pop("callbacks", None) or []
    callbacks = list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]
    checkpoint_dir = plan.layout.checkpoint_dir(method.name, seed)
    callbacks += [
        ModelCheckpoint(dirpath=checkpoint_dir, filename="step{step}", save_top_k=0, save_last=True,
                        every_n_train_steps=plan.options.checkpoint_every, enable_version_counter=False),
        # saved on an exception (Ctrl-C included), removed by Lightning after a clean fit
        OnExceptionCheckpoint(checkpoint_dir, filename="interrupted"),
        _Stamp(method.name, seed, config["model"]["class_path"]),
    ]
    if show_progress and not any(isinstance(c, ProgressBar) for c in callbacks):
        callbacks.append(RichProgressBar())
    kwargs["enable_progress_bar"] = bool(show_progress)  # the runner's --no-progress decides, not the file
    kwargs["enable_checkpointing"] = True
    max_steps = int(kwargs.get("max_steps") or -1)
    if max_steps > 0:  # short runs (smoke) still log their losses
        kwargs["log_every_n_steps"] = min(int(kwargs.get("log_every_n_steps", 50)), max(1, max_steps // 10))
    loggers = kwargs.pop("logger", None)
    loggers = [] if loggers in (None, True, False) else list(loggers) if isinstance(loggers, (list, tuple)) else [loggers]
    wandb_logger = Tracker.logger(wandb_run)
    if wandb_logger is not None:
        loggers.append(wandb_logger)
    return L.Trainer(**kwargs, callbacks=callbacks, logger=loggers or False)


def _loadable(path: Path) -> bool:
    try:
        torch.load(path, map_location="cpu", weights_only=False)
        return True
    except Exception:  # noqa: BLE001 - a truncated file from a killed run
        return False


def _train(plan: Plan, method: MethodPlan, seed: int, wandb_run, reporter: Reporter,
           resume: Path | None | str = "auto") -> None:
    """Train (method, seed) under its resolved config; writes ``final.ckpt`` atomically (rank 0)."""
    layout = plan.layout
    config = plan.resolved_config(method.name, seed)
    checkpoint_dir = layout.checkpoint_dir(method.name, seed)
    child = resume != "auto"
    if not child:
        resume = None
        candidates = [layout.last_checkpoint(method.name, seed), layout.interrupted_checkpoint(method.name, seed)]
        for path in sorted((p for p in candidates if p.is_file()), key=lambda p: p.stat().st_mtime_ns, reverse=True):
            if _loadable(path):
                resume = path
                break
            reporter.line(f"{method.name}/seed{seed}: {path} is unreadable (killed while writing?); not resuming from it")
            path.unlink()
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        with atomic_write(layout.config_file(method.name, seed), "w", encoding="utf-8") as handle:
            yaml.safe_dump(config, handle, sort_keys=False)
        reporter.line(f"{method.name}/seed{seed}: training ({plan.options.profile} profile)"
                      + (f", resuming from {resume}" if resume else ""))
    seed_everything(seed)
    model = profiles.instantiate(config["model"], f"{method.name}: model")
    data = profiles.instantiate(config["data"], f"{method.name}: data")
    trainer = _build_trainer(plan, method, seed, config, wandb_run, plan.options.progress and not child)
    environment_before = dict(os.environ)
    os.environ[TRAIN_ONLY_ENV] = json.dumps({"method": method.name, "seed": seed,
                                             "resume": None if resume is None else str(resume)})
    clock, started = time.perf_counter(), now()
    partial = checkpoint_dir / ".final.ckpt.partial"
    failed = True
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*pre-optimization state.*")
            # the runner picks the checkpoint to resume from itself (resume below), never Lightning's "last"
            warnings.filterwarnings("ignore", message=r".*\.fit\(ckpt_path=None\)` was called without a model.*")
            warnings.filterwarnings("ignore", message=r'.*\.fit\(ckpt_path="last"\) is set, but there is no last.*')
            trainer.fit(model, datamodule=data, ckpt_path=None if resume is None else str(resume))
        trainer.save_checkpoint(partial)  # a collective under DDP: every rank calls it, rank 0 writes
        failed = False
    finally:
        _end_distributed(trainer, environment_before, kill_ranks=failed)
    if child:
        return
    os.replace(partial, layout.final_checkpoint(method.name, seed))
    final = layout.final_checkpoint(method.name, seed)
    write_json(layout.training_record(method.name, seed), {
        "method": method.name, "seed": seed, "source": "trained", "resumed_from": None if resume is None else str(resume),
        "checkpoint": str(final), "checkpoint_sha256": sha256_of(final), "global_step": trainer.global_step,
        "epochs": trainer.current_epoch, "world_size": trainer.world_size, "strategy": type(trainer.strategy).__name__,
        "accelerator": type(trainer.accelerator).__name__, "started": started, "finished": now(),
        "train_time_s": round(time.perf_counter() - clock, 3), "environment": environment()})
    reporter.line(f"{method.name}/seed{seed}: trained {trainer.global_step} steps in "
                  f"{time.perf_counter() - clock:.1f} s on {trainer.world_size} process(es) -> {final}")


def _end_distributed(trainer, environment_before: dict[str, str], kill_ranks: bool = False) -> None:
    """After a fit: leave the process group, reap the launched ranks, restore the launcher's environment.

    Lightning's launcher sets ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_PORT``...
    in this process; restoring them lets the next method's ``Trainer`` launch
    its own ranks again. After a failed fit the other ranks are killed (they
    would wait in a collective for this one).
    """
    processes = getattr(trainer.strategy.launcher, "procs", None) or []
    if kill_ranks:
        for process in processes:
            with contextlib.suppress(Exception):
                process.kill()
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    for process in processes:
        with contextlib.suppress(Exception):
            process.wait(timeout=600)
    for key in set(os.environ) - set(environment_before):
        del os.environ[key]
    for key, value in environment_before.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def _train_only(plan: Plan, spec: dict[str, Any]) -> None:
    """On a rank started by Lightning's launcher: train the (method, seed) rank 0 is training, then return."""
    method = next((m for m in plan.methods if m.name == spec["method"]), None)
    if method is None:
        raise RunError(f"{TRAIN_ONLY_ENV} names method {spec['method']!r}, which this command does not run")
    resume = Path(spec["resume"]) if spec.get("resume") else None
    _train(plan, method, int(spec["seed"]), None, Reporter(progress=False), resume=resume)


def _run_unit(plan: Plan, unit: Unit, model, checkpoint: Path | None, checkpoint_sha: str | None, wandb_run,
              tracker, reporter: Reporter) -> None:
    """Fuse every pair of the unit to PNG, evaluate, write the rows, then the done marker."""
    layout = plan.layout
    pairs = plan.pairs[unit.dataset]
    fused_dir = layout.fused_dir(unit, plan.several_seeds)
    fused_dir.mkdir(parents=True, exist_ok=True)
    wanted = {f"{p.pair_id}.png" for p in pairs}
    for stale in fused_dir.glob("*.png"):  # a previous selection of pairs of this same unit
        if stale.name not in wanted:
            stale.unlink()
    clock = time.perf_counter()
    fuse_pairs(model, pairs, fused_dir, plan.fusion_device(unit.method, unit.seed), reporter, f"fuse     {unit}")
    fuse_s = time.perf_counter() - clock
    clock = time.perf_counter()
    rows = evaluate_folder(fused_dir, plan.sources.get(unit.dataset, unit.dataset), plan.options.data_root,
                           ids=[p.pair_id for p in pairs], metrics=plan.metrics, convention=plan.options.convention,
                           device=plan.options.metric_device, progress=plan.options.progress)
    rows["dataset"] = unit.dataset
    eval_s = time.perf_counter() - clock
    rows.insert(0, "method", unit.method)
    rows.insert(1, "seed", unit.seed)
    results_file = layout.results_file(unit)
    with atomic_write(results_file, "w", encoding="utf-8", newline="") as handle:
        rows[RESULT_COLUMNS].to_csv(handle, index=False, float_format="%.17g")
    means = rows.groupby("metric", sort=False)["value"].mean()
    tracker.log_means(wandb_run, unit.dataset, means.to_dict())
    tracker.log_images(wandb_run, unit.dataset, [(p.pair_id, fused_dir / f"{p.pair_id}.png") for p in pairs[:2]])
    write_json(layout.marker(unit), {
        "method": unit.method, "seed": unit.seed, "dataset": unit.dataset,
        "signature": _unit_signature(plan, unit, checkpoint_sha),
        "checkpoint": None if checkpoint is None else str(checkpoint),
        "fused_dir": str(fused_dir.relative_to(layout.root)),
        "results_file": str(results_file.relative_to(layout.root)),
        "pairs": [{"pair_id": p.pair_id, "ir_path": str(p.ir_path), "vis_path": str(p.vis_path),
                   "resize_vis": bool(getattr(p, "resize_vis", False))} for p in pairs],
        "means": {k: float(v) for k, v in means.items()},
        "fuse_time_s": round(fuse_s, 3), "eval_time_s": round(eval_s, 3), "finished": now(),
        "environment": environment(),
    })
    reporter.line(f"done {unit}: {len(pairs)} pairs, fused in {fuse_s:.1f} s, evaluated in {eval_s:.1f} s")


def fuse_pairs(model, pairs: Sequence, out_dir: Path, device: torch.device, reporter: Reporter | None = None,
               description: str = "fuse") -> list[Path]:
    """Fuse each pair at full size (batch 1, eval mode, no grad) and write ``<pair_id>.png`` (8-bit) into ``out_dir``.

    Raises:
        ValueError: a fused image of the wrong shape or with NaN (names the pair).
    """
    from datamodules.datasets import read_pair

    reporter = reporter or Reporter(progress=False)
    model = model.to(device).eval()
    paths = []
    with torch.inference_mode(), reporter.progress(description, len(pairs)) as advance:
        for pair in pairs:
            ir, vis = (to_tensor(image).unsqueeze(0).to(device) for image in read_pair(pair))
            fused = model.fuse(ir, vis)
            if not isinstance(fused, torch.Tensor) or fused.shape != ir.shape:
                shape = tuple(fused.shape) if isinstance(fused, torch.Tensor) else type(fused).__name__
                raise ValueError(f"{type(model).__name__}.fuse returned {shape} for pair {pair.pair_id!r} of "
                                 f"{pair.dataset!r}; expected {tuple(ir.shape)}")
            if torch.isnan(fused).any():
                raise ValueError(f"{type(model).__name__}.fuse returned NaN for pair {pair.pair_id!r} of {pair.dataset!r}")
            paths.append(save_png(out_dir / f"{pair.pair_id}.png", fused[0, 0]))
            advance()
    return paths


def merge_results(layout: RunLayout, datasets: Sequence[str] = ()) -> pd.DataFrame:
    """Rebuild ``results.csv`` from every done unit's file: exactly one row per key, written atomically.

    Rows are ordered by method (reference rules first), seed, then ``datasets``'
    order (the run's test sets; others after them), so tables list the sets as the run did.
    """
    from benchmarks.leaderboard import method_order

    markers = layout.markers()
    methods = method_order(m["method"] for m in markers)
    datasets = list(datasets) + sorted({m["dataset"] for m in markers} - set(datasets))
    markers.sort(key=lambda m: (methods.index(m["method"]), m["seed"], datasets.index(m["dataset"])))
    frames = []
    for marker in markers:
        path = layout.root / marker["results_file"]
        if path.is_file():
            frames.append(read_results_file(path))
    results = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RESULT_COLUMNS)
    key = ["method", "seed", "dataset", "image", "metric", "convention"]
    duplicated = results.duplicated(key, keep=False)
    if duplicated.any():
        first = results[duplicated].iloc[0]
        raise RunError(f"{layout.root}: two result rows for {dict(first[key])}; a results file was edited by hand?")
    with atomic_write(layout.results, "w", encoding="utf-8", newline="") as handle:
        results.to_csv(handle, index=False, float_format="%.17g")
    return results


def _report(plan: Plan, results: pd.DataFrame, tracker, reporter: Reporter) -> pd.DataFrame:
    """Leaderboard files, plots, the W&B leaderboard run and the one-screen summary."""
    from benchmarks.leaderboard import summarize

    layout = plan.layout
    if results.empty:
        reporter.line("no results yet")
        return pd.DataFrame()
    paths = write_leaderboard(layout.root, results, title=f"Leaderboard: {plan.name}")
    summary = summarize(results)
    plot_paths: list[Path] = []
    if plan.options.plots:
        from benchmarks.plots import plot_run

        clock = time.perf_counter()
        plot_paths = plot_run(layout.root, pairs=plan.options.qualitative)
        reporter.line(f"plots: {len(plot_paths)} files in {layout.plots} ({time.perf_counter() - clock:.1f} s)")
    if tracker.enabled:
        record = read_json(layout.leaderboard_wandb) if layout.leaderboard_wandb.is_file() else {}
        run_id = record.get("id") or tracker.new_id()
        write_json(layout.leaderboard_wandb, {"id": run_id, "group": plan.name})
        wandb_run = tracker.start(f"{plan.name}-leaderboard", job_type="leaderboard", run_id=run_id,
                                  config={"benchmark": plan.name, "profile": plan.options.profile,
                                          "seeds": plan.options.seeds, "datasets": list(plan.pairs)})
        try:
            tracker.log_leaderboard(wandb_run, summary, plot_paths)
        finally:
            tracker.finish(wandb_run)
    _print_summary(plan, summary, paths, tracker, reporter)
    return summary


def _print_summary(plan: Plan, summary: pd.DataFrame, paths: dict[str, Path], tracker, reporter: Reporter) -> None:
    from rich.table import Table

    from benchmarks.leaderboard import method_order, rank

    shown = [m for m in HEADLINE_METRICS if m in set(summary["metric"])] or list(dict.fromkeys(summary["metric"]))[:6]
    view = summary[summary["metric"].isin(shown) & (summary["convention"] == plan.options.convention)].copy()
    view["_rank"] = rank(view)
    table = Table(title=f"{plan.name}: mean per test set (bold best, underlined second; "
                        f"all {summary['metric'].nunique()} metrics in leaderboard.md)")
    table.add_column("dataset")
    table.add_column("method")
    for metric in shown:
        higher = bool(view.loc[view["metric"] == metric, "higher_is_better"].iloc[0])
        table.add_column(f"{metric} {'↑' if higher else '↓'}", justify="right")
    for dataset, block in view.groupby("dataset", sort=False):
        for method in method_order(block["method"]):
            cells = []
            for metric in shown:
                cell = block[(block["method"] == method) & (block["metric"] == metric)]
                if cell.empty:
                    cells.append("–")
                    continue
                value, place = cell["mean"].iloc[0], cell["_rank"].iloc[0]
                text = "n/a" if not np.isfinite(value) else f"{value:.3f}"
                cells.append(f"[bold]{text}[/bold]" if place == 1 else f"[underline]{text}[/underline]" if place == 2 else text)
            table.add_row(dataset, method, *cells)
        table.add_section()
    reporter.console.print(table)
    reporter.line(f"leaderboard: {paths['md']} (.csv, .tex); per-image results: {plan.layout.results}")
    if tracker.mode == "offline":
        reporter.line(f"W&B: offline runs in {plan.layout.root / 'wandb'}; upload with: "
                      f"wandb sync {plan.layout.root / 'wandb'}/offline-run-*")
    elif tracker.mode == "online":
        reporter.line(f"W&B: group {plan.name!r} in project {tracker.project!r}")

