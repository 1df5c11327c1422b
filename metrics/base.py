"""The torchmetrics base class every fusion metric derives from."""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Callable, ClassVar, Sequence

import torch
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

from .color import DEFAULT_RULE, conversion_notice

__all__ = ["FusionMetric", "on_8bit_levels"]


def on_8bit_levels(image: torch.Tensor, exact: bool = False) -> torch.Tensor:
    """``image`` (values in [0, 1]) snapped to the 8-bit levels k / 255, in the dtype the metrics compute in.

    On CPU the result is float64 and equals ``uint8 / 255`` computed in float64,
    bit for bit: what ``ivif-bench evaluate`` reads from a PNG. (A float32 k / 255
    cast to float64 is not k / 255; rounding ``image * 255`` to the level k first
    makes it so.) Elsewhere (GPU) float32, or float64 if given float64 or ``exact``.
    """
    wide = exact or image.device.type == "cpu" or image.dtype == torch.float64
    return torch.round(image.to(torch.float64 if wide else torch.float32) * 255) / 255


class FusionMetric(Metric):
    """A no-reference fusion metric: one value per fused image, averaged by ``compute()``.

    Subclasses set ``functional`` (the functional twin, ``fn(fused, ir, vis, **options)
    -> Tensor[N]`` on gray images), ``higher_is_better`` and the value bounds; they never
    re-implement the maths. Per-image values are a ``cat`` list state, so under DDP every
    process ends with all values (``dist_reduce_fx="cat"``) and the mean is that of one pass.

    Colour inputs follow the convention's colour rule (:mod:`metrics.color`):
    :func:`metrics.get_metric` passes the registered rule; a class built directly uses
    :data:`metrics.color.DEFAULT_RULE` (or its own ``color_rule``). Gray inputs reach
    ``functional`` untouched. The first batch a rule converts to gray says so (a
    ``UserWarning``, once per metric object).

    Args:
        color_rule: the colour rule (a key of :data:`metrics.color.RULES`); ``None``: the class's.
        convention, metric_name: names used in messages (set by :func:`metrics.get_metric`).
        **kwargs: options forwarded to the functional, plus the usual ``torchmetrics.Metric``
            keyword arguments.

    Inputs to ``update``:
        fused, ir, vis: float tensors N x C x H x W in [0, 1] on the 8-bit grid (k / 255), C = 1
        (gray) or 3 (RGB) for each input independently; each is snapped to the levels first
        (:func:`on_8bit_levels`: float64 on CPU).

    Example:
        >>> import torch
        >>> from metrics import get_metric
        >>> metric = get_metric("EN")
        >>> metric.update(torch.rand(2, 1, 32, 32), torch.rand(2, 1, 32, 32), torch.rand(2, 1, 32, 32))
        >>> metric.per_image().shape
        torch.Size([2])
    """

    functional: ClassVar[Callable[..., torch.Tensor]]
    full_state_update: ClassVar[bool] = False
    is_differentiable: ClassVar[bool] = False
    higher_is_better: ClassVar[bool] = True
    color_rule: str = DEFAULT_RULE  # the instance's rule (set from the registry by get_metric)

    _METRIC_KWARGS = ("compute_on_cpu", "dist_sync_on_step", "process_group", "dist_sync_fn",
                      "distributed_available_fn", "sync_on_compute", "compute_with_cache")

    def __init__(self, color_rule: str | None = None, convention: str = "default", metric_name: str | None = None,
                 **kwargs: Any) -> None:
        metric_kwargs = {key: kwargs.pop(key) for key in list(kwargs) if key in self._METRIC_KWARGS}
        super().__init__(**metric_kwargs)
        self.options = kwargs
        self.color_rule = color_rule or type(self).color_rule
        self.convention = convention
        self.metric_name = metric_name or type(self).__name__
        self._noticed = False
        self._seen = 0  # images updated so far (names an image in a warning when no id is given)
        self.add_state("values", default=[], dist_reduce_fx="cat")

    def update(self, fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor,
               image_ids: Sequence[str] | None = None) -> None:
        """Add the values of a batch of N fused images (in float64 wherever the metric has no float32 tolerance,
        :func:`metrics.engine.float64_only`).

        An image the metric is degenerate for (a constant image, one smaller than the window, ...)
        gives one :class:`~metrics.degenerate.DegenerateInputWarning` naming it (``image_ids[i]``, else
        its index among the images this metric has seen and its size) and the metric, whatever the
        number of channels (:func:`metrics.degenerate.guarded`).
        """
        from .degenerate import guarded, warn_degenerate
        from .engine import float32_tolerance
        from .functional._checks import compute_precision

        exact = float32_tolerance(self.metric_name, self.convention) is None
        fused, ir, vis = (on_8bit_levels(image, exact) for image in (fused, ir, vis))
        if not self._noticed:
            notice = conversion_notice(self.color_rule, self.convention, fused, ir, vis)
            if notice is not None:
                warnings.warn(notice, UserWarning, stacklevel=2)
                self._noticed = True
        name = f"{self.metric_name} ({self.convention})"
        with compute_precision(torch.float64) if exact else contextlib.nullcontext():
            values, reasons = guarded(type(self).functional, self.color_rule, fused, ir, vis, name=name,
                                      **self.options)
        height, width = fused.shape[-2:]
        for i, why in enumerate(reasons):
            where = (str(image_ids[i]) if image_ids is not None and i < len(image_ids)
                     else f"image {self._seen + i} ({height} x {width})")
            warn_degenerate(where, name, why, stacklevel=2)
        self._seen += len(reasons)
        self.values.append(values.detach().flatten())

    def per_image(self) -> torch.Tensor:
        """All per-image values seen so far, in update order (after sync under DDP)."""
        if isinstance(self.values, list) and not self.values:
            return torch.empty(0, dtype=torch.float64, device=self.device)
        return dim_zero_cat(self.values)

    def compute(self) -> torch.Tensor:
        """Mean over every image seen (NaN values, reported with a warning by the functional, propagate)."""
        return self.per_image().mean()
