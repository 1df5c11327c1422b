"""The ``tang2022`` convention: the pre-2023 ``analysis_Reference.m`` of Linfeng-Tang/Evaluation-for-Image-Fusion.

Its 11 metrics, in the order the reference's ``Evaluation_for_*.m`` write them (SD, PSNR, MSE,
MI, VIF, AG, CC, SCD, EN, Qabf, SF). Numbers computed with that code before 2023-03-03 (and the
tables that copy them: SeAFusion, PIAFusion and the papers that compare with them) follow these
formulas; the ``tang`` convention is the code after the rewrite. Four metrics differ from
``tang`` (SD, SF, VIF, Qabf: :mod:`metrics.functional.tang2022`); the other seven are computed
exactly as ``tang`` computes them (MI, MSE, PSNR, CC) or as ``default`` (EN, AG, SCD), which the
old inputs do not change: EN and MI read uint8 in both versions, ``AG_evaluation`` casts to
double, MSE and PSNR compute the same [0, 1]-scale quantities, and CC and SCD are correlations,
which the [0, 1] scale does not move.

Example:
    >>> from metrics import get_metric, list_metrics
    >>> list_metrics("tang2022")
    ['SD', 'PSNR', 'MSE', 'MI', 'VIF', 'AG', 'CC', 'SCD', 'EN', 'Qabf', 'SF']
    >>> sd = get_metric("SD", convention="tang2022")  # uint8 arithmetic: saturates
"""

from __future__ import annotations

from .base import FusionMetric
from .catalogue import (TANG2022 as CONVENTION, TANG2022_COLOR_RULE as COLOR_RULE,  # noqa: F401  (the table is there)
                        TANG2022_REFERENCE as REFERENCE)
from .functional import tang2022 as ft

__all__ = ["COLOR_RULE", "REFERENCE", "Tang2022Qabf", "Tang2022SpatialFrequency", "Tang2022StandardDeviation",
           "Tang2022VIF"]


class _Variant(FusionMetric):
    """A tang2022 variant: ``functional`` is set by each subclass; nothing else differs."""

    is_differentiable = False


class Tang2022StandardDeviation(_Variant):
    """SD (tang2022): uint8 arithmetic (:func:`~metrics.functional.tang2022.tang2022_standard_deviation`)."""

    functional = staticmethod(ft.tang2022_standard_deviation)


class Tang2022SpatialFrequency(_Variant):
    """SF (tang2022): on the [0, 1] scale (:func:`~metrics.functional.tang2022.tang2022_spatial_frequency`)."""

    functional = staticmethod(ft.tang2022_spatial_frequency)


class Tang2022VIF(_Variant):
    """VIF (tang2022): vifp_mscale on uint8 images (:func:`~metrics.functional.tang2022.tang2022_vif`)."""

    functional = staticmethod(ft.tang2022_vif)


class Tang2022Qabf(_Variant):
    """Qabf (tang2022): on the [0, 1] scale, tie quirk (:func:`~metrics.functional.tang2022.tang2022_qabf`)."""

    functional = staticmethod(ft.tang2022_qabf)
