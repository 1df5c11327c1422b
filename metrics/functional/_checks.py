"""Input checks and scaling shared by every functional metric."""

from __future__ import annotations

import contextlib
import contextvars
from typing import Iterator

import torch

__all__ = ["check_image", "check_inputs", "compute_dtype", "compute_precision", "to_255"]


_PRECISION: contextvars.ContextVar[torch.dtype | None] = contextvars.ContextVar("ivif_bench_precision", default=None)


def compute_dtype(device: torch.device) -> torch.dtype:
    """float64 on CPU (exact), float32 on accelerators (documented tolerance); see :func:`compute_precision`."""
    override = _PRECISION.get()
    if override is not None:
        return override
    return torch.float64 if device.type == "cpu" else torch.float32


@contextlib.contextmanager
def compute_precision(dtype: torch.dtype) -> Iterator[None]:
    """Compute in ``dtype`` wherever the tensors are: ``torch.float32`` on CPU runs the accelerators' arithmetic
    (the batched GPU path), so that it can be tested without a GPU."""
    token = _PRECISION.set(dtype)
    try:
        yield
    finally:
        _PRECISION.reset(token)


def check_image(name: str, image: torch.Tensor) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``image`` is a finite N x 1 x H x W float tensor in [0, 1]."""
    if not isinstance(image, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(image).__name__}")
    if image.ndim != 4:
        raise ValueError(f"{name} must be 4-D N x 1 x H x W, got shape {tuple(image.shape)}")
    if image.shape[1] != 1:
        raise ValueError(f"{name} must be gray (1 channel), got {image.shape[1]} channels")
    if not image.is_floating_point():
        raise ValueError(f"{name} must be a float tensor in [0, 1], got {image.dtype}")
    if torch.isnan(image).any():
        raise ValueError(f"{name} contains NaN")
    if image.numel() and (image.min() < 0 or image.max() > 1):
        raise ValueError(
            f"{name} has values outside [0, 1] (min {image.min().item():.4g}, max {image.max().item():.4g})"
        )


def check_inputs(fused: torch.Tensor, ir: torch.Tensor | None = None, vis: torch.Tensor | None = None) -> None:
    """Check ``fused`` (and the sources, when given) and that their shapes agree.

    Inside an evaluation's ``shared_work()`` block the same images are checked once, not once per metric.
    """
    from ._shared import shared

    shared("checks", lambda: _check_inputs(fused, ir, vis),
           tuple(t for t in (fused, ir, vis) if isinstance(t, torch.Tensor)), sources=(ir is None, vis is None))


def _check_inputs(fused: torch.Tensor, ir: torch.Tensor | None, vis: torch.Tensor | None) -> bool:
    check_image("fused", fused)
    for name, image in (("ir", ir), ("vis", vis)):
        if image is None:
            continue
        check_image(name, image)
        if image.shape != fused.shape:
            raise ValueError(f"{name} has shape {tuple(image.shape)} but fused has {tuple(fused.shape)}")
    return True


def to_255(image: torch.Tensor) -> torch.Tensor:
    """[0, 1] image to the 0-255 scale in the compute dtype (float64 on CPU); computed once per image inside an
    evaluation's ``shared_work()``."""
    from ._shared import shared

    dtype = compute_dtype(image.device)
    return shared("to_255", lambda: image.to(dtype) * 255.0, (image,), dtype=str(dtype))
