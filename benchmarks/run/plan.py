"""Planning a run: the options, the checked plan (methods, configs, pairs, metrics), nothing written.

:func:`plan_run` checks every argument and input before any work: unknown
methods, datasets, metrics or profiles, missing configs, a ``--ckpt`` that is
not the method's, missing training data, and a run dir whose checkpoints were
trained under another config (the config-drift check). The :class:`Plan` it
returns is what :func:`benchmarks.run.execute.run` executes.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence


from benchmarks import profiles
from benchmarks.report.results import RunLayout, Unit
from datamodules.errors import UserError

__all__ = ["FULL_DATASETS", "MethodPlan", "Plan", "RunError", "RunOptions", "SAMPLE_DATASETS", "check_checkpoint",
           "choose_datasets", "plan_run"]

SAMPLE_DATASETS = ("sample_tno", "sample_flir", "sample_nir")
FULL_DATASETS = ("tno", "flir", "nir")


class RunError(UserError):
    """A problem with the run's arguments or run dir, found before any training."""


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
        reference_rules: add the reference rules (``average``, ``max``) to the methods
            (the study runs its one method alone).
        seed_level_fused: fused images under ``fused/<method>/seed<k>/`` even with one
            seed (a study's shard may hold one seed of many).
        plugins: plugin modules to load first (``--plugin``; the installed entry points load anyway).
        allow_skip: run the other methods when some requested ones cannot run (no config, no training
            data); otherwise :func:`plan_run` refuses (:mod:`benchmarks.run.training_data`).
        color: ``auto``: pairs whose visible image is colour are fused in colour (RGB PNGs,
            :mod:`datamodules.color`); ``gray``: every pair fused gray, as the visible luminance.
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
    reference_rules: bool = True
    seed_level_fused: bool = False
    plugins: Sequence[str] = ()
    allow_skip: bool = False
    color: str = "auto"


@dataclass
class MethodPlan:
    """A method of the plan: its profile config (unresolved), and a user checkpoint if given.

    Attributes:
        trainable: its weights come from a Lightning checkpoint (trained in this run dir, or ``checkpoint``);
            ``False`` for reference rules and methods on released weights.
        official: it runs on its authors' released weights (:mod:`benchmarks.run.weights`); its config is
            :func:`benchmarks.profiles.pretrained_config`.
    """

    name: str
    trainable: bool
    config: dict[str, Any]
    checkpoint: Path | None = None
    official: bool = False


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
    # method -> the embedded training set it uses instead of its config's (benchmarks.run.training_data)
    training: dict[str, Any] = field(default_factory=dict)
    colour: dict[str, int] = field(default_factory=dict)  # dataset label -> pairs fused in colour (0: gray)
    _configs: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def seed_level(self) -> bool:
        """Fused images under ``fused/<method>/seed<k>/``: with several seeds, or when the options ask for it."""
        return self.options.seed_level_fused or len(self.options.seeds) > 1

    @property
    def name(self) -> str:
        return self.options.name or self.layout.root.resolve().name

    def units(self, method: str, seed: int) -> list[Unit]:
        return [Unit(method, int(seed), dataset) for dataset in self.pairs]

    def method(self, name: str) -> MethodPlan:
        return next(m for m in self.methods if m.name == name)

    def config_source(self, method: str) -> str:
        """Where ``method``'s config comes from, for messages: its YAML file, or "<method> (reference rule)"."""
        plan = self.method(method)
        what = "released weights, the class's default hyper-parameters" if plan.official else "reference rule"
        return plan.config.get("__file__") or f"{method} ({what}, no config file)"

    def resolved_config(self, method: str, seed: int) -> dict[str, Any]:
        """The config of ``method`` under ``seed`` with the run's overrides, as the config interpreter reads it
        (:func:`benchmarks.profiles.parse_config`: typed, every default filled in): the record of what runs."""
        key = (method, int(seed))
        if key not in self._configs:
            self._configs[key] = profiles.parse_config(self._overridden(method, seed), self.config_source(method))
        return self._configs[key]

    def _overridden(self, method: str, seed: int) -> dict[str, Any]:
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
        substitute = self.training.get(method)
        if substitute is not None:  # no training data here: the embedded training set (a sample run only)
            data = config["data"]["init_args"]
            data["train_dataset"] = substitute.dataset
            data.pop("train_ids", None)
            if substitute.ids is not None:
                data["train_ids"] = list(substitute.ids)
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
    from benchmarks.plugins import load_plugins
    from datamodules.datasets import list_datasets, load_pairs
    from lightning_modules import get_method_class, list_methods

    load_plugins(options.plugins)
    profile = profiles.get_profile(options.profile)
    seeds = [int(s) for s in options.seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise RunError(f"--seed must list distinct seeds; got {options.seeds}")
    options.seeds = seeds
    _check_numbers(options)

    # methods
    registered = list_methods()
    requested = [m.strip() for m in options.methods if m.strip()]
    explicit = requested != ["all"]
    names = requested if explicit else _all_methods(registered, profile)
    unknown = [m for m in names if m not in registered]
    if unknown:
        raise RunError(f"unknown method(s) {', '.join(unknown)}; registered: {', '.join(registered)}")
    if options.reference_rules:
        names = list(dict.fromkeys([*list_methods(trainable=False), *names]))
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
        if trainable and _plan_untrained(methods, method, checkpoint, profile):
            continue
        try:
            config = profiles.method_config(method, options.profile)
        except FileNotFoundError as err:
            if explicit or checkpoint is not None:
                raise RunError(f"{err}; profiles with a config for {method!r}: "
                               f"{', '.join(p for p in profiles.PROFILES if profiles.config_path(method, p)) or 'none'}") from None
            from benchmarks.run.training_data import is_pretrained_only

            skipped.append((method, f"pretrained only (the authors' weights), no {options.profile!r} config to train"
                            if is_pretrained_only(method) else f"no {options.profile!r} config"))
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
    from benchmarks.run.evaluate import metric_device_of

    metric_device_of(options.metric_device, "cpu")  # a bad --metric-device stops here, before any training

    # datasets and pairs
    datasets, message = choose_datasets(options.datasets, options.data_root)
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
    plan.colour = _colour_plan(plan)
    for method in plan.methods:  # every config is interpreted (keys, types, classes) before anything else
        for seed in seeds:
            plan.resolved_config(method.name, seed)
    # trainable methods that will train need their training data now, not after hours of other work
    from benchmarks.run.training_data import check_skips, choose_training_data, data_line

    choose_training_data(plan, explicit)
    _check_released_weights(plan, explicit)
    _check_training_configs(plan)
    plan.data_message = data_line(plan, message)
    if announce is not None:
        announce(plan.data_message)
    check_skips(plan)
    return plan


def _check_numbers(options: RunOptions) -> None:
    """The numeric options, before anything is read or written (the CLI checks them when parsing, too)."""
    from benchmarks.commands.numbers import MAX_SEED

    bad_seeds = [s for s in options.seeds if not 0 <= s <= MAX_SEED]
    if bad_seeds:
        raise RunError(f"--seed: a seed is an integer 0..{MAX_SEED}; got {bad_seeds[0]}")
    for option, value in (("--checkpoint-every", options.checkpoint_every), ("--max-steps", options.max_steps),
                          ("--num-nodes", options.num_nodes), ("--limit-pairs", options.limit_pairs)):
        if value is not None and int(value) < 1:
            raise RunError(f"{option} must be >= 1; got {value}")


def _colour_plan(plan: Plan) -> dict[str, int]:
    """Per test set, how many of its pairs are fused in colour (``--color``; see :mod:`benchmarks.run.evaluate`)."""
    from benchmarks.run.evaluate import COLOR_MODES, count_colour_pairs

    if plan.options.color not in COLOR_MODES:
        raise RunError(f"--color must be one of {', '.join(COLOR_MODES)}; got {plan.options.color!r}")
    if plan.options.color == "gray":
        return {name: 0 for name in plan.pairs}
    return {name: count_colour_pairs(pairs, plan.sources[name]) for name, pairs in plan.pairs.items()}


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
    import torch

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
            # both read by the one interpreter: a config written as "lr: 1e-4" or "lr: 0.0001" is the same training
            stored = profiles.parse_config(profiles.read_yaml(stored_file.read_text(encoding="utf-8"), stored_file),
                                           stored_file)
            changes = _differences(_training_view(stored), _training_view(plan.resolved_config(method.name, seed)))
            if changes:
                raise RunError(
                    f"{method.name}/seed{seed}: the config differs from the one its checkpoint in "
                    f"{plan.layout.checkpoint_dir(method.name, seed)} was trained with ({'; '.join(changes[:4])}); "
                    f"use another --out, or delete that folder to train again")


# ------------------------------------------------------------------ how a method's model is obtained
def _all_methods(registered: list[str], profile: profiles.Profile) -> list[str]:
    """``--methods all``: every registered method, or under a released-weights profile (``pretrained``) those
    whose class has released weights (a plugin's too); the reference rules are added by the caller."""
    from benchmarks.run.weights import methods_with_released_weights

    return methods_with_released_weights(registered) if profile.released_weights else registered


def _plan_untrained(methods: list[MethodPlan], method: str, checkpoint: str | None, profile: profiles.Profile) -> bool:
    """:func:`benchmarks.run.weights.plan_untrained`: a trainable method this run does not train."""
    from benchmarks.run.weights import plan_untrained

    return plan_untrained(methods, method, checkpoint, profile)


def _check_released_weights(plan: Plan, explicit: bool) -> None:
    """:func:`benchmarks.run.weights.check_released_weights`: load (and ``--download``) them before any work."""
    from benchmarks.run.weights import check_released_weights

    check_released_weights(plan, explicit)
