"""Pure tensor transforms used by the DataModules and the methods.

Every function takes and returns tensors of the shape stated in its ``Shape:``
section; images are float in [0, 1] unless said otherwise, and ``...`` stands
for any leading dimensions (``C``, ``N x C``). Functions that crop several
images (IR and VIS of a pair) always apply one window to all of them.

Randomness only comes from an explicit ``torch.Generator`` argument, so a
caller that seeds it gets the same result on every run.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

__all__ = [
    "center_crop",
    "center_crop_window",
    "crop",
    "crop_to",
    "extract_patches",
    "gaussian_blur",
    "gaussian_noise",
    "pad_to_multiple",
    "patch_count",
    "patch_positions",
    "random_crop",
    "random_crop_window",
    "resize",
    "rgb_to_gray",
    "to_signed",
    "to_unsigned",
]


def _size2(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    height, width = (int(s) for s in size)
    return height, width


def _check_image(image: torch.Tensor, name: str = "image", min_dim: int = 2) -> None:
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(image).__name__}")
    if image.ndim < min_dim:
        raise ValueError(f"{name} must have at least {min_dim} dimensions (... x H x W), got shape {tuple(image.shape)}")


def rgb_to_gray(image: torch.Tensor) -> torch.Tensor:
    """RGB to gray with PIL's "L" rule (ITU-R 601 luma).

    uint8 input: ``L = (19595 R + 38470 G + 7471 B + 2**15) >> 16`` in integer
    arithmetic, bit-exact with ``PIL.Image.convert("L")``. Float input:
    ``0.299 R + 0.587 G + 0.114 B`` (no rounding).

    Shape:
        - image: ``(..., 3, H, W)``, uint8 or float in [0, 1].
        - output: ``(..., 1, H, W)``, same dtype.
    """
    _check_image(image, min_dim=3)
    if image.shape[-3] != 3:
        raise ValueError(f"rgb_to_gray expects 3 channels at dim -3, got shape {tuple(image.shape)}")
    r, g, b = image.unbind(-3)
    if image.dtype == torch.uint8:
        r, g, b = (c.to(torch.int64) for c in (r, g, b))
        gray = (19595 * r + 38470 * g + 7471 * b + (1 << 15)) >> 16
        return gray.to(torch.uint8).unsqueeze(-3)
    if not image.is_floating_point():
        raise TypeError(f"rgb_to_gray expects uint8 or float, got {image.dtype}")
    return (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(-3)


def crop(image: torch.Tensor, top: int, left: int, height: int, width: int) -> torch.Tensor:
    """The window ``[top : top + height, left : left + width]`` of the last two dims.

    Shape:
        - image: ``(..., H, W)``.
        - output: ``(..., height, width)``.
    """
    _check_image(image)
    img_h, img_w = image.shape[-2:]
    if top < 0 or left < 0 or top + height > img_h or left + width > img_w:
        raise ValueError(f"crop window top={top} left={left} {height}x{width} (H x W) lies outside "
                         f"an image of {img_h}x{img_w}")
    return image[..., top:top + height, left:left + width]


def _check_fits(image_size: tuple[int, int], size: tuple[int, int], what: str) -> None:
    if size[0] > image_size[0] or size[1] > image_size[1] or min(size) < 1:
        raise ValueError(f"{what} of {size[0]}x{size[1]} (H x W) does not fit an image of "
                         f"{image_size[0]}x{image_size[1]}")


def center_crop_window(height: int, width: int, size: int | Sequence[int]) -> tuple[int, int]:
    """(top, left) of torchvision's ``CenterCrop``: ``top = int(round((H - h) / 2.0))``, left alike.

    Python's ``round`` rounds half to even, as torchvision does.
    """
    crop_h, crop_w = _size2(size)
    _check_fits((height, width), (crop_h, crop_w), "center crop")
    return int(round((height - crop_h) / 2.0)), int(round((width - crop_w) / 2.0))


def center_crop(image: torch.Tensor, size: int | Sequence[int]) -> torch.Tensor:
    """Centre crop as torchvision's ``CenterCrop`` (the DIDFuse training protocol).

    Args:
        image: image(s) to crop; an image smaller than ``size`` is an error.
        size: ``s`` or ``(h, w)`` in pixels.

    Shape:
        - image: ``(..., H, W)``.
        - output: ``(..., h, w)``.
    """
    _check_image(image)
    crop_h, crop_w = _size2(size)
    top, left = center_crop_window(*image.shape[-2:], (crop_h, crop_w))
    return crop(image, top, left, crop_h, crop_w)


def random_crop_window(height: int, width: int, size: int | Sequence[int],
                       generator: torch.Generator | None = None) -> tuple[int, int]:
    """A uniformly drawn (top, left) for a ``size`` window inside an ``height x width`` image."""
    crop_h, crop_w = _size2(size)
    _check_fits((height, width), (crop_h, crop_w), "random crop")
    top = int(torch.randint(0, height - crop_h + 1, (1,), generator=generator))
    left = int(torch.randint(0, width - crop_w + 1, (1,), generator=generator))
    return top, left


def random_crop(*images: torch.Tensor, size: int | Sequence[int],
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
    """One random window, the same for every image given (IR and VIS of a pair).

    Args:
        images: images of one size.
        size: ``s`` or ``(h, w)``.
        generator: the source of randomness (seed it for reproducible crops).

    Shape:
        - images: ``(..., H, W)`` each.
        - output: a tuple of ``(..., h, w)``.
    """
    if not images:
        raise ValueError("random_crop needs at least one image")
    for i, image in enumerate(images):
        _check_image(image, f"images[{i}]")
        if image.shape[-2:] != images[0].shape[-2:]:
            raise ValueError(f"random_crop: images differ in size: {tuple(images[0].shape[-2:])} "
                             f"vs {tuple(image.shape[-2:])}")
    crop_h, crop_w = _size2(size)
    top, left = random_crop_window(*images[0].shape[-2:], (crop_h, crop_w), generator)
    return tuple(crop(image, top, left, crop_h, crop_w) for image in images)


def patch_count(height: int, width: int, size: int, stride: int) -> int:
    """Number of ``size x size`` windows at ``stride``: ``(floor((H-s)/t)+1) * (floor((W-s)/t)+1)``, 0 if too small."""
    if size < 1 or stride < 1:
        raise ValueError(f"patch size and stride must be >= 1, got size={size} stride={stride}")
    if height < size or width < size:
        return 0
    return ((height - size) // stride + 1) * ((width - size) // stride + 1)


def patch_positions(height: int, width: int, size: int, stride: int) -> list[tuple[int, int]]:
    """(top, left) of every ``size x size`` window at ``stride``, row by row.

    Windows start at 0, ``stride``, ``2 stride``, ...; the last rows / columns
    that a full window would not cover are left out (no padding).
    """
    if patch_count(height, width, size, stride) == 0:
        return []
    return [(top, left) for top in range(0, height - size + 1, stride) for left in range(0, width - size + 1, stride)]


def extract_patches(image: torch.Tensor, size: int, stride: int) -> torch.Tensor:
    """Every ``size x size`` window at ``stride`` (see :func:`patch_positions` for the order).

    Shape:
        - image: ``(C, H, W)``.
        - output: ``(P, C, size, size)`` with ``P = patch_count(H, W, size, stride)``.
    """
    _check_image(image, min_dim=3)
    if image.ndim != 3:
        raise ValueError(f"extract_patches expects C x H x W, got shape {tuple(image.shape)}")
    channels, height, width = image.shape
    if patch_count(height, width, size, stride) == 0:
        return image.new_empty((0, channels, size, size))
    patches = image.unfold(1, size, stride).unfold(2, size, stride)  # C x nH x nW x s x s
    return patches.permute(1, 2, 0, 3, 4).reshape(-1, channels, size, size)


def to_signed(image: torch.Tensor) -> torch.Tensor:
    """[0, 1] to [-1, 1]: ``2 x - 1`` (the papers' "to11")."""
    return image * 2 - 1


def to_unsigned(image: torch.Tensor) -> torch.Tensor:
    """[-1, 1] to [0, 1]: ``(x + 1) / 2``; the exact inverse of :func:`to_signed` up to float rounding."""
    return (image + 1) / 2


def resize(image: torch.Tensor, size: int | Sequence[int], interpolation: str = "bilinear") -> torch.Tensor:
    """Resize to ``size`` ignoring the aspect ratio.

    ``"bilinear"``: ``F.interpolate(align_corners=False, antialias=True)``
    (antialiased when shrinking, like PIL); ``"nearest"``: nearest neighbour.

    Shape:
        - image: ``(C, H, W)`` or ``(N, C, H, W)``, float.
        - output: ``(C, h, w)`` or ``(N, C, h, w)``.
    """
    _check_image(image, min_dim=3)
    if interpolation not in ("bilinear", "nearest"):
        raise ValueError(f"interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
    batched = image.unsqueeze(0) if image.ndim == 3 else image
    if interpolation == "bilinear":
        out = F.interpolate(batched, size=_size2(size), mode="bilinear", align_corners=False, antialias=True)
    else:
        out = F.interpolate(batched, size=_size2(size), mode="nearest")
    return out[0] if image.ndim == 3 else out


def _gaussian_kernel1d(sigma: float, radius: int, like: torch.Tensor) -> torch.Tensor:
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    return (kernel / kernel.sum()).to(device=like.device, dtype=like.dtype)


def gaussian_blur(image: torch.Tensor, sigma: float, radius: int | None = None) -> torch.Tensor:
    """Separable Gaussian blur with reflect padding (``d c b | a b c d``).

    Args:
        image: float image(s).
        sigma: standard deviation in pixels (> 0).
        radius: kernel half-width; the kernel is ``2 radius + 1`` taps.
            Default ``ceil(3 sigma)`` (at least 1).

    Shape:
        - image: ``(C, H, W)`` or ``(N, C, H, W)``.
        - output: same.
    """
    _check_image(image, min_dim=3)
    if not sigma > 0:
        raise ValueError(f"gaussian_blur: sigma must be > 0, got {sigma}")
    radius = max(1, math.ceil(3 * sigma)) if radius is None else int(radius)
    height, width = image.shape[-2:]
    if radius >= min(height, width):
        raise ValueError(f"gaussian_blur: radius {radius} needs an image larger than {height}x{width}")
    batched = image.unsqueeze(0) if image.ndim == 3 else image
    n, c = batched.shape[:2]
    flat = batched.reshape(n * c, 1, height, width)
    kernel = _gaussian_kernel1d(float(sigma), radius, flat)
    flat = F.pad(flat, (radius, radius, radius, radius), mode="reflect")
    flat = F.conv2d(flat, kernel.view(1, 1, 1, -1))
    flat = F.conv2d(flat, kernel.view(1, 1, -1, 1))
    out = flat.reshape(n, c, height, width)
    return out[0] if image.ndim == 3 else out


def gaussian_noise(image: torch.Tensor, sigma: float, generator: torch.Generator | None = None,
                   clip: bool = True) -> torch.Tensor:
    """Add zero-mean Gaussian noise of ``sigma`` gray levels (of 255), then clip to [0, 1].

    Args:
        image: float image(s) in [0, 1].
        sigma: standard deviation in 8-bit gray levels (1.0 = 1/255).
        generator: source of randomness, on ``image``'s device (seed it for reproducible noise).
        clip: clamp the result to [0, 1].

    Shape:
        - image: ``(..., H, W)``.
        - output: same.
    """
    _check_image(image)
    if sigma < 0:
        raise ValueError(f"gaussian_noise: sigma must be >= 0, got {sigma}")
    noise = torch.randn(image.shape, generator=generator, device=image.device, dtype=image.dtype)
    out = image + noise * (sigma / 255.0)
    return out.clamp(0, 1) if clip else out


def pad_to_multiple(image: torch.Tensor, multiple: int, mode: str = "constant") -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad bottom and right so that H and W become multiples of ``multiple``.

    Args:
        image: image(s) to pad.
        multiple: e.g. 32 for a network with five 2x poolings.
        mode: ``"constant"`` (zeros), ``"reflect"`` or ``"replicate"``.

    Returns:
        (padded, (H, W)); ``crop_to(padded, (H, W))`` gives ``image`` back exactly.

    Shape:
        - image: ``(C, H, W)`` or ``(N, C, H, W)``.
        - padded: ``(..., H', W')`` with ``H' = ceil(H / multiple) * multiple``.
    """
    _check_image(image, min_dim=3)
    if multiple < 1:
        raise ValueError(f"pad_to_multiple: multiple must be >= 1, got {multiple}")
    height, width = image.shape[-2:]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if pad_h == 0 and pad_w == 0:
        return image, (height, width)
    batched = image.unsqueeze(0) if image.ndim == 3 else image
    padded = F.pad(batched, (0, pad_w, 0, pad_h), mode=mode)
    return (padded[0] if image.ndim == 3 else padded), (height, width)


def crop_to(image: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Keep the top-left ``size = (H, W)``: the inverse of :func:`pad_to_multiple`.

    Shape:
        - image: ``(..., H', W')`` with ``H' >= H``, ``W' >= W``.
        - output: ``(..., H, W)``.
    """
    height, width = _size2(size)
    return crop(image, 0, 0, height, width)
