"""Degenerate inputs: a metric that is undefined (or measures nothing) on an image says so, once per image.

A constant, all-black or all-white image, constant sources, an image smaller than a
metric's window: on such inputs a metric either returns the value its reference code
returns (a stated value, documented in ``docs/conventions.md``, "Degenerate inputs") or
NaN, and in both cases where the value does not measure fusion it warns. The functionals
give their reasons as ``RuntimeWarning``s, per batch. :func:`guarded` runs one metric on a
batch and turns them into reasons **per image**, so that every evaluation path (the
``FusionMetric`` classes of ``ivif-bench run``, the engine of ``ivif-bench evaluate``,
:func:`metrics.evaluate.evaluate_tensors`) gives exactly one
:class:`DegenerateInputWarning` per (image, metric), naming both, whatever the number of
channels or of batch elements; a non-finite value no functional explained still gets one
(never a silent NaN).

Example:
    >>> import torch, warnings
    >>> from metrics.degenerate import guarded, warn_degenerate
    >>> from metrics.registry import get_metric_info
    >>> info = get_metric_info("CC")
    >>> flat = torch.full((1, 1, 8, 8), 0.5, dtype=torch.float64)
    >>> values, reasons = guarded(info.functional, info.color_rule, flat, flat, flat, name="CC")
    >>> values.isnan().all().item(), len(reasons[0])
    (True, 1)
"""

from __future__ import annotations

import math
import warnings
from typing import Callable, Sequence

import torch

__all__ = ["DegenerateInputWarning", "degenerate_message", "guarded", "warn_degenerate"]


class DegenerateInputWarning(RuntimeWarning, UserWarning):
    """A metric is undefined on an image (NaN), or returns a stated value that measures no fusion.

    One per (image, metric); the message names both and gives the reason. A ``RuntimeWarning``,
    as the functionals' own warnings are (and a ``UserWarning``, as VIFP's always was).
    """


def _reasons(caught) -> tuple[list[str], list]:
    """Split recorded warnings into the functional's reasons (RuntimeWarning texts, in order, once each)
    and the other warnings (re-emitted as they are)."""
    reasons, others = [], []
    for warning in caught:
        if issubclass(warning.category, RuntimeWarning):
            text = str(warning.message)
            if text not in reasons:
                reasons.append(text)
        else:
            others.append(warning)
    return reasons, others


def _run(fn: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, list[str], list]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = fn()
    reasons, others = _reasons(caught)
    return values, reasons, others


def guarded(functional: Callable, rule: str, fused: torch.Tensor, ir: torch.Tensor | None,
            vis: torch.Tensor | None, *, name: str, **options) -> tuple[torch.Tensor, list[list[str]]]:
    """One metric on a batch (:func:`metrics.color.apply_color_rule`), with its degeneracy reasons per image.

    The functional's ``RuntimeWarning``s are recorded, not shown. With one image they are that
    image's reasons; with several, and some warning, each image is computed again alone to find
    which images the warnings were about (only then: a batch without warnings costs nothing more;
    the batch's values are returned). A value that is not finite and has no reason gets one. Other
    warnings (e.g. a colour conversion notice) are re-emitted unchanged.

    Returns:
        ``(values, reasons)``: N values, and per image the list of reasons (empty: nothing to say).
    """
    from .color import apply_color_rule

    def call(f, a, b):
        return apply_color_rule(functional, rule, f, a, b, name=name, **options)

    values, reasons, others = _run(lambda: call(fused, ir, vis))
    for warning in others:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    n = values.shape[0] if values.ndim else 1
    flat = values.detach().reshape(-1)
    if n == 1:
        per_image = [reasons]
    elif not reasons:
        per_image = [[] for _ in range(n)]
    else:
        per_image = []
        for i in range(n):
            one = tuple(None if x is None else x[i:i + 1] for x in (fused, ir, vis))
            _, mine, _ = _run(lambda: call(*one))
            per_image.append(mine)
    for i in range(n):
        value = flat[i].item()
        if not math.isfinite(value) and not per_image[i]:
            per_image[i] = [f"{name}: the value is {value} (undefined on this image)"]
    return values, per_image


def degenerate_message(where: str, name: str, reasons: Sequence[str]) -> str:
    """The one message for an (image, metric): ``"<where>: <name>: <reason>; <reason>"``."""
    return f"{where}: {name}: " + "; ".join(reasons)


def warn_degenerate(where: str, name: str, reasons: Sequence[str], stacklevel: int = 2) -> None:
    """Emit the :class:`DegenerateInputWarning` of one (image, metric) (nothing when ``reasons`` is empty)."""
    if reasons:
        warnings.warn(degenerate_message(where, name, reasons), DegenerateInputWarning, stacklevel=stacklevel + 1)
