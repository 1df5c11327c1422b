"""Benchmark profiles: finding, loading, overriding and instantiating method configs.

A profile is a set of LightningCLI-format YAML files, one per method:
``benchmarks/configs/<method>/<profile>.yaml`` with top-level keys
``seed_everything``, ``trainer`` (``Trainer`` keyword arguments), ``model`` and
``data`` (each ``{class_path, init_args}``). The same file drives
``ivif-bench train --config FILE`` and ``ivif-bench run``; the runner only
overrides what a benchmark must control (:func:`resolve_config`).

Profiles:

* ``smoke``: a few training steps on a few real pairs; evaluates the first
  2 pairs of each test set on DIDFuse Table 4's six metrics (what the tests run);
* ``quick``: CPU-sized training (about 5-8 minutes per method on 2 cores);
  every test pair, the same six metrics;
* ``paper``: each paper's protocol (meant for a GPU); every test pair, every metric.

The reference rules ``average`` and ``max`` need no config (:func:`reference_config`).

Example:
    >>> from benchmarks.profiles import method_config, resolve_config
    >>> config = resolve_config(method_config("average", "smoke"), seed=0, test_datasets=["sample_tno"])
    >>> config["model"]["class_path"]
    'lightning_modules.baselines.AverageFusion'
"""

from __future__ import annotations

import copy
import importlib
import inspect
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import yaml

from benchmarks.report.facts import HEADLINE_METRICS

__all__ = ["CONFIG_DIR", "PROFILES", "Profile", "config_path", "get_profile", "instantiate", "load_config",
           "method_config", "methods_with_config", "resolve_config"]

CONFIG_DIR = Path(__file__).resolve().parent / "configs"

# The top-level keys a config may hold (LightningCLI ``fit`` format); others are refused.
CONFIG_KEYS = ("seed_everything", "trainer", "model", "data", "ckpt_path")


@dataclass(frozen=True)
class Profile:
    """What a profile means to the runner.

    Attributes:
        name: ``smoke``, ``quick`` or ``paper``.
        limit_pairs: evaluate only the first N pairs (natural id order) of each
            test set; ``None`` evaluates them all.
        metrics: the metrics evaluated by default; ``None`` is every metric of
            the convention (``--metrics`` overrides either).
        description: one line for ``--help`` and the run's provenance.
    """

    name: str
    limit_pairs: int | None
    metrics: tuple[str, ...] | None
    description: str


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", 2, HEADLINE_METRICS,
                     "a few training steps, the first 2 test pairs per set, DIDFuse Table 4's six metrics"),
    "quick": Profile("quick", None, HEADLINE_METRICS,
                     "CPU-sized training, every test pair, DIDFuse Table 4's six metrics"),
    "paper": Profile("paper", None, None, "each paper's training protocol, every test pair, every metric (for a GPU)"),
}

# Methods that need no training and no config file; the runner always includes them.
REFERENCE_METHODS = ("average", "max")


def get_profile(name: str) -> Profile:
    """The :class:`Profile` called ``name``; ``KeyError`` names the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown profile {name!r}; known profiles: {', '.join(PROFILES)}") from None


def config_path(method: str, profile: str, config_dir: str | os.PathLike | None = None) -> Path | None:
    """``<config_dir>/<method>/<profile>.yaml`` if it exists, else ``None`` (default dir: :data:`CONFIG_DIR`)."""
    path = Path(config_dir or CONFIG_DIR) / method / f"{profile}.yaml"
    return path if path.is_file() else None


def methods_with_config(profile: str, config_dir: str | os.PathLike | None = None) -> list[str]:
    """Names of the methods that have a config for ``profile``, sorted."""
    root = Path(config_dir or CONFIG_DIR)
    return sorted(p.parent.name for p in root.glob(f"*/{profile}.yaml")) if root.is_dir() else []


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read a LightningCLI-format YAML config, checking its top-level shape.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not YAML, not a mapping, an unknown top-level key, or a
            ``model`` / ``data`` entry without ``class_path``; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such config file")
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path}: a config must be a YAML mapping with keys {', '.join(CONFIG_KEYS)}")
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise ValueError(f"{path}: unsupported top-level key(s) {', '.join(unknown)}; "
                         f"a benchmark config has {', '.join(CONFIG_KEYS)} (optimizers belong to the model)")
    for key in ("model", "data"):
        _normalise_spec(config, key, path)
    if "trainer" in config and not isinstance(config["trainer"] or {}, dict):
        raise ValueError(f"{path}: 'trainer' must be a mapping of Trainer keyword arguments")
    config["trainer"] = dict(config.get("trainer") or {})
    return config


def _normalise_spec(config: dict[str, Any], key: str, where: Any) -> None:
    spec = config.get(key)
    if isinstance(spec, str):  # LightningCLI shorthand: "model: package.Class"
        spec = {"class_path": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("class_path"), str):
        raise ValueError(f"{where}: '{key}' must have a 'class_path' (and optional 'init_args')")
    spec = dict(spec)
    spec["init_args"] = dict(spec.get("init_args") or {})
    config[key] = spec


def reference_config(method: str) -> dict[str, Any]:
    """The config of a reference rule (``average`` / ``max``): its class, the default data module, no training."""
    from lightning_modules import get_method_class

    cls = get_method_class(method)
    return {
        "seed_everything": 0,
        "trainer": {},
        "model": {"class_path": f"{cls.__module__}.{cls.__qualname__}", "init_args": {}},
        "data": {"class_path": "datamodules.FusionDataModule", "init_args": {"train_dataset": None}},
    }


def method_config(method: str, profile: str, config_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """The config of ``method`` under ``profile``, checked to build that method.

    Reference rules without a file get :func:`reference_config`.

    Raises:
        FileNotFoundError: a trainable method without a config for the profile.
        ValueError: the config's model is not the registered class of ``method``.
    """
    get_profile(profile)
    path = config_path(method, profile, config_dir)
    if path is None:
        if method in REFERENCE_METHODS:
            return reference_config(method)
        raise FileNotFoundError(f"method {method!r} has no {profile!r} config "
                                f"({Path(config_dir or CONFIG_DIR) / method / (profile + '.yaml')} does not exist)")
    config = load_config(path)
    check_model_class(config, method, path)
    config["__file__"] = str(path)
    return config


def check_model_class(config: dict[str, Any], method: str, where: Any) -> type:
    """Raise ``ValueError`` unless ``config["model"]`` builds the registered class of ``method`` (or a subclass)."""
    from lightning_modules import get_method_class

    expected = get_method_class(method)
    built = import_class(config["model"]["class_path"], where)
    if not (isinstance(built, type) and issubclass(built, expected)):
        raise ValueError(f"{where}: model.class_path {config['model']['class_path']!r} is not method {method!r} "
                         f"({expected.__module__}.{expected.__qualname__})")
    return built


def resolve_config(
    config: dict[str, Any],
    *,
    seed: int,
    data_root: str | os.PathLike | None = None,
    test_datasets: Sequence[str] | None = None,
    test_ids: Any = None,
    default_root_dir: str | os.PathLike | None = None,
    accelerator: str | None = None,
    devices: Any = None,
    strategy: str | None = None,
    num_nodes: int | None = None,
    max_steps: int | None = None,
    download: bool | None = None,
) -> dict[str, Any]:
    """A copy of ``config`` with the benchmark's overrides applied.

    ``seed`` sets ``seed_everything`` and ``data.init_args.seed``; the data
    arguments go to ``data.init_args`` (``data_root`` as an absolute path,
    ``test_ids`` replaces the file's); the Lightning arguments go to
    ``trainer``. ``None`` leaves a value as the file has it.

    Returns:
        The resolved config (plain dict, YAML-serialisable): the record of what ran.
    """
    config = copy.deepcopy(config)
    config.pop("__file__", None)
    config["seed_everything"] = int(seed)
    data = config["data"]["init_args"]
    accepted = _accepted_arguments(import_class(config["data"]["class_path"], "data.class_path"))
    overrides: dict[str, Any] = {"seed": int(seed)}
    if data_root is not None:
        overrides["data_root"] = str(Path(data_root).expanduser().resolve())
    if test_datasets is not None:  # the runner's selection replaces the file's, ids included
        overrides["test_datasets"] = [str(name) for name in test_datasets]
        overrides["test_ids"] = test_ids
    if download is not None:
        overrides["download"] = bool(download)
    data.update({key: value for key, value in overrides.items() if accepted is None or key in accepted})
    trainer = config["trainer"]
    for key, value in (("default_root_dir", default_root_dir), ("accelerator", accelerator), ("devices", devices),
                       ("strategy", strategy), ("num_nodes", num_nodes)):
        if value is not None:
            trainer[key] = str(value) if key == "default_root_dir" else value
    if max_steps is not None:  # max_steps alone decides the length
        trainer["max_steps"] = int(max_steps)
        trainer["max_epochs"] = -1
    return config


def _accepted_arguments(cls: type) -> set[str] | None:
    try:
        parameters = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return None
    return set(parameters) - {"self"}


def import_class(class_path: str, where: Any = "config") -> Any:
    """The object ``package.module.Name`` names; ``ValueError`` naming ``where`` if it cannot be imported."""
    module_name, _, name = class_path.rpartition(".")
    if not module_name:
        raise ValueError(f"{where}: class_path {class_path!r} is not 'package.module.Class'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"{where}: cannot import {module_name!r} for class_path {class_path!r} ({err})") from None
    try:
        return getattr(module, name)
    except AttributeError:
        raise ValueError(f"{where}: {module_name!r} has no {name!r} (class_path {class_path!r})") from None


def instantiate(spec: Any, where: str = "config") -> Any:
    """Build ``{class_path, init_args}`` specs, recursively (lists and dicts too).

    The LightningCLI meaning without a second schema: ``init_args`` are keyword
    arguments; a nested ``{class_path, ...}`` is built first. Anything else is
    returned as is.

    Raises:
        ValueError: an unknown class or an argument the class does not take
            (the message names ``where``, e.g. ``didfuse/smoke.yaml: model``).
    """
    if isinstance(spec, list):
        return [instantiate(item, f"{where}[{i}]") for i, item in enumerate(spec)]
    if not isinstance(spec, dict):
        return spec
    if "class_path" not in spec:
        return {key: instantiate(value, f"{where}.{key}") for key, value in spec.items()}
    cls = import_class(spec["class_path"], where)
    kwargs = {key: instantiate(value, f"{where}.init_args.{key}") for key, value in (spec.get("init_args") or {}).items()}
    try:
        inspect.signature(cls).bind(**kwargs)
    except TypeError as err:
        raise ValueError(f"{where}: {spec['class_path']} does not accept these init_args ({err})") from None
    except ValueError:  # no signature available (builtins): let the call decide
        pass
    return cls(**kwargs)
