"""The contract every fusion method follows.

A method is a :class:`FusionModule` (a ``LightningModule``) that implements
:meth:`FusionModule.fuse`: IR and VIS in, one fused image out, all float tensors
N x 1 x H x W in [0, 1], for any H and W the data has (a network that needs a
multiple of some size pads and crops back itself, see :func:`fuse_padded`).

The base class gives every method the same ``test_step`` / ``predict_step``:
fuse, round to 8 bits (every metric is computed from the 8-bit values a PNG
holds) and feed one metric collection per test set. A colour pair is fused the
field's way by :meth:`FusionModule.fuse_color` (the method fuses the visible Y,
:mod:`datamodules.color`).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from datamodules.color import ColorFusion, fuse_color, merge_luminance
from datamodules.io import quantize_8bit

__all__ = ["FusionModule", "check_pair", "fuse_padded"]


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
        test_metric_names: metrics computed by ``test_step``; ``None`` means
            every metric of the default convention.
    """

    needs_training: bool = True
    test_metric_names: Sequence[str] | None = None

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
    def _test_dataset_names(self) -> list[str]:
        datamodule = getattr(self.trainer, "datamodule", None)
        names = list(getattr(datamodule, "test_datasets", None) or [])
        loaders = self.trainer.test_dataloaders
        count = len(loaders) if isinstance(loaders, (list, tuple)) else 1
        return names if len(names) == count else [str(i) for i in range(count)]

    def on_test_start(self) -> None:
        from metrics import create_collection

        self._test_names = self._test_dataset_names()
        self.test_collections = nn.ModuleList(
            [create_collection(self.test_metric_names) for _ in self._test_names]
        ).to(self.device)

    def test_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        check_pair(batch["ir"], batch["vis"])
        fused = quantize_8bit(self.fuse(batch["ir"], batch["vis"]))
        self.test_collections[dataloader_idx].update(fused, batch["ir"], batch["vis"])
        return fused

    def on_test_epoch_end(self) -> None:
        for name, collection in zip(self._test_names, self.test_collections):
            values = collection.compute()
            self.log_dict(
                {f"test/{name}/{metric}": value.float() for metric, value in values.items()},
                add_dataloader_idx=False,
            )
            collection.reset()

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
