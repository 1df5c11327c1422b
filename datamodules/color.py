"""The one colour transform of the project, and colour fusion through it.

**The transform** (``ycbcr-bt601-l``): ITU-R BT.601 full range, the JPEG / JFIF
YCbCr, with the luma of PIL's ``convert("L")``; uint8 in, uint8 out, computed
in exact integer arithmetic (numpy and torch give identical results, on any
device). With 8-bit R, G, B and ``round`` = round half to even::

    Y  = (19595 R + 38470 G + 7471 B + 2**15) >> 16           PIL "L" (datamodules.io.gray_from_rgb)
    Cb = clip(128 + round((B - Y*) / 1.772), 0, 255)           Y* = 0.299 R + 0.587 G + 0.114 B, exact
    Cr = clip(128 + round((R - Y*) / 1.402), 0, 255)

and back, with Cb' = Cb - 128, Cr' = Cr - 128, the exact inverse of the
BT.601 matrix (``G = (Y - 0.299 R - 0.114 B) / 0.587``)::

    R = clip(round(Y + 1.402 Cr'))
    G = clip(round(Y - (0.202008 Cb' + 0.419198 Cr') / 0.587))   (= Y - 0.3441363 Cb' - 0.7141363 Cr')
    B = clip(round(Y + 1.772 Cb'))                                clip to [0, 255]

The forward Cb, Cr are the JPEG chroma ``-0.168736 R - 0.331264 G + 0.5 B + 128``
and ``0.5 R - 0.418688 G - 0.081312 B + 128``; each ratio is evaluated exactly
(integers: ``(886 B - 299 R - 587 G) / 1772``, ``(701 R - 587 G - 114 B) / 1402``,
``(1000 Y + 1402 Cr') / 1000``, ``(587000 Y - 202008 Cb' - 419198 Cr') / 587000``,
``(1000 Y + 1772 Cb') / 1000``) before it is rounded. Pure blue's Cb (and pure
red's Cr) is 128 + 127.5, rounded to 256, clipped to 255.

**Why this one: luminance is preserved.** For every (Y, Cb, Cr) of the 2**24
whose R, G, B need no clipping, the PIL "L" luma of the RGB the inverse gives is
Y again (all 3,964,187 of them, 23.6 %; ``tests/datamodules/test_color.py``): the
exact inverse has luma Y, rounding each channel moves the weighted sum by less
than half a level, and "L" rounds. So a colour fusion written as an RGB PNG has
PIL "L" luminance equal to the method's fused Y wherever its colour fits the RGB
cube; where a channel clipped (a bright fused Y under saturated visible chroma)
the luminance is lower (:attr:`ColorFusion.clipped` marks those pixels). RGB ->
YCbCr -> RGB moves a channel by at most 1 level (0.33 mean over the RGB cube, 0.7 % of
the channel values of VIFB / RoadScene visible images move).

**How it differs from Pillow's ``"YCbCr"`` mode** (``libImaging/ConvertYCbCr.c``:
6-bit fixed-point tables, sums floored): by at most one level in every channel,
both ways. Forward, over the 2**24 RGB colours: Y at 49.2 % (Pillow floors the
luma, "L" rounds), Cb at 46.1 %, Cr at 46.1 %. Inverse, over the 2**24 YCbCr
triples: R at 31.0 %, G at 38.3 %, B at 26.9 % (70.2 % of the triples in some
channel). Pillow's own round trip moves a channel by up to 3 levels, and the Y
Pillow reads back from a colour fusion written with Pillow's inverse equals the
fused Y at only 27 % of VIFB's pixels (73 % one level lower): why this transform
is not Pillow's.

**The luminance the networks take** (:func:`luminance`): a gray file as it is;
an RGB file as its PIL "L" luma (the Y above): an RGB file whose three channels
are equal (Tang's TNO copies, 17 of VIFB's infrared images) gives that channel,
which is the gray image it stores. This is the gray conversion the project has
always used (:func:`datamodules.io.read_image`'s ``"gray"`` mode), so training
images and gray test sets (TNO, FLIR test, NIR) are unchanged.

**Colour fusion** (:func:`fuse_color`), as SeAFusion, CDDFuse and DenseFuse
(Sec. IV-D) fuse a colour pair: visible RGB -> YCbCr; the method fuses Y with
the infrared image; the fused Y, rounded to 8 bits (``rint(clamp(y, 0, 1) * 255)``,
:func:`datamodules.io.quantize_8bit`), is put back with the visible Cb and Cr;
YCbCr -> RGB, 8-bit. On VIFB's 21 pairs a channel clips at the share of pixels
that ``benchmarks/verify/color_transform.py`` measures per method (README, Colour).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, NamedTuple

import numpy as np

from .io import gray_from_rgb

if TYPE_CHECKING:  # torch is imported by the tensor functions: the numpy half (read_pair, plots) needs none
    import torch

__all__ = [
    "COLOR_FUSION",
    "TRANSFORM",
    "ColorFusion",
    "fuse_color",
    "is_color",
    "luminance",
    "luminance_tensor",
    "merge_luminance",
    "rgb_to_ycbcr",
    "rgb_to_ycbcr_tensor",
    "to_levels",
    "ycbcr_to_rgb",
    "ycbcr_to_rgb_tensor",
]

#: the transform's name, as recorded with results
TRANSFORM = "ycbcr-bt601-l"
#: one line for provenance records and console output: how a colour pair is fused
COLOR_FUSION = ("visible RGB -> YCbCr (BT.601 full range / JPEG, Y = PIL 'L' luma); the method fuses Y with the "
                "infrared image; the fused Y (8-bit) put back with the visible Cb, Cr -> RGB by the exact inverse, "
                "rounded half to even (the PNG's PIL 'L' = the fused Y wherever no channel clipped)")


# ---- the arithmetic, shared by numpy and torch (int64 arrays of either) ---------------------------------

def _round_div(numerator: Any, denominator: int) -> Any:
    """``round(numerator / denominator)`` half to even, exactly, for int64 arrays and a positive int."""
    quotient = numerator // denominator  # floor for numpy and torch alike
    twice_rest = 2 * (numerator - quotient * denominator)
    return quotient + ((twice_rest > denominator) | ((twice_rest == denominator) & ((quotient & 1) == 1)))


def _luma(r: Any, g: Any, b: Any) -> Any:
    """int64 R, G, B -> int64 Y, PIL's "L" (as :func:`datamodules.io.gray_from_rgb`)."""
    return (19595 * r + 38470 * g + 7471 * b + (1 << 15)) >> 16


def _forward(r: Any, g: Any, b: Any) -> tuple[Any, Any, Any]:
    """int64 R, G, B (0..255) -> int64 Y, Cb, Cr (0..255): the module docstring's forward formulas."""
    y = _luma(r, g, b)
    cb = (128 + _round_div(886 * b - 299 * r - 587 * g, 1772)).clip(0, 255)
    cr = (128 + _round_div(701 * r - 587 * g - 114 * b, 1402)).clip(0, 255)
    return y, cb, cr


def _inverse(y: Any, cb: Any, cr: Any) -> tuple[Any, Any, Any]:
    """int64 Y, Cb, Cr (0..255) -> int64 R, G, B, rounded but **not** clipped (may lie outside 0..255)."""
    cb, cr = cb - 128, cr - 128
    r = _round_div(1000 * y + 1402 * cr, 1000)
    g = _round_div(587000 * y - 202008 * cb - 419198 * cr, 587000)
    b = _round_div(1000 * y + 1772 * cb, 1000)
    return r, g, b


def _check_numpy(image: np.ndarray, name: str) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", type(image).__name__)
        raise ValueError(f"{name} expects a uint8 H x W x 3 array, got {getattr(image, 'dtype', '')} {shape}")


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """RGB to YCbCr by the project's transform (module docstring); Y is PIL's ``convert("L")``.

    Args:
        rgb: uint8 H x W x 3.

    Returns:
        uint8 H x W x 3, channels Y, Cb, Cr.
    """
    _check_numpy(rgb, "rgb_to_ycbcr")
    channels = _forward(*(rgb[..., k].astype(np.int64) for k in range(3)))
    return np.stack(channels, axis=-1).astype(np.uint8)


def ycbcr_to_rgb(ycbcr: np.ndarray, return_clipped: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """YCbCr to RGB by the exact inverse, rounded half to even, clipped to [0, 255] (module docstring).

    Args:
        ycbcr: uint8 H x W x 3, channels Y, Cb, Cr.
        return_clipped: also return where a channel was clipped.

    Returns:
        uint8 H x W x 3 (R, G, B); with ``return_clipped``, also a bool H x W mask, ``True`` where some
        channel fell outside [0, 255] (there, and only there, PIL "L" of the RGB may differ from Y).
    """
    _check_numpy(ycbcr, "ycbcr_to_rgb")
    rgb = np.stack(_inverse(*(ycbcr[..., k].astype(np.int64) for k in range(3))), axis=-1)
    clipped = ((rgb < 0) | (rgb > 255)).any(axis=-1)
    rgb = rgb.clip(0, 255).astype(np.uint8)
    return (rgb, clipped) if return_clipped else rgb


def _check_tensor(image: torch.Tensor, name: str) -> None:
    import torch

    if not isinstance(image, torch.Tensor) or image.dtype != torch.uint8 or image.ndim < 3 or image.shape[-3] != 3:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"{name} expects a uint8 tensor ... x 3 x H x W, got "
                         f"{getattr(image, 'dtype', '')} {shape}")


def rgb_to_ycbcr_tensor(rgb: torch.Tensor) -> torch.Tensor:
    """:func:`rgb_to_ycbcr` in torch, channel-first, on ``rgb``'s device; identical values.

    Shape:
        - rgb: ``(..., 3, H, W)`` uint8.
        - output: ``(..., 3, H, W)`` uint8, channels Y, Cb, Cr.
    """
    import torch

    _check_tensor(rgb, "rgb_to_ycbcr_tensor")
    channels = _forward(*(c.to(torch.int64) for c in rgb.unbind(-3)))
    return torch.stack(channels, dim=-3).to(torch.uint8)


def ycbcr_to_rgb_tensor(ycbcr: torch.Tensor, return_clipped: bool = False
                        ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """:func:`ycbcr_to_rgb` in torch, channel-first, on ``ycbcr``'s device; identical values.

    Shape:
        - ycbcr: ``(..., 3, H, W)`` uint8, channels Y, Cb, Cr.
        - output: ``(..., 3, H, W)`` uint8, R, G, B; with ``return_clipped`` also a bool
          ``(..., 1, H, W)`` mask, ``True`` where some channel was clipped.
    """
    import torch

    _check_tensor(ycbcr, "ycbcr_to_rgb_tensor")
    rgb = torch.stack(_inverse(*(c.to(torch.int64) for c in ycbcr.unbind(-3))), dim=-3)
    clipped = ((rgb < 0) | (rgb > 255)).any(dim=-3, keepdim=True)
    rgb = rgb.clamp(0, 255).to(torch.uint8)
    return (rgb, clipped) if return_clipped else rgb


def is_color(image: np.ndarray) -> bool:
    """``True`` for an H x W x 3 array whose channels differ somewhere; ``False`` for H x W or equal channels."""
    if image.ndim == 2:
        return False
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"is_color expects H x W or H x W x 3, got shape {image.shape}")
    return not (np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2]))


def luminance(image: np.ndarray) -> np.ndarray:
    """The gray image a network fuses, from a file's own channels (``read_image(mode="native")``).

    H x W: returned as it is. H x W x 3: its PIL "L" luma, the Y of
    :func:`rgb_to_ycbcr` (for equal channels, that channel: the gray image it stores).

    Args:
        image: uint8 H x W or H x W x 3.

    Returns:
        uint8 H x W.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(f"luminance expects a uint8 H x W or H x W x 3 array, got "
                         f"{getattr(image, 'dtype', '')} {getattr(image, 'shape', type(image).__name__)}")
    if image.ndim == 2:
        return image
    return gray_from_rgb(image)


def luminance_tensor(rgb: torch.Tensor) -> torch.Tensor:
    """The Y of :func:`rgb_to_ycbcr_tensor` alone (PIL "L"), on ``rgb``'s device.

    Shape:
        - rgb: ``(..., 3, H, W)`` uint8.
        - output: ``(..., 1, H, W)`` uint8.
    """
    import torch

    _check_tensor(rgb, "luminance_tensor")
    return _luma(*(c.to(torch.int64) for c in rgb.unbind(-3))).to(torch.uint8).unsqueeze(-3)


def to_levels(image: torch.Tensor) -> torch.Tensor:
    """A [0, 1] float image to uint8 levels, ``rint(clamp(x, 0, 1) * 255)`` (the project's 8-bit rule);
    uint8 is returned as it is."""
    import torch

    if image.dtype == torch.uint8:
        return image
    if not image.is_floating_point():
        raise TypeError(f"expected a float image in [0, 1] or uint8, got {image.dtype}")
    if torch.isnan(image).any():
        raise ValueError("the image contains NaN")
    return torch.round(image.clamp(0, 1) * 255).to(torch.uint8)


def _check_color_pair(fused_or_ir: torch.Tensor, vis_rgb: torch.Tensor, name: str) -> None:
    import torch

    if not isinstance(vis_rgb, torch.Tensor) or vis_rgb.ndim != 4 or vis_rgb.shape[1] != 3:
        raise ValueError(f"vis_rgb must be a tensor N x 3 x H x W, got {tuple(getattr(vis_rgb, 'shape', ()))}")
    if not isinstance(fused_or_ir, torch.Tensor) or fused_or_ir.ndim != 4 or fused_or_ir.shape[1] != 1:
        raise ValueError(f"{name} must be a tensor N x 1 x H x W, got {tuple(getattr(fused_or_ir, 'shape', ()))}")
    if fused_or_ir.shape[0] != vis_rgb.shape[0] or fused_or_ir.shape[-2:] != vis_rgb.shape[-2:]:
        raise ValueError(f"{name} {tuple(fused_or_ir.shape)} and vis_rgb {tuple(vis_rgb.shape)} differ in N, H or W")


class ColorFusion(NamedTuple):
    """What :func:`fuse_color` and :func:`merge_luminance` return.

    Attributes:
        rgb: the fused colour image, N x 3 x H x W float32 on the 8-bit grid (k / 255).
        y: the fused luminance that was put back, N x 1 x H x W float32 on the 8-bit grid; the PIL "L" of
            ``rgb`` equals it wherever ``clipped`` is ``False``.
        vis_y: the visible luminance the method fused, N x 1 x H x W float32 (k / 255).
        clipped: N x 1 x H x W bool, ``True`` where a channel of ``rgb`` was clipped to [0, 255].
    """

    rgb: torch.Tensor
    y: torch.Tensor
    vis_y: torch.Tensor
    clipped: torch.Tensor


def _merge(fused_levels: torch.Tensor, ycbcr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    import torch

    rgb, clipped = ycbcr_to_rgb_tensor(torch.cat([fused_levels, ycbcr[:, 1:]], dim=1), return_clipped=True)
    return rgb.to(torch.float32) / 255, clipped


def merge_luminance(fused_y: torch.Tensor, vis_rgb: torch.Tensor) -> ColorFusion:
    """Put a fused luminance back with the visible image's Cb and Cr: the RGB fused image.

    Args:
        fused_y: N x 1 x H x W, float in [0, 1] (rounded to 8 bits here) or uint8.
        vis_rgb: N x 3 x H x W, float in [0, 1] on the 8-bit grid (k / 255) or uint8.

    Returns:
        :class:`ColorFusion` on ``fused_y``'s device (``rgb``, ``y`` = the rounded ``fused_y``,
        ``vis_y`` = the visible Y, ``clipped``).
    """
    import torch

    _check_color_pair(fused_y, vis_rgb, "fused_y")
    ycbcr = rgb_to_ycbcr_tensor(to_levels(vis_rgb).to(fused_y.device))
    fused_levels = to_levels(fused_y)
    rgb, clipped = _merge(fused_levels, ycbcr)
    return ColorFusion(rgb, fused_levels.to(torch.float32) / 255, ycbcr[:, :1].to(torch.float32) / 255, clipped)


def fuse_color(fuse: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], ir: torch.Tensor,
               vis_rgb: torch.Tensor) -> ColorFusion:
    """Fuse an infrared image with a colour visible image the way the field does (module docstring).

    Args:
        fuse: the method's gray fusion, ``(ir, vis) -> fused``, N x 1 x H x W float in [0, 1]
            each (``model.fuse``, or ``model.fuse_large`` for images too large for memory).
        ir: N x 1 x H x W float in [0, 1].
        vis_rgb: N x 3 x H x W, float in [0, 1] on the 8-bit grid (k / 255) or uint8.

    Returns:
        :class:`ColorFusion` (``rgb``, the fused ``y`` put back, the ``vis_y`` that was fused, ``clipped``).
    """
    import torch

    _check_color_pair(ir, vis_rgb, "ir")
    ycbcr = rgb_to_ycbcr_tensor(to_levels(vis_rgb).to(ir.device))
    vis_y = ycbcr[:, :1].to(ir.dtype) / 255
    fused_levels = to_levels(fuse(ir, vis_y))
    rgb, clipped = _merge(fused_levels, ycbcr)
    return ColorFusion(rgb, fused_levels.to(torch.float32) / 255, vis_y.to(torch.float32), clipped)
