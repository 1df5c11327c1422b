"""Fusion quality metrics as torchmetrics ``Metric`` classes with functional twins.

Example:
    >>> from metrics import create_collection, get_metric, list_metrics
    >>> collection = create_collection(["EN", "MI"])
"""

from .base import FusionMetric
from .registry import (MetricInfo, convention_reference, create_collection, get_metric, get_metric_info,
                       list_conventions, list_metrics, register_convention, register_metric)

# Importing a metric module registers it (one line per metric module).
from . import entropy  # noqa: F401  EN
from . import mutual_information  # noqa: F401  MI
from . import standard_deviation  # noqa: F401  SD
from . import spatial_frequency  # noqa: F401  SF
from . import average_gradient  # noqa: F401  AG
from . import qabf  # noqa: F401  Qabf
from . import scd  # noqa: F401  SCD
from . import ssim  # noqa: F401  SSIM, MS_SSIM
from . import correlation  # noqa: F401  CC
from . import mse  # noqa: F401  MSE, PSNR
from . import vif  # noqa: F401  VIF, VIFP
from . import fmi  # noqa: F401  FMI_pixel, FMI_dct, FMI_w
from . import piella  # noqa: F401  Q, Qw, Qe
from . import chen_blum  # noqa: F401  Qcb
from . import chen_varshney  # noqa: F401  Qcv
from . import conventions  # noqa: E402  vifb, cddfuse, tang (last: they reuse the default metrics)
from . import tang2022  # noqa: F401  tang2022 (after conventions: it reuses tang's metrics)

for _name, _reference in {**conventions.CONVENTION_REFERENCES, tang2022.CONVENTION: tang2022.REFERENCE}.items():
    register_convention(_name, _reference)

__all__ = ["FusionMetric", "MetricInfo", "convention_reference", "create_collection", "get_metric", "get_metric_info",
           "list_conventions", "list_metrics", "register_convention", "register_metric"]
