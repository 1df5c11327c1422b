"""The one colour transform of the project, and colour fusion through it.

**The transform.** RGB <-> YCbCr, ITU-R BT.601 full range (the JPEG / JFIF
transform), exactly as Pillow's ``Image.convert("YCbCr")`` / ``convert("RGB")``
compute it (``libImaging/ConvertYCbCr.c``): 6-bit fixed point, each product
looked up in a table ``T_c[v] = trunc(64 c v + 0.5)`` (C's cast, toward zero),
sums shifted right by 6 (floor division by 64)::

    Y  =  (T_.29900[R] + T_.58700[G] + T_.11400[B]) >> 6
    Cb = ((T_-.16874[R] + T_-.33126[G] + T_.50000[B]) >> 6) + 128
    Cr = ((T_.50000[R] + T_-.41869[G] + T_-.08131[B]) >> 6) + 128

    R = clip(Y + (U_1.40200[Cr] >> 6))
    G = clip(Y + ((U_-.34414[Cb] + U_-.71414[Cr]) >> 6))       U_c[v] = trunc(64 c (v - 128) + 0.5)
    B = clip(Y + (U_1.77200[Cb] >> 6))                           clip to [0, 255]

uint8 in, uint8 out. Both directions equal Pillow's on all 2**24 inputs
(``tests/datamodules/test_color.py``), in numpy (H x W x 3, Pillow's layout)
and in torch (``... x 3 x H x W``, any device), which give identical results.
The transform is lossy, as Pillow's is: RGB -> YCbCr -> RGB changes a pixel by
up to 3 levels per channel (mean 1.29 over the RGB cube), and Y of a gray
pixel ``(v, v, v)`` is ``v - 1`` for 22 of the 256 levels.

**The luminance the networks take** (:func:`luminance`): a gray file as it is;
an RGB file whose three channels are equal (Tang's TNO copies, 17 of VIFB's
infrared images) is the gray image it stores (the channel, which is also PIL's
"L" of it); a colour image gives the Y above. Gray test sets (TNO, FLIR test,
NIR) are gray files: their values are those of the files.

**Colour fusion** (:func:`fuse_color`), as SeAFusion, CDDFuse and DenseFuse
(Sec. IV-D) fuse a colour pair: visible RGB -> YCbCr; the method fuses Y with
the infrared image; the fused Y, rounded to 8 bits (``rint(clamp(y, 0, 1) * 255)``,
:func:`datamodules.io.quantize_8bit`), is put back with the visible Cb and Cr;
YCbCr -> RGB, 8-bit. Because the transform floors, the Y that Pillow computes
back from that RGB image is not the fused Y everywhere: on VIFB's 21 pairs
(average fusion) it is equal at 27 % of the pixels, one level lower at 73 %,
further off at 0.1 % (clipped colours). The fused luminance itself is
:attr:`ColorFusion.y`: metrics of "the luminance the method fused" take that.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np
import torch

__all__ = [
    "COLOR_FUSION",
    "ColorFusion",
    "fuse_color",
    "is_color",
    "luminance",
    "merge_luminance",
    "rgb_to_ycbcr",
    "rgb_to_ycbcr_tensor",
    "to_levels",
    "ycbcr_to_rgb",
    "ycbcr_to_rgb_tensor",
]

SCALE = 6  # bits of Pillow's fixed-point tables
#: one line for provenance records and console output: how a colour pair is fused
COLOR_FUSION = ("visible RGB -> YCbCr (BT.601 full range, exactly Pillow's 'YCbCr'); the method fuses Y with the "
                "infrared image; fused Y rounded to 8 bits, put back with the visible Cb, Cr -> RGB (Pillow)")


def _table(coefficient: float, offset: int = 0) -> np.ndarray:
    """``trunc(64 c (v - offset) + 0.5)`` for v = 0..255, int32 (Pillow's tables, C truncation toward zero)."""
    values = np.arange(256, dtype=np.float64) - offset
    return np.trunc(values * coefficient * (1 << SCALE) + 0.5).astype(np.int32)


# forward: rows Y, Cb, Cr; columns the R, G, B tables
_FORWARD = np.stack([
    np.stack([_table(0.299), _table(0.587), _table(0.114)]),
    np.stack([_table(-0.16874), _table(-0.33126), _table(0.5)]),
    np.stack([_table(0.5), _table(-0.41869), _table(-0.08131)]),
])
_R_CR, _G_CB, _G_CR, _B_CB = (_table(c, 128) for c in (1.402, -0.34414, -0.71414, 1.772))
_TORCH_TABLES: dict[torch.device, tuple[torch.Tensor, ...]] = {}


def _check_numpy(image: np.ndarray, name: str) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", type(image).__name__)
        raise ValueError(f"{name} expects a uint8 H x W x 3 array, got {getattr(image, 'dtype', '')} {shape}")


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """RGB to YCbCr exactly as ``PIL.Image.fromarray(rgb).convert("YCbCr")`` (see the module docstring).

    Args:
        rgb: uint8 H x W x 3.

    Returns:
        uint8 H x W x 3, channels Y, Cb, Cr.
    """
    _check_numpy(rgb, "rgb_to_ycbcr")
    r, g, b = (rgb[..., k] for k in range(3))
    out = np.empty_like(rgb)
    for k, offset in enumerate((0, 128, 128)):
        tables = _FORWARD[k]
        out[..., k] = ((tables[0][r] + tables[1][g] + tables[2][b]) >> SCALE) + offset
    return out


def ycbcr_to_rgb(ycbcr: np.ndarray) -> np.ndarray:
    """YCbCr to RGB exactly as ``PIL.Image.fromarray(ycbcr, "YCbCr").convert("RGB")``.

    Args:
        ycbcr: uint8 H x W x 3, channels Y, Cb, Cr.

    Returns:
        uint8 H x W x 3 (R, G, B), clipped to [0, 255].
    """
    _check_numpy(ycbcr, "ycbcr_to_rgb")
    y = ycbcr[..., 0].astype(np.int32)
    cb, cr = ycbcr[..., 1], ycbcr[..., 2]
    out = np.empty_like(ycbcr)
    out[..., 0] = np.clip(y + (_R_CR[cr] >> SCALE), 0, 255)
    out[..., 1] = np.clip(y + ((_G_CB[cb] + _G_CR[cr]) >> SCALE), 0, 255)
    out[..., 2] = np.clip(y + (_B_CB[cb] >> SCALE), 0, 255)
    return out


def _torch_tables(device: torch.device) -> tuple[torch.Tensor, ...]:
    if device not in _TORCH_TABLES:
        _TORCH_TABLES[device] = tuple(torch.from_numpy(t.copy()).to(device) for t in
                                      (_FORWARD.reshape(9, 256), _R_CR, _G_CB, _G_CR, _B_CB))
    return _TORCH_TABLES[device]


def _check_tensor(image: torch.Tensor, name: str) -> None:
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
    _check_tensor(rgb, "rgb_to_ycbcr_tensor")
    forward = _torch_tables(rgb.device)[0]
    channels = [c.long() for c in rgb.unbind(-3)]
    out = []
    for k, offset in enumerate((0, 128, 128)):
        total = forward[3 * k][channels[0]] + forward[3 * k + 1][channels[1]] + forward[3 * k + 2][channels[2]]
        out.append(((total >> SCALE) + offset).to(torch.uint8))
    return torch.stack(out, dim=-3)


def ycbcr_to_rgb_tensor(ycbcr: torch.Tensor) -> torch.Tensor:
    """:func:`ycbcr_to_rgb` in torch, channel-first, on ``ycbcr``'s device; identical values.

    Shape:
        - ycbcr: ``(..., 3, H, W)`` uint8, channels Y, Cb, Cr.
        - output: ``(..., 3, H, W)`` uint8, R, G, B.
    """
    _check_tensor(ycbcr, "ycbcr_to_rgb_tensor")
    _, r_cr, g_cb, g_cr, b_cb = _torch_tables(ycbcr.device)
    y, cb, cr = ycbcr.unbind(-3)
    y, cb, cr = y.to(torch.int32), cb.long(), cr.long()
    r = y + (r_cr[cr] >> SCALE)
    g = y + ((g_cb[cb] + g_cr[cr]) >> SCALE)
    b = y + (b_cb[cb] >> SCALE)
    return torch.stack([c.clamp(0, 255).to(torch.uint8) for c in (r, g, b)], dim=-3)


def is_color(image: np.ndarray) -> bool:
    """``True`` for an H x W x 3 array whose channels differ somewhere; ``False`` for H x W or equal channels."""
    if image.ndim == 2:
        return False
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"is_color expects H x W or H x W x 3, got shape {image.shape}")
    return not (np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2]))


def luminance(image: np.ndarray) -> np.ndarray:
    """The gray image a network fuses, from a file's own channels (``read_image(mode="native")``).

    H x W: returned as it is. H x W x 3 with equal channels: that channel (the
    gray image it stores). Colour H x W x 3: Y of :func:`rgb_to_ycbcr`.

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
    if not is_color(image):
        return image[..., 0].copy()
    return rgb_to_ycbcr(image)[..., 0].copy()


def to_levels(image: torch.Tensor) -> torch.Tensor:
    """A [0, 1] float image to uint8 levels, ``rint(clamp(x, 0, 1) * 255)`` (the project's 8-bit rule);
    uint8 is returned as it is."""
    if image.dtype == torch.uint8:
        return image
    if not image.is_floating_point():
        raise TypeError(f"expected a float image in [0, 1] or uint8, got {image.dtype}")
    if torch.isnan(image).any():
        raise ValueError("the image contains NaN")
    return torch.round(image.clamp(0, 1) * 255).to(torch.uint8)


def _check_color_pair(fused_or_ir: torch.Tensor, vis_rgb: torch.Tensor, name: str) -> None:
    if not isinstance(vis_rgb, torch.Tensor) or vis_rgb.ndim != 4 or vis_rgb.shape[1] != 3:
        raise ValueError(f"vis_rgb must be a tensor N x 3 x H x W, got {tuple(getattr(vis_rgb, 'shape', ()))}")
    if not isinstance(fused_or_ir, torch.Tensor) or fused_or_ir.ndim != 4 or fused_or_ir.shape[1] != 1:
        raise ValueError(f"{name} must be a tensor N x 1 x H x W, got {tuple(getattr(fused_or_ir, 'shape', ()))}")
    if fused_or_ir.shape[0] != vis_rgb.shape[0] or fused_or_ir.shape[-2:] != vis_rgb.shape[-2:]:
        raise ValueError(f"{name} {tuple(fused_or_ir.shape)} and vis_rgb {tuple(vis_rgb.shape)} differ in N, H or W")


def merge_luminance(fused_y: torch.Tensor, vis_rgb: torch.Tensor) -> torch.Tensor:
    """Put a fused luminance back with the visible image's Cb and Cr: the RGB fused image.

    Args:
        fused_y: N x 1 x H x W, float in [0, 1] (rounded to 8 bits here) or uint8.
        vis_rgb: N x 3 x H x W, float in [0, 1] on the 8-bit grid (k / 255) or uint8.

    Returns:
        N x 3 x H x W float32 on the 8-bit grid (k / 255), on ``fused_y``'s device.
    """
    _check_color_pair(fused_y, vis_rgb, "fused_y")
    ycbcr = rgb_to_ycbcr_tensor(to_levels(vis_rgb).to(fused_y.device))
    ycbcr = torch.cat([to_levels(fused_y), ycbcr[:, 1:]], dim=1)
    return ycbcr_to_rgb_tensor(ycbcr).to(torch.float32) / 255


class ColorFusion(NamedTuple):
    """What :func:`fuse_color` returns.

    Attributes:
        rgb: the fused colour image, N x 3 x H x W float32 on the 8-bit grid (k / 255).
        y: the fused luminance that was put back, N x 1 x H x W float32 on the 8-bit grid.
        vis_y: the visible luminance the method fused, N x 1 x H x W float32 (k / 255).
    """

    rgb: torch.Tensor
    y: torch.Tensor
    vis_y: torch.Tensor


def fuse_color(fuse: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], ir: torch.Tensor,
               vis_rgb: torch.Tensor) -> ColorFusion:
    """Fuse an infrared image with a colour visible image the way the field does (module docstring).

    Args:
        fuse: the method's gray fusion, ``(ir, vis) -> fused``, N x 1 x H x W float in [0, 1]
            each (``model.fuse``, or ``model.fuse_large`` for images too large for memory).
        ir: N x 1 x H x W float in [0, 1].
        vis_rgb: N x 3 x H x W, float in [0, 1] on the 8-bit grid (k / 255) or uint8.

    Returns:
        :class:`ColorFusion` (``rgb``, the fused ``y`` put back, the ``vis_y`` that was fused).
    """
    _check_color_pair(ir, vis_rgb, "ir")
    ycbcr = rgb_to_ycbcr_tensor(to_levels(vis_rgb).to(ir.device))
    vis_y = ycbcr[:, :1].to(ir.dtype) / 255
    fused = fuse(ir, vis_y)
    fused_levels = to_levels(fused)
    rgb = ycbcr_to_rgb_tensor(torch.cat([fused_levels, ycbcr[:, 1:]], dim=1))
    return ColorFusion(rgb.to(torch.float32) / 255, fused_levels.to(torch.float32) / 255, vis_y)
