"""Colour in the metrics: each convention's rule for N x 3 x H x W inputs, in one place.

Every metric is defined on gray images. A convention says what its reference code
does with colour, and :func:`apply_color_rule` does exactly that before (or around)
the gray maths. Each registered metric names its rule (``MetricInfo.color_rule``):

==========================  ==========================================================================
rule                        what happens to a colour (3-channel) input
==========================  ==========================================================================
``pil-l`` (default)         the luminance the networks fuse (:func:`datamodules.color.luminance`): PIL's
                            ``"L"`` luma ``(19595 R + 38470 G + 7471 B + 2**15) >> 16``, the Y of the
                            project's colour transform (BT.601 full range); on a colour fusion the
                            runner wrote it is the fused Y wherever the RGB did not clip; an image
                            whose three channels are equal gives that channel
``matlab-rgb2gray`` (tang)  MATLAB ``rgb2gray`` on uint8, rounded: what ``Evaluation_for_*.m`` do to
                            every 3-channel image before ``analysis_Reference.m``
``opencv-gray`` (cddfuse)   ``np.round(cv2.cvtColor(cv2.imread(p).astype('float32'), BGR2GRAY))``:
                            CDDFuse's ``image_read_cv2(path, 'GRAY')`` (float32 maths, half to even)
``vifb-*`` (vifb)           VIFB's ``metricsX.m`` logic, metric by metric (see :data:`RULES`): per
                            channel and averaged when the fused image is colour, MATLAB ``rgb2gray``
                            of the sources when it is gray
==========================  ==========================================================================

Where every input of an image is gray (C = 1) no rule applies and the metric gets its
inputs untouched, so gray values are exactly those of the gray functionals.

Images are N x C x H x W floats in [0, 1] on the 8-bit grid (k / 255), C in {1, 3}
for each input independently. Converted images come back N x 1 x H x W in the
compute dtype (float64 on CPU): k / 255 for a rounded rule.

Example:
    >>> import torch
    >>> rgb = torch.tensor([10.0, 200.0, 30.0]).div(255).view(1, 3, 1, 1)
    >>> [round(to_gray(rgb, rule).item() * 255) for rule in ("pil-l", "matlab-rgb2gray", "opencv-gray")]
    [124, 124, 124]
"""

from __future__ import annotations

import math
import warnings
from typing import Callable

import torch

__all__ = ["DEFAULT_RULE", "GRAY", "RULES", "apply_color_rule", "applied_rule", "check_color_inputs",
           "conversion_notice", "matlab_rgb2gray", "opencv_gray", "pil_l", "to_gray"]

DEFAULT_RULE = "pil-l"
GRAY = "gray"  #: what ``applied_rule`` says when every input was gray (no rule applied)

#: rule -> what it does (one line each; docs/conventions.md has the colour section)
RULES: dict[str, str] = {
    "pil-l": "colour inputs -> PIL 'L' luma, the Y of datamodules.color (BT.601 full range): the luminance "
             "the networks fuse; equal-channel images give that channel",
    "matlab-rgb2gray": "colour inputs -> MATLAB rgb2gray (uint8, rounded), as Evaluation_for_*.m do",
    "opencv-gray": "colour inputs -> np.round(cv2.cvtColor(float32 BGR, BGR2GRAY)), as CDDFuse's image_read_cv2",
    "vifb-channels": "VIFB: colour fused -> per channel (VIS k, IR k or gray IR), mean; gray fused -> "
                     "sources rgb2gray (uint8, rounded)",
    "vifb-channels-double": "VIFB: colour fused -> per channel, mean; gray fused -> sources rgb2gray on "
                            "double (not rounded)",
    "vifb-channels-strict": "VIFB: colour fused -> per channel, mean; gray fused with a colour source -> "
                            "NaN (the .m file fails)",
    "vifb-bands": "VIFB: only the fused image enters; colour -> per channel, mean",
    "vifb-side-by-side": "VIFB: colour fused -> its channels side by side, one H x 3W image",
}
_TO_GRAY = ("pil-l", "matlab-rgb2gray", "opencv-gray")
_VIFB_PER_CHANNEL = ("vifb-channels", "vifb-channels-double", "vifb-channels-strict")

#: MATLAB rgb2gray's weights: the first row of inv([1 0.956 0.621; 1 -0.272 -0.647; 1 -1.106 1.703]) (YIQ)
MATLAB_RGB2GRAY = (0.298936021293775, 0.587043074451121, 0.114020904255103)


# ---- conversions ------------------------------------------------------------------------------------

def _levels(image: torch.Tensor) -> torch.Tensor:
    """int64 8-bit levels round(255 x) of a [0, 1] image (any shape)."""
    return torch.round(image.to(torch.float64 if image.device.type == "cpu" else torch.float32) * 255).long()


def _compute_dtype(device: torch.device) -> torch.dtype:
    return torch.float64 if device.type == "cpu" else torch.float32


def _from_levels(levels: torch.Tensor) -> torch.Tensor:
    """Levels (any real dtype) -> [0, 1] in the compute dtype, N x 1 x H x W."""
    return levels.to(_compute_dtype(levels.device)) / 255.0


def pil_l(rgb: torch.Tensor) -> torch.Tensor:
    """PIL's ``convert("L")``: ``(19595 R + 38470 G + 7471 B + 2**15) >> 16``, 0.299 R + 0.587 G + 0.114 B rounded.

    The Y of the project's one colour transform (:func:`datamodules.color.luminance_tensor`),
    so the luminance the networks fuse; on a colour fusion written by the runner it is the
    fused Y at every pixel whose RGB did not clip. Three equal channels give that channel.

    Shape:
        rgb: N x 3 x H x W in [0, 1] (8-bit grid); returns N x 1 x H x W.
    """
    from datamodules.color import luminance_tensor  # numpy + torch only; imported when colour is met

    return _from_levels(luminance_tensor(_levels(rgb).to(torch.uint8)))


def matlab_rgb2gray(rgb: torch.Tensor, integer: bool = True) -> torch.Tensor:
    """MATLAB ``rgb2gray``: 0.298936 R + 0.587043 G + 0.114021 B (:data:`MATLAB_RGB2GRAY`).

    ``integer=True``: the uint8 call (``rgb2gray(uint8 image)``), rounded half away from
    zero and saturated as MATLAB's uint8 cast; no colour of the 2^24 has its weighted sum
    within 4.6e-6 of a half, so the summation order cannot matter. ``integer=False``: the
    double call on a 0-255 image (``rgb2gray(double(image))``), not rounded and not clipped
    (as Octave; MATLAB's ``rgb2gray.m`` of 2013 clipped doubles to [0, 1], its 2016 MEX rewrite
    is documented to keep the class).
    GNU Octave's own ``rgb2gray`` uses 6-decimal weights and differs from MATLAB's at
    236 of the 2^24 colours (by one level).

    Shape:
        rgb: N x 3 x H x W in [0, 1]; returns N x 1 x H x W (k / 255, or the unrounded value / 255).
    """
    v = _levels(rgb).to(torch.float64)
    r, g, b = (v[:, k:k + 1] for k in range(3))
    gray = MATLAB_RGB2GRAY[0] * r + MATLAB_RGB2GRAY[1] * g + MATLAB_RGB2GRAY[2] * b
    if integer:
        gray = torch.floor(gray + 0.5).clamp(0, 255)
    return _from_levels(gray)


def _fma32(a: torch.Tensor, b: float, c: torch.Tensor) -> torch.Tensor:
    """float32 fused multiply-add a * b + c, one rounding: exact in float64 for 8-bit a (products of a
    float32 weight and an integer below 2^8, plus a float32, need at most 49 significant bits)."""
    weight = float(torch.tensor(b, dtype=torch.float32))
    return (a.double() * weight + c.double()).float()


def opencv_gray(rgb: torch.Tensor) -> torch.Tensor:
    """CDDFuse's ``image_read_cv2(path, 'GRAY')``: OpenCV ``BGR2GRAY`` on a **float32** image, then ``np.round``.

    The file is read as uint8 BGR and cast to float32 *before* ``cvtColor``, so OpenCV's
    float kernel runs, not its 8-bit fixed-point one (``(9798 R + 19235 G + 3735 B + 2^14)
    >> 15``): Y = fma(R, 0.299f, fma(B, 0.114f, G * 0.587f)) in float32 (OpenCV 4.x, its
    vectorised kernel with FMA, which also handles the last pixels), then round half to
    even. Equal to ``cv2`` 4.6 on all 2^24 colours; the fixed-point kernel differs from
    it at 22,111 of them.

    Shape:
        rgb: N x 3 x H x W in [0, 1]; returns N x 1 x H x W.
    """
    v = _levels(rgb).float()
    r, g, b = (v[:, k:k + 1] for k in range(3))
    inner = _fma32(b, 0.114, g * torch.tensor(0.587, dtype=torch.float32, device=v.device))
    return _from_levels(torch.round(_fma32(r, 0.299, inner)))


def to_gray(image: torch.Tensor, rule: str) -> torch.Tensor:
    """One image batch to gray by a conversion rule (``pil-l``, ``matlab-rgb2gray``, ``opencv-gray``).

    A gray input (C = 1) is returned unchanged.

    Shape:
        image: N x C x H x W, C in {1, 3}; returns N x 1 x H x W.
    """
    if image.shape[1] == 1:
        return image
    if rule == "pil-l":
        return pil_l(image)  # three equal channels give that channel (the weights sum to 2**16)
    if rule == "matlab-rgb2gray":
        return matlab_rgb2gray(image)
    if rule == "opencv-gray":
        return opencv_gray(image)
    raise ValueError(f"{rule!r} is not a colour-to-gray rule; those are: {', '.join(_TO_GRAY)}")


# ---- checks -----------------------------------------------------------------------------------------

def check_color_inputs(fused: torch.Tensor, ir: torch.Tensor | None = None, vis: torch.Tensor | None = None) -> None:
    """Raise ``ValueError`` naming the input unless each is a float N x C x H x W, C in {1, 3}, in [0, 1],
    with the batch size and image size of ``fused``."""
    for name, image in (("fused", fused), ("ir", ir), ("vis", vis)):
        if image is None:
            continue
        if not isinstance(image, torch.Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(image).__name__}")
        if image.ndim != 4 or image.shape[1] not in (1, 3):
            raise ValueError(f"{name} must be N x C x H x W with C = 1 (gray) or 3 (RGB), got shape "
                             f"{tuple(image.shape)}")
        if not image.is_floating_point():
            raise ValueError(f"{name} must be a float tensor in [0, 1], got {image.dtype}")
        if torch.isnan(image).any():
            raise ValueError(f"{name} contains NaN")
        if image.numel() and (image.min() < 0 or image.max() > 1):
            raise ValueError(f"{name} has values outside [0, 1] (min {image.min().item():.4g}, "
                             f"max {image.max().item():.4g})")
        if name != "fused" and (image.shape[0] != fused.shape[0] or image.shape[2:] != fused.shape[2:]):
            raise ValueError(f"{name} has shape {tuple(image.shape)} but fused has {tuple(fused.shape)} "
                             "(batch and image size must agree; channels may differ)")


def _is_color(image: torch.Tensor | None) -> bool:
    return image is not None and image.ndim == 4 and image.shape[1] == 3


def applied_rule(rule: str, fused: torch.Tensor, ir: torch.Tensor | None = None,
                 vis: torch.Tensor | None = None) -> str:
    """The rule that applies to these inputs: ``rule``, or :data:`GRAY` when every input is gray."""
    return rule if any(_is_color(x) for x in (fused, ir, vis)) else GRAY


def conversion_notice(rule: str, convention: str, fused: torch.Tensor, ir: torch.Tensor | None = None,
                      vis: torch.Tensor | None = None) -> str | None:
    """The message to give once when ``rule`` turns colour inputs into gray (``None`` when it does not).

    Conversion rules convert every colour input; VIFB's per-channel rules convert only the
    colour sources of a gray fused image (its ``b == 1`` branch). Per-channel evaluation of a
    colour fused image converts nothing.
    """
    if rule in _TO_GRAY and any(_is_color(x) for x in (fused, ir, vis)):
        return f"convention {convention!r} evaluates colour images as gray: {RULES[rule]} (colour rule '{rule}')"
    if (rule in ("vifb-channels", "vifb-channels-double") and not _is_color(fused)
            and (_is_color(ir) or _is_color(vis))):
        kind = "uint8, rounded" if rule == "vifb-channels" else "on double, not rounded"
        return (f"convention {convention!r}: a gray fused image with colour sources: VIFB's metricsX.m convert the "
                f"sources with MATLAB rgb2gray ({kind}) (colour rule '{rule}')")
    return None


# ---- applying a rule --------------------------------------------------------------------------------

def _nan(fused: torch.Tensor, message: str) -> torch.Tensor:
    warnings.warn(message, RuntimeWarning, stacklevel=3)
    return torch.full((fused.shape[0],), math.nan, dtype=_compute_dtype(fused.device), device=fused.device)


def _vifb(functional: Callable, rule: str, fused, ir, vis, options, name: str) -> torch.Tensor:
    """VIFB's ``metricsX.m`` branch on ``size(fused, 3)`` and ``size(imgIR, 3)`` (see :data:`RULES`)."""
    if rule == "vifb-bands":  # metricsAvg_gradient.m (bands of F), metricsEdge_intensity.m (imfilter on F)
        bands = [fused[:, k:k + 1] for k in range(fused.shape[1])]
        return torch.stack([functional(f, f, f, **options) for f in bands]).mean(dim=0)
    if rule == "vifb-side-by-side":  # metricsSpatial_frequency.m: [m, n] = size(F) folds the channels into n
        flat = torch.cat([fused[:, k:k + 1] for k in range(fused.shape[1])], dim=-1)
        return functional(flat, flat, flat, **options)
    if rule not in _VIFB_PER_CHANNEL:
        raise ValueError(f"unknown VIFB colour rule {rule!r}")
    if fused.shape[1] == 1:  # "if b == 1": the gray fused image with the sources as they are
        if rule == "vifb-channels-strict":
            return _nan(fused, f"{name} (vifb): VIFB's .m file fails (MATLAB error, recorded as 0 by "
                               "compute_metrics.m) for a gray fused image with a colour source: NaN")
        integer = rule == "vifb-channels"
        ir, vis = (matlab_rgb2gray(x, integer) if _is_color(x) else x for x in (ir, vis))
        return functional(fused, ir, vis, **options)
    if vis is not None and vis.shape[1] != 3:
        return _nan(fused, f"{name} (vifb): VIFB's .m file indexes imgVI(:, :, k) for a colour fused image; "
                           "with a gray visible image MATLAB stops (index out of bounds): NaN")
    values = []
    for k in range(3):
        ir_k = ir if ir is None or ir.shape[1] == 1 else ir[:, k:k + 1]  # "elseif b1 == 1": the gray IR
        vis_k = None if vis is None else vis[:, k:k + 1]
        values.append(functional(fused[:, k:k + 1], ir_k, vis_k, **options))
    return torch.stack(values).mean(dim=0)


def apply_color_rule(functional: Callable, rule: str, fused: torch.Tensor, ir: torch.Tensor | None = None,
                     vis: torch.Tensor | None = None, *, name: str = "metric", **options) -> torch.Tensor:
    """``functional`` (a gray metric ``fn(fused, ir, vis, **options) -> Tensor[N]``) under colour rule ``rule``.

    Gray inputs everywhere: ``functional`` itself, untouched. Otherwise the rule of
    :data:`RULES`: a conversion rule turns each colour input gray first; a ``vifb-*``
    rule follows that metric's ``.m`` file (per channel, averaged, etc.).

    Args:
        functional: the gray maths.
        rule: a key of :data:`RULES`.
        fused, ir, vis: N x C x H x W in [0, 1], C in {1, 3} each (``ir`` / ``vis`` may be ``None``
            for a metric of the fused image alone).
        name: the metric's name, for messages.
        **options: forwarded to ``functional``.

    Returns:
        N values (float64 on CPU).
    """
    if not any(_is_color(x) for x in (fused, ir, vis)):
        return functional(fused, ir, vis, **options)
    if rule not in RULES:
        raise ValueError(f"unknown colour rule {rule!r}; known: {', '.join(RULES)}")
    check_color_inputs(fused, ir, vis)
    if rule in _TO_GRAY:
        return functional(*(None if x is None else to_gray(x, rule) for x in (fused, ir, vis)), **options)
    return _vifb(functional, rule, fused, ir, vis, options, name)
