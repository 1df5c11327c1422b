"""Registry of metrics: per (name, convention) the class, functional, direction, unit and reference.

Every metric module registers itself on import with :func:`register_metric`;
:mod:`metrics` imports them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from torchmetrics import MetricCollection

from .color import DEFAULT_RULE

__all__ = ["MetricInfo", "create_collection", "get_metric", "get_metric_info", "list_conventions",
           "list_metrics", "register_metric"]


@dataclass(frozen=True)
class MetricInfo:
    """What a user needs to read and rank a metric.

    Attributes:
        name: the field's name (``"MI"``, ``"Qabf"``).
        metric_class: the ``FusionMetric`` subclass.
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
    metric_class: type
    functional: Callable
    higher_is_better: bool
    unit: str
    definition: str
    reference: str
    convention: str = "default"
    options: dict[str, Any] = field(default_factory=dict)
    color_rule: str = DEFAULT_RULE  # colour (issue 19): added by the `colour` helper


_REGISTRY: dict[tuple[str, str], MetricInfo] = {}


def register_metric(info: MetricInfo) -> MetricInfo:
    key = (info.name, info.convention)
    if key in _REGISTRY and _REGISTRY[key] != info:
        raise ValueError(f"metric {info.name!r} ({info.convention}) is registered twice")
    _REGISTRY[key] = info
    return info


def list_conventions() -> list[str]:
    return sorted({convention for _, convention in _REGISTRY}, key=lambda c: (c != "default", c))


def list_metrics(convention: str = "default") -> list[str]:
    """Metric names of a convention, in registration order."""
    if convention not in list_conventions():
        raise KeyError(f"unknown convention {convention!r}; known: {', '.join(list_conventions())}")
    return [name for name, conv in _REGISTRY if conv == convention]


def get_metric_info(name: str, convention: str = "default") -> MetricInfo:
    try:
        return _REGISTRY[(name, convention)]
    except KeyError:
        raise KeyError(
            f"metric {name!r} is not in convention {convention!r}; it has: {', '.join(list_metrics(convention))}"
        ) from None


def get_metric(name: str, convention: str = "default", **kwargs: Any):
    """A fresh ``FusionMetric`` for ``name`` under ``convention``."""
    info = get_metric_info(name, convention)
    colour = {"color_rule": info.color_rule, "convention": info.convention, "metric_name": info.name}  # issue 19
    return info.metric_class(**{**colour, **info.options, **kwargs})


def create_collection(names: Iterable[str] | str | None = None, convention: str = "default") -> MetricCollection:
    """A ``MetricCollection`` of the named metrics (``None`` or ``"all"``: every metric of the convention)."""
    if names is None or names == "all":
        names = list_metrics(convention)
    elif isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    return MetricCollection({name: get_metric(name, convention) for name in names}, compute_groups=False)
