"""A registry of fusion methods in the style of timm's ``register_model``.

Each method module registers its LightningModule class (or a small constructor
returning one) under a name; users, the CLI and the runner only call
:func:`create_method` and :func:`list_methods`. A method from another package
registers the same way, with the folder of its ``<profile>.yaml`` configs
(``register_method("mine", configs=Path(__file__).parent / "configs")``, the
format of ``benchmarks/configs/<method>/``); see the README's "Your own method".

Example:
    >>> from lightning_modules import create_method, list_methods
    >>> "average" in list_methods()
    True
    >>> model = create_method("average")
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, TypeVar

from datamodules.errors import UnknownNameError

_REGISTRY: dict[str, Callable] = {}
_CONFIGS: dict[str, Path] = {}

T = TypeVar("T", bound=Callable)


def register_method(name: str, configs: str | os.PathLike | None = None) -> Callable[[T], T]:
    """Class or function decorator registering a method constructor under ``name``.

    Args:
        name: the method's name (``--methods NAME``).
        configs: the folder of its ``<profile>.yaml`` configs (``smoke.yaml``, ``quick.yaml``,
            ``paper.yaml``); default ``benchmarks/configs/<name>/``. A reference rule
            (``needs_training = False``) may have none.

    Raises:
        ValueError: ``name`` already names another constructor, or ``configs`` is not a folder.
    """
    folder = None if configs is None else Path(configs).expanduser().resolve()
    if folder is not None and not folder.is_dir():
        raise ValueError(f"register_method({name!r}, configs={configs!r}): no such folder")

    def decorator(constructor: T) -> T:
        if name in _REGISTRY and _REGISTRY[name] is not constructor:
            raise ValueError(f"method {name!r} is registered twice")
        _REGISTRY[name] = constructor
        if folder is not None:
            _CONFIGS[name] = folder
        return constructor

    return decorator


def get_method_configs(name: str) -> Path | None:
    """The ``configs=`` folder ``name`` was registered with, or ``None`` (the built-in ``benchmarks/configs/<name>/``)."""
    _lookup(name)
    return _CONFIGS.get(name)


def list_methods(trainable: bool | None = None, released_weights: bool | None = None,
                 pretrained_only: bool | None = None) -> list[str]:
    """Registered method names, sorted.

    Args:
        trainable: ``True`` lists only methods that need weights (not reference rules), ``False``
            only reference rules (``average``, ``max``); ``None`` lists all.
        released_weights: ``True`` lists only methods whose class has the authors' released weights
            (``official_weights`` and ``from_official``: ``densefuse``, ``didfuse``, ``ifcnn``), ``False``
            only the others.
        pretrained_only: ``True`` lists only the pretrained-only methods (``pretrained_only = True``:
            ``ifcnn``, whose training set is not in the benchmark's data; ``ivif-bench run`` always fuses
            with its released weights), ``False`` only the others.

    Example:
        >>> list_methods(pretrained_only=True)
        ['ifcnn']
    """
    names = sorted(_REGISTRY)
    for wanted, test in ((trainable, lambda c: bool(getattr(c, "needs_training", True))),
                         (released_weights, lambda c: bool(getattr(c, "official_weights", None))
                          and callable(getattr(c, "from_official", None))),
                         (pretrained_only, lambda c: bool(getattr(c, "pretrained_only", False)))):
        if wanted is not None:
            names = [n for n in names if test(get_method_class(n)) == bool(wanted)]
    return names


def get_method_class(name: str) -> type:
    """The LightningModule class behind a registered name (for checkpoints and configs)."""
    constructor = _lookup(name)
    return constructor if isinstance(constructor, type) else getattr(constructor, "method_class", constructor)


def create_method(name: str, **kwargs):
    """Build a registered method with its keyword hyper-parameters.

    Raises:
        KeyError: unknown name; the message lists the registered ones.
    """
    return _lookup(name)(**kwargs)


def _lookup(name: str) -> Callable:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownNameError(f"unknown method {name!r}; registered: {', '.join(sorted(_REGISTRY))}") from None
