"""The built-in metrics' registry entries: facts, functional twin, colour rule and the path of each class.

Importing :mod:`metrics` imports this module, which registers every metric of every
convention (``default``, then ``vifb``, ``cddfuse``, ``tang`` and ``tang2022``, each in its
reference's order) without importing a ``FusionMetric`` class: each entry names its class by
its ``"module:Class"`` path (:class:`metrics.registry.MetricInfo`), imported when it is first
asked for. So ``ivif-bench evaluate``, which computes with the functionals
(:mod:`metrics.engine`), never imports torchmetrics.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Callable

from .functional import conventions as fc
from .functional import tang2022 as ft
from .functional.average_gradient import average_gradient
from .functional.chen_blum import chen_blum
from .functional.chen_varshney import chen_varshney
from .functional.correlation import correlation_coefficient
from .functional.cross_entropy import cross_entropy
from .functional.edge_intensity import edge_intensity
from .functional.entropy import entropy
from .functional.fmi import fmi_dct, fmi_pixel, fmi_wavelet
from .functional.mse import mean_squared_error, peak_signal_noise_ratio
from .functional.mutual_information import mutual_information
from .functional.piella import edge_dependent_fusion_quality, fusion_quality_index, weighted_fusion_quality
from .functional.qabf import qabf
from .functional.rmse import vifb_rmse
from .functional.scd import sum_of_correlations_of_differences
from .functional.spatial_frequency import spatial_frequency
from .functional.ssim import multiscale_ssim, ssim
from .functional.standard_deviation import standard_deviation
from .functional.vif import visual_information_fidelity_fusion, visual_information_fidelity_pixel
from .registry import MetricInfo, get_metric_info, register_convention, register_metric

__all__ = ["COLOR_RULES", "CONVENTION_REFERENCES", "TANG2022", "TANG2022_COLOR_RULE", "TANG2022_REFERENCE",
           "VIFB_COLOR_RULES"]


def _copy(info: MetricInfo, **changes) -> MetricInfo:
    """``info`` with ``changes``, its class still unimported if it was."""
    return replace(info, metric_class=info.class_ref, **changes)


def _path(metric_class: str, module: str) -> str:
    """``"module:Class"``: ``metric_class`` itself if it names its module."""
    return metric_class if ":" in metric_class else f"{module}:{metric_class}"


# =========================================================================== default
# entropy (:mod:`metrics.entropy`)
register_metric(MetricInfo(
    name="EN", metric_class="metrics.entropy:Entropy", functional=entropy, higher_is_better=True, unit="bits, [0, 8]",
    definition="Shannon entropy, log2, of the 256-bin histogram of round(255 F)",
    reference="Roberts et al. 2008, J. Appl. Remote Sens. 2(1) 023522; as in VIFB metricsEntropy.m",
))

# mutual_information (:mod:`metrics.mutual_information`)
register_metric(MetricInfo(
    name="MI", metric_class="metrics.mutual_information:MutualInformation",
    functional=mutual_information, higher_is_better=True,
    unit="bits, [0, 16]",
    definition="MI(F, IR) + MI(F, VIS), log2, each from the exact 256 x 256 joint histogram of round(255 x)",
    reference="Qu, Zhang and Yan 2002, Electron. Lett. 38(7) 313-315",
))

# standard_deviation (:mod:`metrics.standard_deviation`)
register_metric(MetricInfo(
    name="SD", metric_class="metrics.standard_deviation:StandardDeviation",
    functional=standard_deviation, higher_is_better=True,
    unit="gray levels (0-255 scale)",
    definition="population standard deviation of 255 F",
    reference="Rao 1997, Int. J. Remote Sens. 18(4); as in VIFB metricsSD.m",
))

# spatial_frequency (:mod:`metrics.spatial_frequency`)
register_metric(MetricInfo(
    name="SF", metric_class="metrics.spatial_frequency:SpatialFrequency",
    functional=spatial_frequency, higher_is_better=True,
    unit="gray levels (0-255 scale)",
    definition="sqrt(RF^2 + CF^2), means over the H x (W-1) and (H-1) x W squared differences of 255 F",
    reference="Eskicioglu and Fisher 1995, IEEE Trans. Commun. 43(12) 2959-2965",
))

# average_gradient (:mod:`metrics.average_gradient`)
register_metric(MetricInfo(
    name="AG", metric_class="metrics.average_gradient:AverageGradient",
    functional=average_gradient, higher_is_better=True,
    unit="gray levels per pixel (0-255 scale)",
    definition="sum of sqrt((gx^2 + gy^2) / 2) over all pixels / ((H-1)(W-1)), MATLAB gradient of 255 F",
    reference="Cui et al. 2015, Opt. Commun. 341 199-209; as in VIFB metricsAvg_gradient.m",
))

# qabf (:mod:`metrics.qabf`)
register_metric(MetricInfo(
    name="Qabf", metric_class="metrics.qabf:Qabf", functional=qabf, higher_is_better=True, unit="[0, 1]",
    definition="sum(Q^AF g_A + Q^BF g_B) / sum(g_A + g_B), Sobel edge strength and orientation preservation",
    reference="Xydeas and Petrovic 2000, Electron. Lett. 36(4) 308-309; VIFB metricsQabf.m",
))

# scd (:mod:`metrics.scd`)
register_metric(MetricInfo(
    name="SCD", metric_class="metrics.scd:SumOfCorrelationsOfDifferences",
    functional=sum_of_correlations_of_differences,
    higher_is_better=True, unit="[-2, 2]",
    definition="corr(F - VIS, IR) + corr(F - IR, VIS), Pearson over the whole image",
    reference="Aslantas and Bendes 2015, AEU Int. J. Electron. Commun. 69(12) 1890-1896",
))

# ssim (:mod:`metrics.ssim`)
register_metric(MetricInfo(
    name="SSIM", metric_class="metrics.ssim:StructuralSimilarity",
    functional=ssim, higher_is_better=True, unit="[-1, 1]",
    definition="(SSIM(F, IR) + SSIM(F, VIS)) / 2, Gaussian 11 x 11 sigma 1.5, 'valid', K = (0.01, 0.03), L = 255",
    reference="Wang et al. 2004, IEEE TIP 13(4) 600-612 (ssim_index.m); average as DenseFuse's SSIM_a",
))
register_metric(MetricInfo(
    name="MS_SSIM", metric_class="metrics.ssim:MultiScaleStructuralSimilarity", functional=multiscale_ssim,
    higher_is_better=True, unit="[0, 1]",
    definition="(MS-SSIM(F, IR) + MS-SSIM(F, VIS)) / 2, 5 scales, weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)",
    reference="Wang, Simoncelli and Bovik 2003, Asilomar Conf. Signals, Systems and Computers; torchmetrics",
))

# correlation (:mod:`metrics.correlation`)
register_metric(MetricInfo(
    name="CC", metric_class="metrics.correlation:CorrelationCoefficient",
    functional=correlation_coefficient, higher_is_better=True,
    unit="[-1, 1]",
    definition="(corr(F, IR) + corr(F, VIS)) / 2, Pearson correlation over the whole image",
    reference="Deshmukh and Bhosale 2010, Int. J. Image Process. 4(5) 484-493",
))

# mse (:mod:`metrics.mse`)
register_metric(MetricInfo(
    name="MSE", metric_class="metrics.mse:MeanSquaredError", functional=mean_squared_error, higher_is_better=False,
    unit="squared gray levels (0-255 scale)",
    definition="(MSE(F, IR) + MSE(F, VIS)) / 2 on the 0-255 scale",
    reference="Jagalingam and Hegde 2015, Aquatic Procedia 4 133-142",
))
register_metric(MetricInfo(
    name="PSNR", metric_class="metrics.mse:PeakSignalNoiseRatio",
    functional=peak_signal_noise_ratio, higher_is_better=True,
    unit="dB",
    definition="10 log10(255^2 / MSE), MSE the mean of MSE(F, IR) and MSE(F, VIS)",
    reference="Jagalingam and Hegde 2015, Aquatic Procedia 4 133-142",
))

# vif (:mod:`metrics.vif`)
register_metric(MetricInfo(
    name="VIF", metric_class="metrics.vif:VisualInformationFidelityFusion",
    functional=visual_information_fidelity_fusion,
    higher_is_better=True, unit="[0, ~1]",
    definition="Han VIFF: 4-scale pixel VIF maps, per pixel the source with the smaller gain, "
               "sum_s p_s sum(VID + C) / sum(VIND + C), p = [1, 0, 0.15, 1] / 2.15",
    reference="Y. Han et al., A new image fusion performance metric based on visual information fidelity, "
              "Information Fusion 14(2), 2013; VIFF_Public.m"))
register_metric(MetricInfo(
    name="VIFP", metric_class="metrics.vif:VisualInformationFidelityPixel",
    functional=visual_information_fidelity_pixel,
    higher_is_better=True, unit="[0, ~2]",
    definition="Sheikh-Bovik pixel VIF (4 scales, sigma_n^2 = 2) of F against IR plus against VIS",
    reference="H. R. Sheikh and A. C. Bovik, Image information and visual quality, IEEE TIP 15(2), 2006; "
              "vifp_mscale.m"))

_FMI_REFERENCE = ("M. Haghighat and M. A. Razian, Fast-FMI: non-reference image fusion metric, AICT 2014; "
                  "fmi.m (mhaghighat/fmi)")

# fmi (:mod:`metrics.fmi`)
register_metric(MetricInfo(
    name="FMI_pixel", metric_class="metrics.fmi:FeatureMutualInformationPixel",
    functional=fmi_pixel, higher_is_better=True,
    unit="[0, 1]",
    definition="mean over 3x3 windows of the normalised MI (Nelsen joint pdf) of F with A and with B, "
               "on gray levels",
    reference=_FMI_REFERENCE))
register_metric(MetricInfo(
    name="FMI_dct", metric_class="metrics.fmi:FeatureMutualInformationDCT", functional=fmi_dct, higher_is_better=True,
    unit="[0, 1]", definition="FMI_pixel on the orthonormal 2-D DCT-II of the images (MATLAB dct2)",
    reference=_FMI_REFERENCE))
register_metric(MetricInfo(
    name="FMI_w", metric_class="metrics.fmi:FeatureMutualInformationWavelet",
    functional=fmi_wavelet, higher_is_better=True,
    unit="[0, 1]",
    definition="FMI_pixel on the one-level dmey DWT [cA cH; cV cD], min-max normalised "
               "(PyWavelets' 62-tap dmey, MATLAB's has 102 taps)",
    reference=_FMI_REFERENCE))

_PIELLA_REFERENCE = ("G. Piella and H. Heijmans, A new quality metric for image fusion, ICIP 2003; "
                     "metricPeilla.m + ssim_index.m (zhengliu6699/imageFusionMetrics)")

# piella (:mod:`metrics.piella`)
register_metric(MetricInfo(
    name="Q", metric_class="metrics.piella:FusionQualityIndex", functional=fusion_quality_index, higher_is_better=True,
    unit="[-1, 1]",
    definition="mean over 11x11 Gaussian windows of lambda SSIM(A,F) + (1-lambda) SSIM(B,F), "
               "lambda = sA^2 / (sA^2 + sB^2)",
    reference=_PIELLA_REFERENCE))
register_metric(MetricInfo(
    name="Qw", metric_class="metrics.piella:WeightedFusionQuality",
    functional=weighted_fusion_quality, higher_is_better=True,
    unit="[-1, 1]",
    definition="Q with windows weighted by c = max(sA^2, sB^2) / sum over windows",
    reference=_PIELLA_REFERENCE))
register_metric(MetricInfo(
    name="Qe", metric_class="metrics.piella:EdgeDependentFusionQuality", functional=edge_dependent_fusion_quality,
    higher_is_better=True, unit="[-1, 1]",
    definition="Qw(A, B, F) * Qw of the edge maps ([1 0 -1] x3 kernels and transpose, magnitude, 'same')",
    reference=_PIELLA_REFERENCE))

# chen_blum (:mod:`metrics.chen_blum`)
register_metric(MetricInfo(
    name="Qcb", metric_class="metrics.chen_blum:ChenBlum", functional=chen_blum, higher_is_better=True, unit="[0, 1]",
    definition="mean of lambda_IR Q_IR,F + lambda_VIS Q_VIS,F, local contrast after a DoG CSF (Z. Liu's code)",
    reference="Chen and Blum 2009, Image Vis. Comput. 27(10) 1421-1432; VIFB metricsQcb.m",
))

# chen_varshney (:mod:`metrics.chen_varshney`)
register_metric(MetricInfo(
    name="Qcv", metric_class="metrics.chen_varshney:ChenVarshney", functional=chen_varshney, higher_is_better=False,
    unit="squared gray levels (0-255 scale), >= 0",
    definition="sum_regions(lambda_IR D_IR + lambda_VIS D_VIS) / sum(lambda_IR + lambda_VIS), 16 x 16 regions, "
               "Mannos-Sakrison CSF (Z. Liu's code)",
    reference="Chen and Varshney 2007, Inf. Fusion 8(2) 193-207; VIFB metricsQcv.m",
))


# =========================================================================== vifb, cddfuse, tang

CONVENTION_REFERENCES = {
    "vifb": "xingchenzhang/VIFB metrics/metrics*.m (Zhang et al., CVPRW 2020)",
    "cddfuse": "Zhaozixiang1228/MMIF-CDDFuse utils/Evaluator.py (Zhao et al., CVPR 2023)",
    "tang": "Linfeng-Tang/Evaluation-for-Image-Fusion Evaluation/*.m (SeAFusion, PIAFusion)",
}


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
    return _copy(info, name=name, convention=convention, definition=definition + (f"; {note}" if note else ""),
                 reference=f"{CONVENTION_REFERENCES[convention]}; {info.reference}",
                 color_rule=_color_rule(name, convention))


def _variant(name: str, convention: str, metric_class: str, functional: Callable, higher_is_better: bool,
             unit: str, definition: str) -> MetricInfo:
    """A variant: ``metric_class`` a class of :mod:`metrics.conventions` or a ``"module:Class"`` path."""
    return MetricInfo(name=name, metric_class=_path(metric_class, "metrics.conventions"), functional=functional,
                      higher_is_better=higher_is_better, unit=unit, definition=definition,
                      reference=CONVENTION_REFERENCES[convention], convention=convention,
                      color_rule=_color_rule(name, convention))


def _vifb() -> list[MetricInfo]:
    c = "vifb"
    return [
        _same("AG", c),
        _variant("CE", c, "metrics.cross_entropy:CrossEntropy", cross_entropy, False, "bits",
                 "mean over VIS, IR of sum p_S log2(p_S / p_F), levels where both histograms are nonzero"),
        _variant("EI", c, "metrics.edge_intensity:EdgeIntensity", edge_intensity, True, "gray levels (0-255 scale)",
                 "mean Sobel magnitude of 255 F, imfilter 'replicate'"),
        _same("EN", c),
        _variant("MI", c, "VifbMutualInformation", fc.vifb_mutual_information, True, "nats, [0, 2 ln 256]",
                 "MI(VIS, F) + MI(IR, F), natural log, every image min-max stretched, int16(x 255) levels"),
        _variant("PSNR", c, "VifbPSNR", fc.vifb_psnr, True, "dB", "20 log10(255 / sqrt(M)), M = VIFB's RMSE"),
        _same("Qabf", c, "VIFB scales the images by 255 twice, which only moves the g_S == g_F tie case "
                         "(< 1e-10 relative on TNO)"),
        _copy(get_metric_info("Qcb"), convention=c, reference=CONVENTION_REFERENCES[c],
              color_rule=_color_rule("Qcb", c)),
        _copy(get_metric_info("Qcv"), convention=c, reference=CONVENTION_REFERENCES[c],
              color_rule=_color_rule("Qcv", c)),
        _variant("RMSE", c, "metrics.rmse:VifbRootMeanSquaredError", vifb_rmse, False,
                 "gray levels / pixel (0-255 scale)",
                 "mean over VIS, IR of sqrt(sum((S - F)^2)) / (H W) (= RMSE / sqrt(H W))"),
        _variant("SF", c, "VifbSpatialFrequency", fc.vifb_spatial_frequency, True, "gray levels (0-255 scale)",
                 "sqrt(RF + CF), sums of squared differences divided by H W"),
        _variant("SSIM", c, "VifbSSIM", fc.vifb_ssim, True, "[-2, 2]",
                 "SSIM(VIS, F) + SSIM(IR, F), Gaussian 11 / 1.5, 'valid', L = 255: the sum"),
        _same("SD", c, "metricsVariance.m returns the standard deviation"),
    ]


def _cddfuse() -> list[MetricInfo]:
    c = "cddfuse"
    return [
        _same("EN", c),
        _same("SD", c, "the reference computes in float32"),
        _same("SF", c),
        _variant("AG", c, "CddfuseAverageGradient", fc.cddfuse_average_gradient, True, "gray levels (0-255 scale)",
                 "mean over H x W of sqrt((gx^2 + gy^2) / 2) (divisor H W)"),
        _variant("MI", c, "CddfuseMutualInformation", fc.cddfuse_mutual_information, True, "nats, [0, 2 ln 256]",
                 "sklearn mutual_info_score(F, IR) + (F, VIS): exact joint histogram, natural log"),
        _same("SCD", c),
        _variant("VIF", c, "CddfuseVIF", fc.cddfuse_vif, True, "[0, ~2]",
                 "VIFP(IR, F) + VIFP(VIS, F) (Sheikh vifp_mscale, NaN -> 1), reported as VIFF"),
        _same("Qabf", c),
        _variant("SSIM", c, "CddfuseSSIM", fc.cddfuse_ssim, True, "[-2, 2]",
                 "skimage 0.19 SSIM(F, IR) + SSIM(F, VIS): 7 x 7 uniform, sample covariance, data_range = 2"),
        _same("MSE", c),
        _same("CC", c),
        _variant("PSNR", c, "CddfusePSNR", fc.cddfuse_psnr, True, "dB",
                 "10 log10(max(255 F)^2 / MSE), MSE the mean of the two"),
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
        _variant("CC", c, "TangCorrelation", fc.tang_correlation, True, "[-1, 1]",
                 "(r_AF + r_BF) / 2, r_BF centring VIS with mean(IR) (harmless: equals default to ~1e-15)"),
        _variant("MSE", c, "TangMSE", fc.tang_mse, False, "squared [0, 1] units",
                 "(MSE(F, IR) + MSE(F, VIS)) / 2 on the [0, 1] scale"),
        _variant("PSNR", c, "TangPSNR", fc.tang_psnr, True, "dB",
                 "20 log10(255 / sqrt(MSE on [0, 1])) = default + 48.13 dB"),
        _variant("MI", c, "TangMutualInformation", fc.tang_mutual_information, True, "bits, [0, 16]",
                 "H(S) + H(F) - H(F, S) summed over IR, VIS, log2; the joint histogram merges levels 254 and 255"),
        _same("Qabf", c),
        _same("FMI_pixel", c, "feature 'none'; analysis_Reference.m's own call uses analysis_fmi's default feature, "
                              "'edge'"),
        _same("FMI_dct", c),
    ]


for _info in (*_vifb(), *_cddfuse(), *_tang()):
    register_metric(_info)


# =========================================================================== tang2022

TANG2022 = "tang2022"
TANG2022_REFERENCE = ("Linfeng-Tang/Evaluation-for-Image-Fusion Evaluation/*.m @ 553c1d5 (before the 2023-03-03 "
                      "rewrite 7849642; SeAFusion, PIAFusion)")
#: the old ``Evaluation_for_*.m`` turn a 3-channel image into gray with MATLAB ``rgb2gray`` (as ``tang``)
TANG2022_COLOR_RULE = "matlab-rgb2gray"


def _tang2022_with_color_rule(info: MetricInfo) -> MetricInfo:
    # MetricInfo.color_rule arrives with the `colour` helper's work (issue 19 items 3-4)
    if "color_rule" in {f.name for f in fields(MetricInfo)}:
        info = _copy(info, color_rule=TANG2022_COLOR_RULE)
    return info


def _variant2022(name: str, metric_class: str, functional: Callable, higher_is_better: bool, unit: str,
                 definition: str) -> MetricInfo:
    """A tang2022 variant: ``metric_class`` a class of :mod:`metrics.tang2022`."""
    return MetricInfo(name=name, metric_class=_path(metric_class, "metrics.tang2022"), functional=functional,
                      higher_is_better=higher_is_better, unit=unit, definition=definition, reference=TANG2022_REFERENCE,
                      convention=TANG2022)


def _as2022(name: str, convention: str, note: str) -> MetricInfo:
    """The metric ``name`` of ``convention`` registered unchanged under tang2022."""
    info = get_metric_info(name, convention)
    return _copy(info, convention=TANG2022, definition=f"as {convention}: {info.definition}; {note}",
                 reference=f"{TANG2022_REFERENCE}; {info.reference}")


def _tang2022(name: str, metric_class: str, note: str) -> MetricInfo:
    """The metric ``name`` of ``tang`` (``metric_class`` of :mod:`metrics.conventions`) unchanged under tang2022."""
    info = get_metric_info(name, "tang")
    assert info.class_ref == _path(metric_class, "metrics.conventions"), f"tang {name} is no longer {metric_class}"
    return _as2022(name, "tang", note)


def _tang2022_table() -> list[MetricInfo]:
    return [
        _variant2022("SD", "Tang2022StandardDeviation", ft.tang2022_standard_deviation, True,
                     "saturated gray levels, [0, sqrt(255)]",
                     "sqrt(sum(min(max(round(F - mean F), 0)^2, 255)) / (H W)) on the uint8 image"),
        _tang2022("PSNR", "TangPSNR", "PSNR_evaluation on im2double images (unchanged in 2023)"),
        _tang2022("MSE", "TangMSE", "MSE_evaluation on im2double images (unchanged in 2023)"),
        _tang2022("MI", "TangMutualInformation", "MI_evaluation on the uint8 images (unchanged in 2023)"),
        _variant2022("VIF", "Tang2022VIF", ft.tang2022_vif, True, "[0, ~2]",
                     "vifp_mscale(IR, F) + vifp_mscale(VIS, F) on uint8 images: scale-1 products saturate at 255"),
        _as2022("AG", "default", "AG_evaluation casts the uint8 image to double"),
        _tang2022("CC", "TangCorrelation", "CC_evaluation on im2double images (a correlation: the scale cancels)"),
        _as2022("SCD", "default", "analysis_SCD on im2double images (correlations: the scale cancels)"),
        _as2022("EN", "default", "MATLAB entropy of the uint8 image"),
        _variant2022("Qabf", "Tang2022Qabf", ft.tang2022_qabf, True, "[0, 1]",
                     "Xydeas-Petrovic on im2double images: where g_S == g_F the strength is g_F on the [0, 1] scale"),
        _variant2022("SF", "Tang2022SpatialFrequency", ft.tang2022_spatial_frequency, True, "[0, 1]-scale gray levels",
                     "sqrt(RF1^2 + CF1^2) of the im2double image: default SF / 255"),
    ]


for _info in _tang2022_table():
    register_metric(_tang2022_with_color_rule(_info))

for _name, _reference in {**CONVENTION_REFERENCES, TANG2022: TANG2022_REFERENCE}.items():
    register_convention(_name, _reference)
