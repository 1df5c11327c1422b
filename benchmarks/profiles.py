"""Benchmark profiles and the one config interpreter: finding, loading, overriding and instantiating method configs.

A profile is a set of LightningCLI-format YAML files, one per method:
``<method's config dir>/<profile>.yaml`` (``benchmarks/configs/<method>/`` for the
built-in methods, the ``configs=`` folder of ``register_method`` for a plugin's)
with top-level keys ``seed_everything``, ``trainer`` (``Trainer`` arguments),
``model`` and ``data`` (each ``{class_path, init_args}``).

One YAML means one thing under every command: ``ivif-bench train`` (LightningCLI
``fit``), ``run`` and ``repro`` all read it with jsonargparse's YAML loader and
interpret it with the same :class:`FusionCLI` (a ``LightningCLI``): types are
coerced from the signatures (``lr: 1e-4`` is the float 0.0001 everywhere) and an
unknown key is refused with the key and the file named. The runner only
overrides what a benchmark must control (:func:`resolve_config`) and records the
interpreted config (:func:`parse_config`, every default filled in).

Profiles:

* ``smoke``: a few training steps on a few real pairs; evaluates the first
  2 pairs of each test set on DIDFuse Table 4's six metrics (what the tests run);
* ``quick``: CPU-sized training (about 5-8 minutes per method on 2 cores);
  every test pair, the same six metrics;
* ``paper``: each paper's protocol (meant for a GPU); every test pair, every metric;
* ``pretrained``: no training: every method with released weights (a class with
  ``official_weights``) on its authors' weights, plus the reference rules; every
  test pair, the six metrics. Its config per method is :func:`pretrained_config`.

A pretrained-only method (``pretrained_only = True``: IFCNN) runs on its released
weights under every profile (:mod:`benchmarks.run.weights`).

A reference rule (``needs_training = False``: ``average``, ``max``) needs no file
(:func:`reference_config`).

Example:
    >>> from benchmarks.profiles import method_config, resolve_config
    >>> config = resolve_config(method_config("average", "smoke"), seed=0, test_datasets=["sample_tno"])
    >>> config["model"]["class_path"]
    'lightning_modules.baselines.AverageFusion'
"""

from __future__ import annotations

import copy
import functools
import importlib
import inspect
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

from benchmarks.report.facts import HEADLINE_METRICS
from datamodules.errors import DataNotFoundError, UnknownNameError, UserError

__all__ = ["CONFIG_DIR", "PRETRAINED_CONFIG", "PROFILES", "Instances", "Profile", "config_path", "fusion_cli",
           "get_profile", "instantiate", "load_config", "method_config", "parse_config", "pretrained_config",
           "read_yaml", "reference_config", "resolve_config"]

CONFIG_DIR = Path(__file__).resolve().parent / "configs"

# The top-level keys a benchmark config may hold (LightningCLI ``fit`` format, without ``ckpt_path``:
# the runner picks the checkpoint to resume from itself).
CONFIG_KEYS = ("seed_everything", "trainer", "model", "data")


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
        released_weights: run only the methods with released weights, on those
            weights (and the reference rules); nothing is trained.
    """

    name: str
    limit_pairs: int | None
    metrics: tuple[str, ...] | None
    description: str
    released_weights: bool = False


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", 2, HEADLINE_METRICS,
                     "a few training steps, the first 2 test pairs per set, DIDFuse Table 4's six metrics"),
    "quick": Profile("quick", None, HEADLINE_METRICS,
                     "CPU-sized training, every test pair, DIDFuse Table 4's six metrics"),
    "paper": Profile("paper", None, None, "each paper's training protocol, every test pair, every metric (for a GPU)"),
    "pretrained": Profile("pretrained", None, HEADLINE_METRICS,
                          "no training: every method with released weights on its authors' weights (didfuse, "
                          "densefuse, ifcnn, a plugin's), every test pair, DIDFuse Table 4's six metrics",
                          released_weights=True),
}

#: the config file a method on its released weights reads, in its config folder (:func:`pretrained_config`)
PRETRAINED_CONFIG = "pretrained"


def get_profile(name: str) -> Profile:
    """The :class:`Profile` called ``name``; :class:`~datamodules.errors.UnknownNameError` names the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownNameError(f"unknown profile {name!r}; known profiles: {', '.join(PROFILES)}") from None


# ------------------------------------------------------------------ finding and reading
def config_dir(method: str) -> Path:
    """The folder of ``method``'s ``<profile>.yaml`` files: its ``register_method(configs=...)`` folder, else
    :data:`CONFIG_DIR` ``/ <method>``."""
    from lightning_modules.registry import get_method_configs

    return get_method_configs(method) or CONFIG_DIR / method


def config_path(method: str, profile: str) -> Path | None:
    """``<config_dir(method)>/<profile>.yaml`` if it exists, else ``None``."""
    path = config_dir(method) / f"{profile}.yaml"
    return path if path.is_file() else None


def read_yaml(text: str, where: Any) -> Any:
    """YAML text as jsonargparse (LightningCLI) reads it: ``1e-4`` is a float, as under ``ivif-bench train``."""
    from jsonargparse import get_loader

    try:
        return get_loader("yaml")(text)
    except Exception as err:  # noqa: BLE001 - the loader's own error types differ by version; all mean "not YAML"
        raise UserError(f"{where}: not valid YAML ({' '.join(str(err).split())})") from None


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read a LightningCLI-format YAML config, checking its top-level shape (the rest is :func:`parse_config`'s).

    Raises:
        DataNotFoundError: no such file.
        UserError: not YAML, not a mapping, an unknown top-level key, or a
            ``model`` / ``data`` entry without ``class_path``; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"{path}: no such config file")
    config = read_yaml(path.read_text(encoding="utf-8"), path)
    if not isinstance(config, dict):
        raise UserError(f"{path}: a config must be a YAML mapping with keys {', '.join(CONFIG_KEYS)}")
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        hint = ("; the runner resumes from the run dir's checkpoints itself (--ckpt METHOD=PATH reuses weights)"
                if "ckpt_path" in unknown else " (optimizers belong to the model)")
        raise UserError(f"{path}: unsupported top-level key(s) {', '.join(unknown)}; "
                        f"a benchmark config has {', '.join(CONFIG_KEYS)}{hint}")
    for key in ("model", "data"):
        spec = config.get(key)
        if isinstance(spec, str):  # LightningCLI shorthand: "model: package.Class"
            spec = {"class_path": spec}
        if not isinstance(spec, dict) or not isinstance(spec.get("class_path"), str):
            raise UserError(f"{path}: '{key}' must have a 'class_path' (and optional 'init_args')")
        config[key] = {**spec, "init_args": dict(spec.get("init_args") or {})}
    if not isinstance(config.get("trainer") or {}, dict):
        raise UserError(f"{path}: 'trainer' must be a mapping of Trainer arguments")
    config["trainer"] = dict(config.get("trainer") or {})
    return config


def reference_config(method: str) -> dict[str, Any]:
    """The config of a reference rule without a file: its class, the default data module, no training."""
    from lightning_modules import get_method_class

    cls = get_method_class(method)
    return {
        "seed_everything": 0,
        "trainer": {},
        "model": {"class_path": f"{cls.__module__}.{cls.__qualname__}", "init_args": {}},
        "data": {"class_path": "datamodules.FusionDataModule", "init_args": {"train_dataset": None}},
    }


def pretrained_config(method: str) -> dict[str, Any]:
    """The config of a method that this run does not train (released weights, or a checkpoint under the
    ``pretrained`` profile): ``<config_dir(method)>/pretrained.yaml`` if it exists (checked to build that
    method), else its class with default hyper-parameters and a data module without training data.

    Only ``model.init_args`` matter (the released weights are loaded into that model: IFCNN's ``scheme``,
    DenseFuse's ``fusion_strategy``); the runner fills in the test sets.
    """
    if config_path(method, PRETRAINED_CONFIG) is not None:
        return method_config(method, PRETRAINED_CONFIG)
    return reference_config(method)


def method_config(method: str, profile: str) -> dict[str, Any]:
    """The raw config of ``method`` under ``profile`` (``"__file__"`` names its file), checked to build that method.

    A reference rule without a file gets :func:`reference_config`.

    Raises:
        DataNotFoundError: a trainable method without a config for the profile.
        UserError: the config's model is not the registered class of ``method``.
    """
    from lightning_modules import get_method_class

    get_profile(profile)
    path = config_path(method, profile)
    if path is None:
        if not getattr(get_method_class(method), "needs_training", True):
            return reference_config(method)
        raise DataNotFoundError(f"method {method!r} has no {profile!r} config "
                                f"({config_dir(method) / (profile + '.yaml')} does not exist)")
    config = load_config(path)
    expected = get_method_class(method)
    built = import_class(config["model"]["class_path"], path)
    if not (isinstance(built, type) and issubclass(built, expected)):
        raise UserError(f"{path}: model.class_path {config['model']['class_path']!r} is not method {method!r} "
                        f"({expected.__module__}.{expected.__qualname__})")
    config["__file__"] = str(path)
    return config


def import_class(class_path: str, where: Any = "config") -> Any:
    """The object ``package.module.Name`` names; :class:`UserError` naming ``where`` if it cannot be imported."""
    module_name, _, name = class_path.rpartition(".")
    if not module_name:
        raise UserError(f"{where}: class_path {class_path!r} is not 'package.module.Class'")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if not module_name.startswith(str(err.name)):  # a module the class's own module imports: a bug there
            raise
        raise UserError(f"{where}: cannot import {module_name!r} for class_path {class_path!r} ({err})") from None
    try:
        return getattr(module, name)
    except AttributeError:
        raise UserError(f"{where}: {module_name!r} has no {name!r} (class_path {class_path!r})") from None


# ------------------------------------------------------------------ the run's overrides
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
    """A copy of the raw ``config`` with the benchmark's overrides applied (interpret it with :func:`parse_config`).

    ``seed`` sets ``seed_everything`` and ``data.init_args.seed``; the data
    arguments go to ``data.init_args`` (``data_root`` as an absolute path,
    ``test_ids`` replaces the file's) where the data class takes them; the
    Lightning arguments go to ``trainer``. ``None`` leaves a value as the file has it.
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


# ------------------------------------------------------------------ the interpreter
@functools.lru_cache(maxsize=None)
def fusion_cli() -> type:
    """The ``LightningCLI`` of every command: any ``FusionModule`` as model, any ``LightningDataModule`` as data.

    ``ivif-bench train`` runs it with ``fit``; the runner builds it with
    ``run=False`` from a config dict and passes ``trainer_hook`` (its callbacks,
    logger and switches, applied to the interpreted trainer arguments) or
    ``build_trainer=False`` (fusion only: model and data, no ``Trainer``).
    """
    import lightning as L
    from lightning.pytorch.cli import LightningCLI

    class FusionCLI(LightningCLI):
        def __init__(self, *args: Any, trainer_hook: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                     build_trainer: bool = True, where: Any = "config", **kwargs: Any) -> None:
            self.trainer_hook, self.build_trainer, self.where = trainer_hook, build_trainer, str(where)
            super().__init__(*args, **kwargs)

        def parse_arguments(self, parser, args) -> None:  # numbers no training can use: refused before the seeding
            from benchmarks.config_errors import check_values

            super().parse_arguments(parser, args)
            subcommand = self.config.get("subcommand")
            check_values((self.config.get(subcommand) if subcommand else self.config).as_dict(), self.where)

        def instantiate_trainer(self, **kwargs: Any):  # noqa: D102
            from lightning.fabric.utilities.exceptions import MisconfigurationException

            from benchmarks.config_errors import ConfigError

            if not self.build_trainer:
                return None
            try:
                if self.trainer_hook is None:
                    return super().instantiate_trainer(**kwargs)
                extra = [self._get(self.config_init, c) for c in self._parser(self.subcommand).callback_keys]
                config = {**self._get(self.config_init, "trainer", default={}), **kwargs}
                return self._instantiate_trainer(self.trainer_hook(config), extra)
            except MisconfigurationException as err:  # the Trainer refusing its arguments: the config's fault
                raise ConfigError(f"{self.where}: trainer: {' '.join(str(err).split())}; the Trainer's keys: "
                                  "ivif-bench train --help") from None

        def after_fit(self) -> None:
            callback = self.trainer.checkpoint_callback
            path = getattr(callback, "last_model_path", "") or getattr(callback, "best_model_path", "")
            if path and self.trainer.is_global_zero:
                print(f"checkpoint: {path}")

    from lightning_modules import FusionModule

    FusionCLI.defaults = dict(model_class=FusionModule, datamodule_class=L.LightningDataModule,
                              subclass_mode_model=True, subclass_mode_data=True, auto_configure_optimizers=False)
    return FusionCLI


class Instances(NamedTuple):
    """What a config builds: the model, the data module, the ``Trainer`` (``None`` unless asked), and the
    interpreted config (plain YAML-serialisable dict, every default filled in)."""

    model: Any
    datamodule: Any
    trainer: Any
    config: dict[str, Any]


def instantiate(config: dict[str, Any], where: Any, *, trainer_hook: Callable | None = None,
                build_trainer: bool = False) -> Instances:
    """Build a resolved config through :func:`fusion_cli` (seeds from ``seed_everything`` first, as ``train``).

    Args:
        config: a raw or resolved config (:func:`resolve_config`).
        where: what the config is, for error messages (its file).
        trainer_hook: ``fn(trainer arguments) -> trainer arguments``, applied to the
            interpreted ``trainer`` section before the ``Trainer`` is built.
        build_trainer: build the ``Trainer`` too (implied by ``trainer_hook``).

    Raises:
        UserError: an unknown key, a value of the wrong type, an unknown class;
            one line naming the key and ``where``.
    """
    from jsonargparse import ArgumentError

    cls = fusion_cli()
    config = {key: value for key, value in config.items() if key != "__file__"}
    seed_log = logging.getLogger("lightning.fabric.utilities.seed")  # "Seed set to N" on every build
    level = seed_log.level
    seed_log.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():  # the runner's own command line is not this config's: nothing is mixed
            warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
            warnings.filterwarnings("ignore", module=r"lightning\.pytorch\.cli")  # its jsonargparse deprecations
            cli = cls(**cls.defaults, args=config, run=False, save_config_callback=None, trainer_hook=trainer_hook,
                      build_trainer=build_trainer or trainer_hook is not None, parser_kwargs={"exit_on_error": False},
                      where=where)
    except ArgumentError as err:
        from benchmarks.config_errors import ConfigError, explain

        raise ConfigError(explain(str(err), str(where))) from None
    finally:
        seed_log.setLevel(level)
    return Instances(cli.model, cli.datamodule, cli.trainer, _dump(cli))


def parse_config(config: dict[str, Any], where: Any) -> dict[str, Any]:
    """The interpreted config: every key checked and typed, every default filled in (the record of what runs)."""
    return instantiate(config, where).config


def _dump(cli) -> dict[str, Any]:
    import yaml

    text = cli.parser.dump(cli.config, format="yaml", skip_link_targets=False)
    return yaml.safe_load(text)
