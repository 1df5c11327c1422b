"""Fusion quality metrics as torchmetrics ``Metric`` classes with functional twins.

Importing the package registers every metric (:mod:`metrics.catalogue`) without
importing torchmetrics; a metric's class is imported when it is first asked for.

Example:
    >>> from metrics import create_collection, get_metric, list_metrics
    >>> collection = create_collection(["EN", "MI"])
"""

from . import catalogue  # noqa: F401  registers every built-in metric and convention (no torchmetrics)
from .registry import (MetricInfo, convention_reference, create_collection, get_metric, get_metric_info,
                       list_conventions, list_metrics, register_convention, register_metric)

__all__ = ["FusionMetric", "MetricInfo", "convention_reference", "create_collection", "get_metric", "get_metric_info",
           "list_conventions", "list_metrics", "register_convention", "register_metric"]


def __getattr__(name: str):
    """``metrics.FusionMetric``, imported when first asked for: it is a torchmetrics ``Metric``."""
    if name == "FusionMetric":
        from .base import FusionMetric

        return FusionMetric
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
