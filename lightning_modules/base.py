"""The contract every fusion method follows.

A method is a :class:`FusionModule` (a ``LightningModule``) that implements
:meth:`FusionModule.fuse`: IR and VIS in, one fused image out, all float tensors
N x 1 x H x W in [0, 1], for any H and W the data has (a network that needs a
multiple of some size pads and crops back itself, see :func:`fuse_padded`).

Images too large for memory are fused in tiles (:meth:`FusionModule.fuse_large`,
:func:`fuse_tiled`): each tile is fused with a margin of the network's receptive
field (the ``receptive_field`` attribute each method class states, with its
derivation), so the tiled result equals untiled fusion; a method whose output
depends on statistics of the whole image (``receptive_field = None``) is
refused with a message before anything is allocated.

The base class gives every method the same ``test_step`` / ``predict_step``:
fuse, round to 8 bits (every metric is computed from the 8-bit values a PNG
holds) and feed one ``MetricCollection`` per test set. ``ivif-bench run``
evaluates through exactly this path (``Trainer.test``), so the metric code that
syncs under DDP and runs on a GPU is the code the leaderboard comes from. A
colour pair is fused the field's way by :meth:`FusionModule.fuse_color` (the
method fuses the visible Y, :mod:`datamodules.color`), and ``test_step`` does
so for every batch that carries the visible RGB (``"vis_rgb"``).
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Callable, Sequence

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from datamodules.color import ColorFusion, fuse_color, merge_luminance, to_levels
from datamodules.io import quantize_8bit

__all__ = ["MAX_UNTILED_PIXELS", "TILE_SIZE", "FusionModule", "ImageTooLargeError", "check_pair", "fuse_padded",
           "fuse_tiled"]

#: images with more pixels than this are fused in tiles by :meth:`FusionModule.fuse_large` (2**20: about
#: 3 GB for DIDFuse at float32 on CPU; every image of the shipped datasets is smaller, at most 768 x 576)
MAX_UNTILED_PIXELS = 2**20
#: side of a tile's kept core, in pixels (rounded up to the method's ``tile_multiple``)
TILE_SIZE = 512


class ImageTooLargeError(ValueError):
    """An image too large to fuse whole that the method cannot fuse in tiles; the message says why and what to do."""


def _gather_lists(items: list) -> list:
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


def _floor_to(value: int, multiple: int) -> int:
    return value // multiple * multiple


def fuse_tiled(
    fuse_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    ir: torch.Tensor,
    vis: torch.Tensor,
    halo: int,
    tile: int = TILE_SIZE,
    multiple: int = 1,
) -> torch.Tensor:
    """Fuse in tiles, each with ``halo`` pixels of context, so that the result equals ``fuse_fn(ir, vis)``.

    The image is cut into ``tile x tile`` cores; each core is fused inside the
    window that extends it by ``halo`` pixels on every side (clipped at the
    image border, and widened to start on a multiple of ``multiple``, the
    pooling grid of a network that pads to such a multiple), and only the core
    is kept. When ``halo`` is at least the network's receptive-field radius
    (an output pixel depends on the inputs within ``halo`` of it, padding
    included) and the network has no statistics over the whole image, every
    kept pixel sees exactly the inputs it sees untiled: the result is the same
    function (in floating point, up to the summation order of a convolution
    library, which may depend on the tensor size).

    Args:
        fuse_fn: gray fusion, N x 1 x h x w each -> N x C x h x w.
        ir, vis: N x 1 x H x W.
        halo: context in pixels (>= the receptive-field radius).
        tile: side of a kept core (rounded up to a multiple of ``multiple``).
        multiple: alignment of every window's start (1, or e.g. 32 for five 2x poolings).

    Returns:
        N x C x H x W, on the inputs' device; peak memory that of one window.
    """
    check_pair(ir, vis)
    if halo < 0 or tile < 1 or multiple < 1:
        raise ValueError(f"fuse_tiled: halo >= 0, tile >= 1 and multiple >= 1 needed, got {halo}, {tile}, {multiple}")
    tile = -(-tile // multiple) * multiple
    height, width = ir.shape[-2:]
    out: torch.Tensor | None = None
    for top in range(0, height, tile):
        bottom = min(top + tile, height)
        y0, y1 = _floor_to(max(0, top - halo), multiple), min(height, bottom + halo)
        for left in range(0, width, tile):
            right = min(left + tile, width)
            x0, x1 = _floor_to(max(0, left - halo), multiple), min(width, right + halo)
            piece = fuse_fn(ir[..., y0:y1, x0:x1], vis[..., y0:y1, x0:x1])
            if out is None:
                out = piece.new_empty((*piece.shape[:-2], height, width))
            out[..., top:bottom, left:right] = piece[..., top - y0:bottom - y0, left - x0:right - x0]
    assert out is not None
    return out


@contextlib.contextmanager
def _one_cpu_thread(device: torch.device):
    """Metric updates on a CPU run on one intra-op thread (restored after): torch splits a reduction
    across threads, so its last bits would depend on the thread count; with one thread the runner's
    values are ``ivif-bench evaluate``'s (:class:`metrics.engine.JobRunner`) bit for bit on any machine."""
    if device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class FusionModule(L.LightningModule):
    """Base class of every fusion method.

    Subclasses implement :meth:`fuse` (and, if trainable, ``training_step`` and
    ``configure_optimizers``; :meth:`paired_batch` and :meth:`log_loss_terms` are the
    usual training step's two halves) and call ``self.save_hyperparameters()`` in their
    ``__init__`` so that a checkpoint alone rebuilds the model.

    Batches are dicts with ``"ir"`` and ``"vis"`` (N x 1 x H x W float in [0, 1])
    and ``"pair_id"`` (list of N strings); test / predict batches also carry
    ``"dataset"`` (list of N dataset names).

    Attributes:
        needs_training: ``False`` for reference rules that have no weights.
        test_metric_names, test_convention, test_metric_device: what ``test_step``
            evaluates, set by :meth:`configure_test` (default: every metric of the
            default convention, on the model's device).
        receptive_field: radius in pixels of the inputs an output pixel
            depends on (padding included), in eval mode; ``None`` (the
            default) when unknown or when the output depends on the whole
            image (per-image statistics): such a method is never tiled.
        tile_multiple: tile windows start on multiples of this (a network that
            pads its input to a multiple of 32 needs 32; 1 otherwise).
        max_untiled_pixels: :meth:`fuse_large` fuses images up to this many
            pixels whole and larger ones in tiles of :data:`TILE_SIZE`.
    """

    needs_training: bool = True
    test_metric_names: Sequence[str] | None = None
    test_convention: str = "default"
    test_metric_device: torch.device | None = None
    receptive_field: int | None = None
    tile_multiple: int = 1
    max_untiled_pixels: int = MAX_UNTILED_PIXELS

    def fuse(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        """Fuse a batch.

        Args:
            ir: infrared, N x 1 x H x W float in [0, 1].
            vis: visible, N x 1 x H x W float in [0, 1] (gray).

        Returns:
            fused, N x 1 x H x W float in [0, 1].
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement fuse()")

    def paired_batch(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(batch["ir"], batch["vis"])`` of a paired training batch, checked (:func:`check_pair`)."""
        if "ir" not in batch or "vis" not in batch:
            raise ValueError(f"{type(self).__name__} trains on paired batches with 'ir' and 'vis' (unpaired=False)")
        check_pair(batch["ir"], batch["vis"])
        return batch["ir"], batch["vis"]

    def log_loss_terms(self, terms: dict[str, torch.Tensor], batch_size: int) -> torch.Tensor:
        """Log each term of a ``compute_loss`` dict as ``train/<name>`` and its ``loss`` as ``train/loss`` (progress
        bar); returns ``terms["loss"]``, what ``training_step`` returns."""
        self.log_dict({f"train/{name}": value.detach() for name, value in terms.items() if name != "loss"},
                      batch_size=batch_size)
        self.log("train/loss", terms["loss"].detach(), prog_bar=True, batch_size=batch_size)
        return terms["loss"]

    def forward(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.fuse(ir, vis)

    def tiling_refusal(self) -> str | None:
        """Why this model cannot be fused in tiles now (``None`` when it can)."""
        if self.receptive_field is None:
            return (f"{type(self).__name__} has no receptive_field: its output may depend on the whole image "
                    "(e.g. per-image normalisation statistics), so tiles would not give the untiled result")
        if self.training:
            return ("the model is in training mode: BatchNorm normalises with the statistics of the whole input; "
                    "call .eval() first (Lightning does in test / predict)")
        return None

    def fuse_large(self, ir: torch.Tensor, vis: torch.Tensor, max_pixels: int | None = None,
                   tile: int = TILE_SIZE) -> torch.Tensor:
        """:meth:`fuse` with bounded memory: whole up to ``max_pixels``, in tiles beyond, with the same result.

        Tiles (:func:`fuse_tiled`) carry a margin of :attr:`receptive_field`
        pixels, so the result is that of untiled fusion. A method that cannot
        be tiled (:meth:`tiling_refusal`) is refused for an image above
        ``max_pixels`` before anything is allocated.

        Args:
            ir, vis: N x 1 x H x W float in [0, 1].
            max_pixels: largest H x W fused whole; default :attr:`max_untiled_pixels`.
            tile: side of a tile's core in pixels.

        Raises:
            ImageTooLargeError: too large, and the method cannot be tiled (the message says why).
        """
        check_pair(ir, vis)
        limit = self.max_untiled_pixels if max_pixels is None else int(max_pixels)
        height, width = ir.shape[-2:]
        if height * width <= limit:
            return self.fuse(ir, vis)
        refusal = self.tiling_refusal()
        if refusal is not None:
            raise ImageTooLargeError(
                f"{width} x {height} image ({height * width / 1e6:.2f} Mpx) is larger than the "
                f"{limit / 1e6:.2f} Mpx fused whole (max_pixels), and it cannot be fused in tiles: {refusal}; "
                "crop or downscale it, or raise max_pixels if the whole image fits in memory")
        return fuse_tiled(self.fuse, ir, vis, halo=int(self.receptive_field), tile=tile, multiple=self.tile_multiple)

    def fuse_color(self, ir: torch.Tensor, vis_rgb: torch.Tensor) -> ColorFusion:
        """Fuse an infrared image with a colour visible image (SeAFusion / CDDFuse / DenseFuse Sec. IV-D).

        Visible RGB -> YCbCr (BT.601 full range, Y = PIL "L"), :meth:`fuse` of the
        infrared image with Y (:meth:`fuse_large`: tiled when large), the fused
        Y (8-bit) put back with the visible Cb and Cr -> RGB by the exact inverse
        (:func:`datamodules.color.fuse_color`).

        Args:
            ir: N x 1 x H x W float in [0, 1].
            vis_rgb: N x 3 x H x W float in [0, 1] on the 8-bit grid, or uint8.

        Returns:
            :class:`datamodules.color.ColorFusion`: ``rgb`` N x 3 x H x W and the
            fused ``y`` N x 1 x H x W (both float32, k / 255), ``vis_y`` fused, ``clipped``.
        """
        return fuse_color(self.fuse_large, ir, vis_rgb)

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
        self._test_clipped: list[list[float | None]] = [[] for _ in self._test_names]
        #: after ``Trainer.test``: ``{dataset: {"pair_ids": [...], "values": {metric: [float, ...]}, "clipped":
        #: [share of the pixels whose RGB clipped, or None for a gray pair, ...]}}``, per image
        self.test_results: dict[str, dict[str, Any]] = {}

    def test_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        """Fuse a test batch, round it to 8 bits (what its PNG holds) and feed the test set's metric collection.

        A batch carrying the visible RGB (``"vis_rgb"``, N x 3 x H x W; its ``"vis"`` is the
        visible Y) is a colour pair: the method fuses ``"vis"``, the fused Y is put back with
        the visible Cb and Cr (:func:`datamodules.color.merge_luminance`) and the metrics get
        :meth:`color_metric_inputs`.

        Returns:
            the fused batch on the 8-bit grid (k / 255), N x 1 x H x W, or N x 3 x H x W (RGB) for a
            colour pair: what a callback writing PNGs writes.
        """
        check_pair(batch["ir"], batch["vis"])
        pair_ids = [str(p) for p in batch.get("pair_id", [f"{batch_idx}.{i}" for i in range(len(batch["ir"]))])]
        if self._test_names[dataloader_idx] is None:
            self._test_names[dataloader_idx] = str((batch.get("dataset") or [dataloader_idx])[0])
        where = f"pair(s) {', '.join(pair_ids)} of {self._test_names[dataloader_idx]!r}"
        fused = self.fuse_large(batch["ir"], batch["vis"])  # in tiles when too large to fuse whole
        if not isinstance(fused, torch.Tensor) or fused.shape != batch["ir"].shape:
            shape = tuple(fused.shape) if isinstance(fused, torch.Tensor) else type(fused).__name__
            raise ValueError(f"{type(self).__name__}.fuse returned {shape} for {where}; "
                             f"expected {tuple(batch['ir'].shape)}")
        if torch.isnan(fused).any():
            raise ValueError(f"{type(self).__name__}.fuse returned NaN for {where}")
        fused = quantize_8bit(fused)
        inputs = (fused, batch["ir"], batch["vis"])
        clipped: list[float | None] = [None] * len(pair_ids)
        if batch.get("vis_rgb") is not None:  # a colour pair
            color = self._merge_color(fused, batch, where)
            clipped = color.clipped.flatten(1).to(torch.float64).mean(dim=1).tolist()
            inputs = self.color_metric_inputs(color, batch)
            fused = color.rgb
        collection = self.test_collections[dataloader_idx]
        device = next(iter(collection.values())).device
        from metrics.degenerate import DegenerateInputWarning

        names = [f"pair {p} of {self._test_names[dataloader_idx]!r}" for p in pair_ids]
        with warnings.catch_warnings(record=True) as caught, _one_cpu_thread(device):
            warnings.simplefilter("always")  # a metric's warning (NaN, undefined) names the pairs
            collection.update(*(x.to(device) for x in inputs), image_ids=names)
        for warning in caught:  # a degenerate input names its pair and metric already: once per (pair, metric)
            named = issubclass(warning.category, DegenerateInputWarning)
            warnings.warn(warning.message if named else f"{where}: {warning.message}", warning.category, stacklevel=2)
        self._test_pair_ids[dataloader_idx].extend(pair_ids)
        self._test_clipped[dataloader_idx].extend(clipped)
        return fused

    # -------------------------------------------------------- colour pairs
    @staticmethod
    def _merge_color(fused: torch.Tensor, batch: dict[str, Any], where: str) -> ColorFusion:
        """The colour fused image of a test batch: ``fused`` (8-bit Y) with the visible chroma."""
        color = merge_luminance(fused, batch["vis_rgb"])
        if not torch.equal(to_levels(color.vis_y), to_levels(batch["vis"].to(color.vis_y.device))):
            raise ValueError(f"{where}: the batch's 'vis' is not the Y of its 'vis_rgb' "
                             "(datamodules.color.luminance); the method must fuse the visible luminance")
        return color

    def color_metric_inputs(self, color: ColorFusion, batch: dict[str, Any]) -> tuple[torch.Tensor, ...]:
        """What the metrics of a colour pair get: ``(fused, ir, vis)``.

        The colour fused image ``color.rgb`` (N x 3 x H x W), the infrared image the
        method fused (N x 1) and the visible RGB (N x 3), all k / 255: what
        ``ivif-bench evaluate`` reads from the written PNG and the source files, so each
        metric applies its convention's colour rule (``MetricInfo.color_rule``) to the same
        images.
        """
        return color.rgb, batch["ir"], batch["vis_rgb"]

    def on_test_epoch_end(self) -> None:
        """Per test set: every image's values (gathered from every process), the means logged, the states reset.

        Under DDP each metric's ``cat`` state and the pair ids are gathered in
        rank order, so values and ids line up; a pair the distributed sampler
        repeated (to give every rank as many) is kept once.
        """
        for index, (name, collection) in enumerate(zip(self._test_names, self.test_collections)):
            name = name if name is not None else str(index)
            pair_ids = _gather_lists(self._test_pair_ids[index])
            clipped = _gather_lists(self._test_clipped[index])
            values = {}
            for metric_name, metric in collection.items():
                with metric.sync_context():
                    values[metric_name] = metric.per_image().detach().to("cpu", torch.float64).tolist()
            keep = list({pair_id: position for position, pair_id in reversed(list(enumerate(pair_ids)))}.values())
            keep.sort()
            result = {"pair_ids": [pair_ids[i] for i in keep],
                      "values": {metric: [column[i] for i in keep] for metric, column in values.items()},
                      "clipped": [clipped[i] for i in keep]}  # colour pairs: share of pixels whose RGB clipped
            self.test_results[name] = result
            means = {metric: torch.tensor(column, dtype=torch.float64).mean() for metric, column in result["values"].items()}
            self.log_dict({f"test/{name}/{metric}": value.float() for metric, value in means.items()},
                          add_dataloader_idx=False, sync_dist=False, rank_zero_only=True)
            collection.reset()
            self._test_pair_ids[index] = []
            self._test_clipped[index] = []

    # -------------------------------------------------------------- predict
    def predict_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> dict[str, Any]:
        """Fuse a batch (:meth:`fuse_large`); returns ``{"fused": N x 1 x H x W in [0, 1], "pair_id": [...],
        "dataset": [...]}``.

        A batch with ``"vis_rgb"`` (``FusionDataModule(color=True)``; its ``"vis"``
        is the visible Y) also returns ``"fused_rgb"``: the fused Y put back with
        the visible chroma, N x 3 x H x W float on the 8-bit grid
        (:func:`datamodules.color.merge_luminance`).
        """
        check_pair(batch["ir"], batch["vis"])
        fused = self.fuse_large(batch["ir"], batch["vis"]).clamp(0, 1)
        out = {"fused": fused, "pair_id": batch.get("pair_id"), "dataset": batch.get("dataset")}
        if "vis_rgb" in batch:
            out["fused_rgb"] = merge_luminance(fused, batch["vis_rgb"]).rgb
        return out
