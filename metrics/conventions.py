"""The ``vifb``, ``cddfuse`` and ``tang`` conventions: each reference code's exact metric set.

One table per convention lists, in the reference's order, every metric its code
has and nothing else (asking for another is a ``KeyError`` listing what it has).
A metric the code computes exactly as ``default`` points at the default class; a
variant points at one of the classes below, whose functional (in
:mod:`metrics.functional.conventions`) names the quirk.

Example:
    >>> import torch
    >>> from metrics import get_metric
    >>> metric = get_metric("MI", convention="cddfuse")  # nats, as sklearn's mutual_info_score
    >>> x = torch.tensor([0.0, 0.0, 1.0, 1.0]).view(1, 1, 2, 2)
    >>> metric.update(x, x, torch.zeros_like(x))
    >>> metric.compute()
    tensor(0.6931, dtype=torch.float64)
"""

from __future__ import annotations

from dataclasses import replace

from .base import FusionMetric
from .chen_blum import ChenBlum  # noqa: F401  (registers Qcb)
from .chen_varshney import ChenVarshney  # noqa: F401  (registers Qcv)
from .cross_entropy import CrossEntropy
from .edge_intensity import EdgeIntensity
from .functional import conventions as fc
from .registry import MetricInfo, get_metric_info, register_metric
from .rmse import VifbRootMeanSquaredError

__all__ = [
    "COLOR_RULES", "CONVENTION_REFERENCES", "VIFB_COLOR_RULES", "CddfuseAverageGradient", "CddfuseMutualInformation", "CddfusePSNR", "CddfuseSSIM",
    "CddfuseVIF", "TangCorrelation", "TangMSE", "TangMutualInformation", "TangPSNR", "VifbMutualInformation",
    "VifbPSNR", "VifbSSIM", "VifbSpatialFrequency",
]

CONVENTION_REFERENCES = {
    "vifb": "xingchenzhang/VIFB metrics/metrics*.m (Zhang et al., CVPRW 2020)",
    "cddfuse": "Zhaozixiang1228/MMIF-CDDFuse utils/Evaluator.py (Zhao et al., CVPR 2023)",
    "tang": "Linfeng-Tang/Evaluation-for-Image-Fusion Evaluation/*.m (SeAFusion, PIAFusion)",
}


class _Variant(FusionMetric):
    """A convention's variant of a metric: ``functional`` is set by each subclass; nothing else differs."""

    is_differentiable = False


# --------------------------------------------------------------------------- vifb variants

class VifbMutualInformation(_Variant):
    """MI (vifb): nats, images min-max stretched (:func:`~metrics.functional.conventions.vifb_mutual_information`)."""

    functional = staticmethod(fc.vifb_mutual_information)


class VifbSpatialFrequency(_Variant):
    """SF (vifb): squared differences / H W (:func:`~metrics.functional.conventions.vifb_spatial_frequency`)."""

    functional = staticmethod(fc.vifb_spatial_frequency)


class VifbSSIM(_Variant):
    """SSIM (vifb): sum over the two sources (:func:`~metrics.functional.conventions.vifb_ssim`)."""

    functional = staticmethod(fc.vifb_ssim)


class VifbPSNR(_Variant):
    """PSNR (vifb): 20 log10(255 / sqrt(RMSE_vifb)) (:func:`~metrics.functional.conventions.vifb_psnr`)."""

    functional = staticmethod(fc.vifb_psnr)


# --------------------------------------------------------------------------- cddfuse variants

class CddfuseMutualInformation(_Variant):
    """MI (cddfuse): nats, sklearn (:func:`~metrics.functional.conventions.cddfuse_mutual_information`)."""

    functional = staticmethod(fc.cddfuse_mutual_information)


class CddfuseAverageGradient(_Variant):
    """AG (cddfuse): divided by H W (:func:`~metrics.functional.conventions.cddfuse_average_gradient`)."""

    functional = staticmethod(fc.cddfuse_average_gradient)


class CddfuseVIF(_Variant):
    """VIF (cddfuse): the Sheikh VIFP sum (:func:`~metrics.functional.conventions.cddfuse_vif`)."""

    functional = staticmethod(fc.cddfuse_vif)


class CddfuseSSIM(_Variant):
    """SSIM (cddfuse): skimage legacy defaults, summed (:func:`~metrics.functional.conventions.cddfuse_ssim`)."""

    functional = staticmethod(fc.cddfuse_ssim)


class CddfusePSNR(_Variant):
    """PSNR (cddfuse): peak max(F) (:func:`~metrics.functional.conventions.cddfuse_psnr`)."""

    functional = staticmethod(fc.cddfuse_psnr)


# --------------------------------------------------------------------------- tang variants

class TangMutualInformation(_Variant):
    """MI (tang): levels 254, 255 merged jointly (:func:`~metrics.functional.conventions.tang_mutual_information`)."""

    functional = staticmethod(fc.tang_mutual_information)


class TangCorrelation(_Variant):
    """CC (tang): r_BF centred with mean(IR) (:func:`~metrics.functional.conventions.tang_correlation`)."""

    functional = staticmethod(fc.tang_correlation)


class TangMSE(_Variant):
    """MSE (tang): on the [0, 1] scale (:func:`~metrics.functional.conventions.tang_mse`)."""

    functional = staticmethod(fc.tang_mse)
    higher_is_better = False


class TangPSNR(_Variant):
    """PSNR (tang): +48.13 dB scale bug (:func:`~metrics.functional.conventions.tang_psnr`)."""

    functional = staticmethod(fc.tang_psnr)


# --------------------------------------------------------------------------- the tables

#: the colour rule (:data:`metrics.color.RULES`) of each convention; vifb's differs by metric (its .m files)
COLOR_RULES = {"cddfuse": "opencv-gray", "tang": "matlab-rgb2gray"}
VIFB_COLOR_RULES = {
    "AG": "vifb-bands", "EI": "vifb-bands", "SF": "vifb-side-by-side",
    "CE": "vifb-channels", "EN": "vifb-channels", "MI": "vifb-channels", "SSIM": "vifb-channels", "SD": "vifb-channels",
    "PSNR": "vifb-channels-double", "RMSE": "vifb-channels-double", "Qabf": "vifb-channels-double",
    "Qcb": "vifb-channels-strict", "Qcv": "vifb-channels-strict",
}


def _color_rule(name: str, convention: str) -> str:
    return VIFB_COLOR_RULES[name] if convention == "vifb" else COLOR_RULES[convention]


def _same(name: str, convention: str, note: str = "", default_name: str | None = None) -> MetricInfo:
    """The default metric ``default_name`` (or ``name``) registered unchanged under ``convention``."""
    info = get_metric_info(default_name or name)
    definition = f"as default ({default_name}): {info.definition}" if default_name else f"as default: {info.definition}"
    return replace(info, name=name, convention=convention, definition=definition + (f"; {note}" if note else ""),
                   reference=f"{CONVENTION_REFERENCES[convention]}; {info.reference}",
                   color_rule=_color_rule(name, convention))


def _variant(name: str, convention: str, metric_class: type, higher_is_better: bool, unit: str,
             definition: str) -> MetricInfo:
    return MetricInfo(name=name, metric_class=metric_class, functional=metric_class.functional,
                      higher_is_better=higher_is_better, unit=unit, definition=definition,
                      reference=CONVENTION_REFERENCES[convention], convention=convention,
                      color_rule=_color_rule(name, convention))


def _vifb() -> list[MetricInfo]:
    c = "vifb"
    return [
        _same("AG", c),
        _variant("CE", c, CrossEntropy, False, "bits", "mean over VIS, IR of sum p_S log2(p_S / p_F), "
                 "levels where both histograms are nonzero"),
        _variant("EI", c, EdgeIntensity, True, "gray levels (0-255 scale)",
                 "mean Sobel magnitude of 255 F, imfilter 'replicate'"),
        _same("EN", c),
        _variant("MI", c, VifbMutualInformation, True, "nats, [0, 2 ln 256]",
                 "MI(VIS, F) + MI(IR, F), natural log, every image min-max stretched, int16(x 255) levels"),
        _variant("PSNR", c, VifbPSNR, True, "dB", "20 log10(255 / sqrt(M)), M = VIFB's RMSE"),
        _same("Qabf", c, "VIFB scales the images by 255 twice, which only moves the g_S == g_F tie case "
                         "(< 1e-10 relative on TNO)"),
        replace(get_metric_info("Qcb"), convention=c, reference=CONVENTION_REFERENCES[c],
                color_rule=_color_rule("Qcb", c)),
        replace(get_metric_info("Qcv"), convention=c, reference=CONVENTION_REFERENCES[c],
                color_rule=_color_rule("Qcv", c)),
        _variant("RMSE", c, VifbRootMeanSquaredError, False, "gray levels / pixel (0-255 scale)",
                 "mean over VIS, IR of sqrt(sum((S - F)^2)) / (H W) (= RMSE / sqrt(H W))"),
        _variant("SF", c, VifbSpatialFrequency, True, "gray levels (0-255 scale)",
                 "sqrt(RF + CF), sums of squared differences divided by H W"),
        _variant("SSIM", c, VifbSSIM, True, "[-2, 2]", "SSIM(VIS, F) + SSIM(IR, F), Gaussian 11 / 1.5, 'valid', "
                 "L = 255: the sum"),
        _same("SD", c, "metricsVariance.m returns the standard deviation"),
    ]


def _cddfuse() -> list[MetricInfo]:
    c = "cddfuse"
    return [
        _same("EN", c),
        _same("SD", c, "the reference computes in float32"),
        _same("SF", c),
        _variant("AG", c, CddfuseAverageGradient, True, "gray levels (0-255 scale)",
                 "mean over H x W of sqrt((gx^2 + gy^2) / 2) (divisor H W)"),
        _variant("MI", c, CddfuseMutualInformation, True, "nats, [0, 2 ln 256]",
                 "sklearn mutual_info_score(F, IR) + (F, VIS): exact joint histogram, natural log"),
        _same("SCD", c),
        _variant("VIF", c, CddfuseVIF, True, "[0, ~2]",
                 "VIFP(IR, F) + VIFP(VIS, F) (Sheikh vifp_mscale, NaN -> 1), reported as VIFF"),
        _same("Qabf", c),
        _variant("SSIM", c, CddfuseSSIM, True, "[-2, 2]",
                 "skimage 0.19 SSIM(F, IR) + SSIM(F, VIS): 7 x 7 uniform, sample covariance, data_range = 2"),
        _same("MSE", c),
        _same("CC", c),
        _variant("PSNR", c, CddfusePSNR, True, "dB", "10 log10(max(255 F)^2 / MSE), MSE the mean of the two"),
    ]


def _tang() -> list[MetricInfo]:
    c = "tang"
    return [
        _same("EN", c),
        _same("SD", c),
        _same("SF", c),
        _same("AG", c),
        _same("VIF", c, "vifp_mscale(IR, F) + vifp_mscale(VIS, F): the Sheikh sum", default_name="VIFP"),
        _same("SCD", c),
        _variant("CC", c, TangCorrelation, True, "[-1, 1]",
                 "(r_AF + r_BF) / 2, r_BF centring VIS with mean(IR) (harmless: equals default to ~1e-15)"),
        _variant("MSE", c, TangMSE, False, "squared [0, 1] units",
                 "(MSE(F, IR) + MSE(F, VIS)) / 2 on the [0, 1] scale"),
        _variant("PSNR", c, TangPSNR, True, "dB", "20 log10(255 / sqrt(MSE on [0, 1])) = default + 48.13 dB"),
        _variant("MI", c, TangMutualInformation, True, "bits, [0, 16]",
                 "H(S) + H(F) - H(F, S) summed over IR, VIS, log2; the joint histogram merges levels 254 and 255"),
        _same("Qabf", c),
        _same("FMI_pixel", c, "feature 'none'; analysis_Reference.m's own call uses analysis_fmi's default feature, "
                              "'edge'"),
        _same("FMI_dct", c),
    ]


for _info in (*_vifb(), *_cddfuse(), *_tang()):
    register_metric(_info)
