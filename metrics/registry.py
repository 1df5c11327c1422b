"""Registry of metrics: per (name, convention) the class, functional, direction, unit and reference.

:mod:`metrics.catalogue` registers every built-in metric with :func:`register_metric`,
naming each class by its ``"module:Class"`` path: the class (a torchmetrics ``Metric``)
is imported the first time it is asked for (:attr:`MetricInfo.metric_class`,
:func:`get_metric`, :func:`create_collection`), so the functional twins
(``ivif-bench evaluate``) never import torchmetrics. A metric from another package
registers the same way (a :class:`~metrics.base.FusionMetric` subclass, or its path,
and its :class:`MetricInfo`), under a convention of its own if it likes
(:func:`register_convention`); see the README's "Your own method". The facts of
an entry (direction, unit, definition) are recorded with every result computed
with it (:mod:`benchmarks.report.facts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import importlib
from typing import TYPE_CHECKING, Any, Callable, Iterable

from datamodules.errors import UnknownNameError

from .color import DEFAULT_RULE

if TYPE_CHECKING:
    from torchmetrics import MetricCollection

__all__ = ["MetricInfo", "convention_reference", "create_collection", "get_metric", "get_metric_info",
           "list_conventions", "list_metrics", "register_convention", "register_metric"]


class _ClassField:
    """The descriptor of ``MetricInfo.metric_class``: stores a class or a ``"module:Class"`` path, reads a class."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, info: MetricInfo | None, owner: type | None = None) -> type:
        if info is None:
            raise AttributeError(self.slot)  # the dataclass field has no default
        value = info.__dict__[self.slot]
        if isinstance(value, str):
            module, _, name = value.partition(":")
            value = getattr(importlib.import_module(module), name)
            _check_class(info, value)
            info.__dict__[self.slot] = value
        return value

    def __set__(self, info: MetricInfo, value: type | str) -> None:
        info.__dict__[self.slot] = value


@dataclass(frozen=True)
class MetricInfo:
    """What a user needs to read and rank a metric.

    Attributes:
        name: the field's name (``"MI"``, ``"Qabf"``).
        metric_class: the ``FusionMetric`` subclass; given as its ``"module:Class"`` path, it is
            imported (and checked) the first time it is read (:attr:`class_ref` reads it without).
        functional: its functional twin ``fn(fused, ir, vis, **options) -> Tensor[N]``.
        higher_is_better: direction of "better".
        unit: unit or range (``"bits"``, ``"[0, 1]"``, ``"gray levels (0-255 scale)"``).
        definition: one line, the formula in words.
        reference: the paper / code it reproduces.
        convention: ``"default"`` or the evaluation code it reproduces.
        options: keyword options passed to the class and functional for this convention.
        color_rule: what the convention does with colour inputs (a key of
            :data:`metrics.color.RULES`; applied by :func:`metrics.color.apply_color_rule`).
    """

    name: str
    metric_class: type | str = _ClassField()  # type: ignore[assignment]
    functional: Callable
    higher_is_better: bool
    unit: str
    definition: str
    reference: str
    convention: str = "default"
    options: dict[str, Any] = field(default_factory=dict)
    color_rule: str = DEFAULT_RULE  # colour (issue 19): added by the `colour` helper

    @property
    def class_ref(self) -> type | str:
        """``metric_class`` as registered: the class, or its ``"module:Class"`` path while not yet imported."""
        return self.__dict__["_metric_class"]


_REGISTRY: dict[tuple[str, str], MetricInfo] = {}
#: convention -> the evaluation code it reproduces
_CONVENTIONS: dict[str, str] = {"default": "ivif-bench's own definitions (docs/conventions.md)"}


def register_metric(info: MetricInfo) -> MetricInfo:
    """Register a metric under ``(info.name, info.convention)``.

    Raises:
        ValueError: another entry under the same name and convention, a class
            that is not a ``FusionMetric``, or a class whose ``higher_is_better``
            contradicts ``info.higher_is_better`` (a class given by its path: when it is first read).
    """
    key = (info.name, info.convention)
    if not isinstance(info.class_ref, str):
        _check_class(info, info.class_ref)
    if key in _REGISTRY and _REGISTRY[key] != info:
        raise ValueError(f"metric {info.name!r} ({info.convention}) is registered twice")
    _REGISTRY[key] = info
    return info


def _check_class(info: MetricInfo, metric_class: Any) -> None:
    """``ValueError`` unless ``metric_class`` is a ``FusionMetric`` with the direction ``info`` says."""
    from .base import FusionMetric

    if not (isinstance(metric_class, type) and issubclass(metric_class, FusionMetric)):
        raise ValueError(f"metric {info.name!r}: metric_class {metric_class!r} is not a metrics.FusionMetric")
    if bool(metric_class.higher_is_better) != bool(info.higher_is_better):
        raise ValueError(f"metric {info.name!r} ({info.convention}): {metric_class.__name__}.higher_is_better is "
                         f"{metric_class.higher_is_better} but the MetricInfo says {info.higher_is_better}")


def register_convention(name: str, reference: str) -> str:
    """Register a metric convention: the evaluation code (paper, repository, file) whose formulas it reproduces.

    Raises:
        ValueError: ``name`` already registered with another reference.
    """
    if _CONVENTIONS.get(name, reference) != reference:
        raise ValueError(f"convention {name!r} is registered twice ({_CONVENTIONS[name]!r} and {reference!r})")
    _CONVENTIONS[name] = reference
    return name


def convention_reference(name: str) -> str:
    """What convention ``name`` reproduces ("" for one only used by metrics, never registered)."""
    list_metrics(name)  # UnknownNameError for an unknown one
    return _CONVENTIONS.get(name, "")


def list_conventions() -> list[str]:
    """``default`` first, then every other convention (registered, or holding a metric) in alphabetical order."""
    names = set(_CONVENTIONS) | {convention for _, convention in _REGISTRY}
    return sorted(names, key=lambda c: (c != "default", c))


def list_metrics(convention: str = "default") -> list[str]:
    """Metric names of a convention, in registration order."""
    if convention not in list_conventions():
        raise UnknownNameError(f"unknown convention {convention!r}; known: {', '.join(list_conventions())}")
    return [name for name, conv in _REGISTRY if conv == convention]


def get_metric_info(name: str, convention: str = "default") -> MetricInfo:
    try:
        return _REGISTRY[(name, convention)]
    except KeyError:
        raise UnknownNameError(
            f"metric {name!r} is not in convention {convention!r}; it has: {', '.join(list_metrics(convention))}"
        ) from None


def get_metric(name: str, convention: str = "default", **kwargs: Any):
    """A fresh ``FusionMetric`` for ``name`` under ``convention``."""
    info = get_metric_info(name, convention)
    colour = {"color_rule": info.color_rule, "convention": info.convention, "metric_name": info.name}  # issue 19
    return info.metric_class(**{**colour, **info.options, **kwargs})


def create_collection(names: Iterable[str] | str | None = None, convention: str = "default") -> MetricCollection:
    """A ``MetricCollection`` of the named metrics (``None`` or ``"all"``: every metric of the convention)."""
    from torchmetrics import MetricCollection

    if names is None or names == "all":
        names = list_metrics(convention)
    elif isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    return MetricCollection({name: get_metric(name, convention) for name in names}, compute_groups=False)
