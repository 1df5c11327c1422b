"""Fusion quality metrics as torchmetrics ``Metric`` classes with functional twins.

Example:
    >>> from metrics import create_collection, get_metric, list_metrics
    >>> collection = create_collection(["EN", "MI"])
"""

from .base import FusionMetric
from .registry import (MetricInfo, create_collection, get_metric, get_metric_info, list_conventions,
                       list_metrics, register_metric)

# Importing a metric module registers it (one line per metric module).
from . import vif  # noqa: F401  VIF, VIFP
from . import piella  # noqa: F401  Q, Qw, Qe

__all__ = ["FusionMetric", "MetricInfo", "create_collection", "get_metric", "get_metric_info",
           "list_conventions", "list_metrics", "register_metric"]
