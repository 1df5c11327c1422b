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

import dataclasses

from .base import FusionMetric
from .conventions import TangCorrelation, TangMSE, TangMutualInformation, TangPSNR
from .functional import tang2022 as ft
from .registry import MetricInfo, get_metric_info, register_metric

__all__ = ["COLOR_RULE", "REFERENCE", "Tang2022Qabf", "Tang2022SpatialFrequency", "Tang2022StandardDeviation",
           "Tang2022VIF"]

CONVENTION = "tang2022"
REFERENCE = ("Linfeng-Tang/Evaluation-for-Image-Fusion Evaluation/*.m @ 553c1d5 (before the 2023-03-03 rewrite "
             "7849642; SeAFusion, PIAFusion)")
#: the old ``Evaluation_for_*.m`` turn a 3-channel image into gray with MATLAB ``rgb2gray`` (as ``tang``)
COLOR_RULE = "matlab-rgb2gray"


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


def _with_color_rule(info: MetricInfo) -> MetricInfo:
    # MetricInfo.color_rule arrives with the `colour` helper's work (issue 19 items 3-4)
    if "color_rule" in {f.name for f in dataclasses.fields(MetricInfo)}:
        info = dataclasses.replace(info, color_rule=COLOR_RULE)
    return info


def _variant(name: str, metric_class: type, higher_is_better: bool, unit: str, definition: str) -> MetricInfo:
    return MetricInfo(name=name, metric_class=metric_class, functional=metric_class.functional,
                      higher_is_better=higher_is_better, unit=unit, definition=definition, reference=REFERENCE,
                      convention=CONVENTION)


def _as(name: str, convention: str, note: str) -> MetricInfo:
    """The metric ``name`` of ``convention`` registered unchanged under tang2022."""
    info = get_metric_info(name, convention)
    return dataclasses.replace(info, convention=CONVENTION, definition=f"as {convention}: {info.definition}; {note}",
                               reference=f"{REFERENCE}; {info.reference}")


def _tang(name: str, metric_class: type, note: str) -> MetricInfo:
    info = get_metric_info(name, "tang")
    assert info.metric_class is metric_class, f"tang {name} is no longer {metric_class.__name__}"
    return _as(name, "tang", note)


def _table() -> list[MetricInfo]:
    return [
        _variant("SD", Tang2022StandardDeviation, True, "saturated gray levels, [0, sqrt(255)]",
                 "sqrt(sum(min(max(round(F - mean F), 0)^2, 255)) / (H W)) on the uint8 image"),
        _tang("PSNR", TangPSNR, "PSNR_evaluation on im2double images (unchanged in 2023)"),
        _tang("MSE", TangMSE, "MSE_evaluation on im2double images (unchanged in 2023)"),
        _tang("MI", TangMutualInformation, "MI_evaluation on the uint8 images (unchanged in 2023)"),
        _variant("VIF", Tang2022VIF, True, "[0, ~2]",
                 "vifp_mscale(IR, F) + vifp_mscale(VIS, F) on uint8 images: scale-1 products saturate at 255"),
        _as("AG", "default", "AG_evaluation casts the uint8 image to double"),
        _tang("CC", TangCorrelation, "CC_evaluation on im2double images (a correlation: the scale cancels)"),
        _as("SCD", "default", "analysis_SCD on im2double images (correlations: the scale cancels)"),
        _as("EN", "default", "MATLAB entropy of the uint8 image"),
        _variant("Qabf", Tang2022Qabf, True, "[0, 1]",
                 "Xydeas-Petrovic on im2double images: where g_S == g_F the strength is g_F on the [0, 1] scale"),
        _variant("SF", Tang2022SpatialFrequency, True, "[0, 1]-scale gray levels",
                 "sqrt(RF1^2 + CF1^2) of the im2double image: default SF / 255"),
    ]


for _info in _table():
    register_metric(_with_color_rule(_info))
