"""The contract every fusion method follows.

A method is a :class:`FusionModule` (a ``LightningModule``) that implements
:meth:`FusionModule.fuse`: IR and VIS in, one fused image out, all float tensors
N x 1 x H x W in [0, 1], for any H and W the data has (a network that needs a
multiple of some size pads and crops back itself, see :func:`fuse_padded`).

The base class gives every method the same ``test_step`` / ``predict_step``:
fuse, round to 8 bits (every metric is computed from the 8-bit values a PNG
holds) and feed one ``MetricCollection`` per test set. ``ivif-bench run``
evaluates through exactly this path (``Trainer.test``), so the metric code that
syncs under DDP and runs on a GPU is the code the leaderboard comes from. A
colour pair is fused the field's way by :meth:`FusionModule.fuse_color` (the
method fuses the visible Y, :mod:`datamodules.color`).
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Sequence

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from datamodules.color import ColorFusion, fuse_color, merge_luminance
from datamodules.io import quantize_8bit

__all__ = ["FusionModule", "check_pair", "fuse_padded"]


def _gather_lists(items: list[str]) -> list[str]:
    """``items`` of every process, in rank order (this process's alone outside DDP)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return list(items)
    gathered: list[list[str] | None] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(gathered, list(items))
    return [item for part in gathered for item in (part or [])]


def check_pair(ir: torch.Tensor, vis: torch.Tensor) -> None:
    """Raise ``ValueError`` unless ``ir`` and ``vis`` are N x 1 x H x W tensors of one shape."""
    for name, image in (("ir", ir), ("vis", vis)):
        if not isinstance(image, torch.Tensor) or image.ndim != 4 or image.shape[1] != 1:
            shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
            raise ValueError(f"{name} must be a float tensor N x 1 x H x W, got {shape}")
    if ir.shape != vis.shape:
        raise ValueError(f"ir and vis differ in shape: {tuple(ir.shape)} vs {tuple(vis.shape)}")


def fuse_padded(
    fuse_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    ir: torch.Tensor,
    vis: torch.Tensor,
    multiple: int,
    mode: str = "constant",
) -> torch.Tensor:
    """Pad IR and VIS at the bottom / right to a multiple of ``multiple``, fuse, crop back.

    Args:
        fuse_fn: the network's fusion on padded inputs, N x 1 x H' x W' each.
        ir, vis: N x 1 x H x W.
        multiple: e.g. 32 for a network with five 2x poolings.
        mode: ``F.pad`` mode: ``"constant"`` (zeros) or ``"reflect"``.

    Returns:
        N x 1 x H x W.
    """
    height, width = ir.shape[-2:]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if pad_h or pad_w:
        ir = F.pad(ir, (0, pad_w, 0, pad_h), mode=mode)
        vis = F.pad(vis, (0, pad_w, 0, pad_h), mode=mode)
    return fuse_fn(ir, vis)[..., :height, :width]


class FusionModule(L.LightningModule):
    """Base class of every fusion method.

    Subclasses implement :meth:`fuse` (and, if trainable, ``training_step`` and
    ``configure_optimizers``) and call ``self.save_hyperparameters()`` in their
    ``__init__`` so that a checkpoint alone rebuilds the model.

    Batches are dicts with ``"ir"`` and ``"vis"`` (N x 1 x H x W float in [0, 1])
    and ``"pair_id"`` (list of N strings); test / predict batches also carry
    ``"dataset"`` (list of N dataset names).

    Attributes:
        needs_training: ``False`` for reference rules that have no weights.
        test_metric_names, test_convention, test_metric_device: what ``test_step``
            evaluates, set by :meth:`configure_test` (default: every metric of the
            default convention, on the model's device).
    """

    needs_training: bool = True
    test_metric_names: Sequence[str] | None = None
    test_convention: str = "default"
    test_metric_device: torch.device | None = None

    def fuse(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        """Fuse a batch.

        Args:
            ir: infrared, N x 1 x H x W float in [0, 1].
            vis: visible, N x 1 x H x W float in [0, 1] (gray).

        Returns:
            fused, N x 1 x H x W float in [0, 1].
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement fuse()")

    def forward(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.fuse(ir, vis)

    def fuse_color(self, ir: torch.Tensor, vis_rgb: torch.Tensor) -> ColorFusion:
        """Fuse an infrared image with a colour visible image (SeAFusion / CDDFuse / DenseFuse Sec. IV-D).

        Visible RGB -> YCbCr (Pillow's BT.601 full range), :meth:`fuse` of the
        infrared image with Y, the fused Y (8-bit) put back with the visible Cb
        and Cr -> RGB (:func:`datamodules.color.fuse_color`).

        Args:
            ir: N x 1 x H x W float in [0, 1].
            vis_rgb: N x 3 x H x W float in [0, 1] on the 8-bit grid, or uint8.

        Returns:
            :class:`datamodules.color.ColorFusion`: ``rgb`` N x 3 x H x W and the
            fused ``y`` N x 1 x H x W (both float32, k / 255), ``vis_y`` fused.
        """
        return fuse_color(self.fuse, ir, vis_rgb)

    # ----------------------------------------------------------------- test
    def configure_test(self, metrics: Sequence[str] | str | None = None, convention: str = "default",
                       metric_device: str | torch.device | None = None) -> None:
        """Choose what :meth:`test_step` evaluates (the runner calls this before ``Trainer.test``).

        Args:
            metrics: metric names (``None``: every metric of ``convention``).
            convention: the metric convention (``default``, ``vifb``, ``cddfuse``, ``tang``...).
            metric_device: where the metric collections live and compute (``"cpu"``: float64
                on the 8-bit levels, bitwise ``ivif-bench evaluate``'s values); ``None``: the model's device.
        """
        self.test_metric_names = None if metrics is None else list(metrics) if not isinstance(metrics, str) else metrics
        self.test_convention = convention
        self.test_metric_device = None if metric_device is None else torch.device(metric_device)

    def _test_dataset_names(self) -> list[str | None]:
        datamodule = getattr(self.trainer, "datamodule", None)
        names = list(getattr(datamodule, "test_datasets", None) or [])
        loaders = self.trainer.test_dataloaders
        count = len(loaders) if isinstance(loaders, (list, tuple)) else 1
        return names if len(names) == count else [None] * count  # else: from the batches' "dataset"

    def on_test_start(self) -> None:
        from metrics import create_collection

        convention = getattr(self, "test_convention", "default")
        device = getattr(self, "test_metric_device", None) or self.device
        self._test_names = self._test_dataset_names()
        self.test_collections = nn.ModuleList(
            [create_collection(self.test_metric_names, convention) for _ in self._test_names]).to(device)
        self._test_pair_ids: list[list[str]] = [[] for _ in self._test_names]
        #: after ``Trainer.test``: ``{dataset: {"pair_ids": [...], "values": {metric: [float, ...]}}}``, per image
        self.test_results: dict[str, dict[str, Any]] = {}

    def test_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        """Fuse a test batch, round it to 8 bits (what its PNG holds) and feed the test set's metric collection.

        Returns:
            the fused batch, N x 1 x H x W on the 8-bit grid (k / 255), e.g. for a callback writing PNGs.
        """
        check_pair(batch["ir"], batch["vis"])
        pair_ids = [str(p) for p in batch.get("pair_id", [f"{batch_idx}.{i}" for i in range(len(batch["ir"]))])]
        if self._test_names[dataloader_idx] is None:
            self._test_names[dataloader_idx] = str((batch.get("dataset") or [dataloader_idx])[0])
        where = f"pair(s) {', '.join(pair_ids)} of {self._test_names[dataloader_idx]!r}"
        fused = self.fuse(batch["ir"], batch["vis"])
        if not isinstance(fused, torch.Tensor) or fused.shape != batch["ir"].shape:
            shape = tuple(fused.shape) if isinstance(fused, torch.Tensor) else type(fused).__name__
            raise ValueError(f"{type(self).__name__}.fuse returned {shape} for {where}; "
                             f"expected {tuple(batch['ir'].shape)}")
        if torch.isnan(fused).any():
            raise ValueError(f"{type(self).__name__}.fuse returned NaN for {where}")
        fused = quantize_8bit(fused)
        collection = self.test_collections[dataloader_idx]
        device = next(iter(collection.values())).device
        with warnings.catch_warnings(record=True) as caught:  # a metric's warning (NaN, undefined) names the pairs
            warnings.simplefilter("always")
            collection.update(*(x.to(device) for x in (fused, batch["ir"], batch["vis"])))
        for warning in caught:
            warnings.warn(f"{where}: {warning.message}", warning.category, stacklevel=2)
        self._test_pair_ids[dataloader_idx].extend(pair_ids)
        return fused

    def on_test_epoch_end(self) -> None:
        """Per test set: every image's values (gathered from every process), the means logged, the states reset.

        Under DDP each metric's ``cat`` state and the pair ids are gathered in
        rank order, so values and ids line up; a pair the distributed sampler
        repeated (to give every rank as many) is kept once.
        """
        for index, (name, collection) in enumerate(zip(self._test_names, self.test_collections)):
            name = name if name is not None else str(index)
            pair_ids = _gather_lists(self._test_pair_ids[index])
            values = {}
            for metric_name, metric in collection.items():
                with metric.sync_context():
                    values[metric_name] = metric.per_image().detach().to("cpu", torch.float64).tolist()
            keep = list({pair_id: position for position, pair_id in reversed(list(enumerate(pair_ids)))}.values())
            keep.sort()
            result = {"pair_ids": [pair_ids[i] for i in keep],
                      "values": {metric: [column[i] for i in keep] for metric, column in values.items()}}
            self.test_results[name] = result
            means = {metric: torch.tensor(column, dtype=torch.float64).mean() for metric, column in result["values"].items()}
            self.log_dict({f"test/{name}/{metric}": value.float() for metric, value in means.items()},
                          add_dataloader_idx=False, sync_dist=False, rank_zero_only=True)
            collection.reset()
            self._test_pair_ids[index] = []

    # -------------------------------------------------------------- predict
    def predict_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> dict[str, Any]:
        """Fuse a batch; returns ``{"fused": N x 1 x H x W in [0, 1], "pair_id": [...], "dataset": [...]}``.

        A batch with ``"vis_rgb"`` (``FusionDataModule(color=True)``; its ``"vis"``
        is the visible Y) also returns ``"fused_rgb"``: the fused Y put back with
        the visible chroma, N x 3 x H x W float on the 8-bit grid
        (:func:`datamodules.color.merge_luminance`).
        """
        check_pair(batch["ir"], batch["vis"])
        fused = self.fuse(batch["ir"], batch["vis"]).clamp(0, 1)
        out = {"fused": fused, "pair_id": batch.get("pair_id"), "dataset": batch.get("dataset")}
        if "vis_rgb" in batch:
            out["fused_rgb"] = merge_luminance(fused, batch["vis_rgb"])
        return out
