"""Image and file I/O shared by the whole project.

One place for each cross-cutting file operation:

* :func:`read_image` reads an image file as 8-bit gray (or RGB) with errors that
  name the file and the problem;
* :func:`to_uint8` / :func:`quantize_8bit` state the one rounding rule used to
  turn a [0, 1] image into 8-bit gray levels (``rint(clamp(y, 0, 1) * 255)``,
  round half to even, as ``numpy.rint`` and ``skimage.io.imsave`` do);
* :func:`save_png` writes a fused image as an 8-bit PNG with that rule;
* :func:`atomic_write` makes every result file appear whole or not at all.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import UserError

if TYPE_CHECKING:  # torch is imported where a tensor is made: reading and writing files needs none
    import torch
__all__ = [
    "ImageReadError",
    "atomic_write",
    "gray_from_rgb",
    "quantize_8bit",
    "read_image",
    "save_png",
    "to_tensor",
    "to_uint8",
]


class ImageReadError(UserError):
    """An image file that cannot be used, with the file and the reason in the message."""


def gray_from_rgb(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma exactly as PIL's ``convert("L")``.

    ``L = (19595 R + 38470 G + 7471 B + 2**15) >> 16`` in integer arithmetic,
    i.e. 0.299 R + 0.587 G + 0.114 B rounded half up.

    Args:
        rgb: uint8 array H x W x 3.

    Returns:
        uint8 array H x W.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"gray_from_rgb expects a uint8 H x W x 3 array, got {rgb.dtype} {rgb.shape}")
    r, g, b = (rgb[..., i].astype(np.uint32) for i in range(3))
    return ((19595 * r + 38470 * g + 7471 * b + (1 << 15)) >> 16).astype(np.uint8)


def read_image(path: str | os.PathLike, *, mode: str = "gray") -> np.ndarray:
    """Read an image file as uint8.

    Args:
        path: an image file PIL can decode (bmp, jpg, png, tif, ...).
        mode: ``"gray"`` converts RGB to gray with PIL's "L" rule
            (:func:`gray_from_rgb`); ``"gray_strict"`` refuses an RGB image
            whose channels differ (an RGB image where gray was expected);
            ``"rgb"`` returns H x W x 3 (gray files replicated);
            ``"native"`` keeps the file's own channels as MATLAB's ``imread``
            does: H x W for a gray file, H x W x 3 for a colour one (even when
            its three channels are equal).

    Returns:
        uint8 array H x W (gray modes, or a gray file in ``"native"``) or
        H x W x 3 (``"rgb"``, or a colour file in ``"native"``). An alpha
        channel (RGBA, LA, a palette with transparency) is dropped with a
        warning naming the file.

    Raises:
        ImageReadError: missing, empty, truncated, corrupt or non-image file,
            unsupported bit depth, or colour where ``gray_strict`` was asked;
            the message names the file.
    """
    path = Path(path)
    if mode not in ("gray", "gray_strict", "rgb", "native"):
        raise ValueError(f"mode must be 'gray', 'gray_strict', 'rgb' or 'native', got {mode!r}")
    if not path.is_file():
        raise ImageReadError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: empty file (0 bytes)")
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                raise ImageReadError(f"{path}: {img.mode} images (16-bit or float) are not supported; expected 8-bit")
            if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
                kept = "gray" if img.mode in ("LA", "La") else "RGB"
                warnings.warn(f"{path}: alpha channel dropped ({img.mode} image with transparency read as {kept}; "
                              "the colour values are kept as stored, not composited)", stacklevel=2)
            if img.mode in ("L", "1", "LA"):
                arr = np.asarray(img.convert("L"), dtype=np.uint8)
                return np.repeat(arr[..., None], 3, axis=2) if mode == "rgb" else arr.copy()
            rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not an image file PIL can decode") from None
    except (OSError, SyntaxError, ValueError) as err:  # truncated / corrupt data
        raise ImageReadError(f"{path}: corrupt or truncated image ({err})") from None
    if mode in ("rgb", "native"):
        return rgb.copy()
    if mode == "gray_strict" and not (
        np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2])
    ):
        raise ImageReadError(f"{path}: an RGB image where a gray image was expected")
    return gray_from_rgb(rgb)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 H x W array to a float32 1 x H x W tensor in [0, 1] (``x / 255``)."""
    if image.dtype != np.uint8 or image.ndim != 2:
        raise ValueError(f"to_tensor expects a uint8 H x W array, got {image.dtype} {image.shape}")
    import torch

    return torch.from_numpy(image.astype(np.float32) / 255.0).unsqueeze(0)


def quantize_8bit(image: torch.Tensor) -> torch.Tensor:
    """Round a [0, 1] image to the 8-bit grid, keeping dtype and device.

    ``rint(clamp(y, 0, 1) * 255) / 255`` (round half to even): the values a
    fused image has once written by :func:`save_png` and read back.
    """
    import torch

    return torch.round(image.clamp(0, 1) * 255) / 255


def to_uint8(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """A [0, 1] image (H x W, 1 x H x W or 1 x 1 x H x W) to uint8 H x W.

    Rule: ``uint8(rint(clamp(y, 0, 1) * 255))``, round half to even. NaN is refused.
    """
    if not isinstance(image, np.ndarray) and type(image).__module__.startswith("torch"):  # a tensor: torch is loaded
        import torch

        image = image.detach().to("cpu", torch.float64).numpy()
    image = np.asarray(image, dtype=np.float64)
    image = image.reshape(image.shape[-2:]) if image.ndim > 2 and np.prod(image.shape[:-2]) == 1 else image
    if image.ndim != 2:
        raise ValueError(f"to_uint8 expects one gray image, got shape {image.shape}")
    if np.isnan(image).any():
        raise ValueError("to_uint8: the image contains NaN")
    return np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **open_kwargs) -> Iterator:
    """Open ``path`` for writing so that it appears whole or not at all.

    Writes to a temporary file in the same folder, fsyncs it and renames it over
    ``path`` when the block ends without error; on error the temporary file is
    removed and ``path`` is left as it was.

    Example:
        >>> with atomic_write("results.csv") as f:  # doctest: +SKIP
        ...     f.write("a,b\\n")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save_png(path: str | os.PathLike, image: torch.Tensor | np.ndarray) -> Path:
    """Write a fused image as an 8-bit PNG, gray or RGB, atomically.

    The one function every method and the runner use. Float values in [0, 1]
    are rounded by :func:`to_uint8`'s rule (``rint(clamp(y, 0, 1) * 255)``);
    uint8 values are written as they are.

    Args:
        path: target file (``.png``); parent folders are created.
        image: gray H x W, 1 x H x W or 1 x 1 x H x W; or colour (channels
            first, as the networks' tensors) 3 x H x W or 1 x 3 x H x W
            (:func:`datamodules.color.fuse_color`'s ``rgb``), written as an RGB PNG.

    Returns:
        The path written.
    """
    path = Path(path)
    if not isinstance(image, np.ndarray) and type(image).__module__.startswith("torch"):  # a tensor: torch is loaded
        import torch

        image = image.detach().cpu()
        image = image.numpy() if image.dtype == torch.uint8 else image.to(torch.float64).numpy()
    image = np.asarray(image)
    if image.ndim >= 3 and image.shape[-3] == 3 and int(np.prod(image.shape[:-3])) == 1:
        channels = image.reshape(image.shape[-3:])
        pixels = np.stack([_levels(c) for c in channels], axis=-1)
        mode = "RGB"
    else:
        pixels, mode = _levels(image), "L"
    with atomic_write(path, "wb") as handle:
        Image.fromarray(pixels, mode=mode).save(handle, format="PNG")
    return path


def _levels(image: np.ndarray) -> np.ndarray:
    """One gray image, uint8 as it is or float in [0, 1] by :func:`to_uint8`, as uint8 H x W."""
    if image.dtype == np.uint8:
        image = image.reshape(image.shape[-2:]) if image.ndim > 2 and np.prod(image.shape[:-2]) == 1 else image
        if image.ndim != 2:
            raise ValueError(f"save_png expects one gray or RGB image, got shape {image.shape}")
        return image
    return to_uint8(image)
