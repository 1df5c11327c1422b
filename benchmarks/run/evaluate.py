"""Fusing and evaluating one unit's pairs through ``Trainer.test``: the torchmetrics classes feed the leaderboard.

`evaluate_unit` runs ``FusionModule.test_step`` on every pair (batch 1, full
size): the model fuses, the fused image is rounded to 8 bits, one
``MetricCollection`` per test set is updated, and :func:`fused_png_writer`
writes the 8-bit PNG of each pair as it goes. The per-image values come back
with their pair ids (``FusionModule.test_results``). On CPU the metrics compute
in float64 from the 8-bit levels, so the values are bitwise those
``ivif-bench evaluate`` computes from the written PNGs.

Devices (:func:`metric_device_of`): the model fuses on the run's device, and with
``metric_device="auto"`` the metric collections live there too, so on a GPU a fused
image stays on it from ``fuse`` through the 8-bit rounding (float32) to the metric
update; its one copy to the host is the PNG writer's. There the metrics compute in
float32, within the documented tolerance (:data:`metrics.engine.FLOAT32_TOLERANCE`) of the
CPU float64 values (``metric_device="cpu"``, the default: exact); a metric without one (Qcb)
computes in float64 there too.

Colour pairs (``color=True`` and a visible image in colour: VIFB, RoadScene, a
folder of colour visible images) are fused in colour by ``test_step``: the
method fuses the visible Y, the fused Y goes back with the visible Cb and Cr
(:data:`datamodules.color.COLOR_FUSION`) and an RGB PNG is written; each row
says which colour rule its metric applied (:func:`color_rules`), and the share
of each image's pixels whose RGB clipped comes back in ``rows.attrs["clipped"]``.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from pathlib import Path
from typing import Iterator, Sequence

import pandas as pd
import torch

from datamodules.io import save_png

__all__ = ["COLOR_MODES", "accelerator_of", "color_rules", "colour_line", "colour_record", "count_colour_pairs",
           "evaluate_unit", "full_float32", "fused_png_writer", "metric_device_of", "metric_dtype_of"]

#: ``--color``: ``auto`` fuses colour pairs in colour, ``gray`` fuses every pair gray (the visible luminance)
COLOR_MODES = ("auto", "gray")

def fused_png_writer(out_dir: Path):
    """A Lightning callback (built on first use: Lightning loads late) writing ``out_dir/<pair_id>.png`` (8-bit,
    atomically) for every fused test image: gray (1 x H x W) or, for a colour pair, RGB (3 x H x W)."""
    from lightning.pytorch.callbacks import Callback

    class _Writer(Callback):
        def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
            for index, pair_id in enumerate(batch["pair_id"]):
                save_png(Path(out_dir) / f"{pair_id}.png", outputs[index])

    return _Writer()


def count_colour_pairs(pairs: Sequence, source: str) -> int:
    """How many of ``pairs`` have a colour visible image: all or none for a registered dataset (its
    ``vis_color``), each visible file looked at (channels that differ) for a folder."""
    from datamodules.color import is_color
    from datamodules.datasets import get_dataset
    from datamodules.io import read_image

    try:
        return len(pairs) if get_dataset(source).vis_color else 0
    except KeyError:  # a folder of the user's
        return sum(is_color(read_image(p.vis_path, mode="native")) for p in pairs)


def colour_line(colour: dict[str, int], pairs: dict[str, Sequence], mode: str, metrics: Sequence[str] = (),
                convention: str = "default") -> str | None:
    """The one line of output saying which test sets are fused in colour, how, and which colour rules the
    metrics apply (``None``: every set is gray)."""
    from datamodules.color import COLOR_FUSION

    if mode == "gray":
        return "colour: --color gray: every pair fused gray (the visible luminance, PIL 'L'), gray PNGs"
    sets = [f"{name} ({count} of {len(pairs[name])} pairs)" if count < len(pairs[name]) else name
            for name, count in colour.items() if count]
    if not sets:
        return None
    rules = ", ".join(dict.fromkeys(color_rules(metrics, convention, True).values()))
    return (f"colour: {', '.join(sets)} fused in colour, RGB PNGs: {COLOR_FUSION}; metrics under their colour "
            f"rule ({convention}: {rules or '-'}); --color gray to fuse gray")


def colour_record(colour_pairs: int, metrics: Sequence[str], convention: str, clipped: dict[str, float]) -> dict:
    """What a done marker records about colour: how the unit was fused, the transform, each metric's rule."""
    from datamodules.color import COLOR_FUSION, TRANSFORM

    if not colour_pairs:
        return {"fusion": "gray", "color_rules": color_rules(metrics, convention, False)}
    return {"fusion": "rgb", "colour_pairs": colour_pairs, "transform": TRANSFORM, "description": COLOR_FUSION,
            "color_rules": color_rules(metrics, convention, True),
            "clipped": {pair_id: share for pair_id, share in clipped.items()},
            "clipped_mean": sum(clipped.values()) / len(clipped) if clipped else None}


def color_rules(metrics: Sequence[str], convention: str, colour: bool) -> dict[str, str]:
    """The colour rule each metric applies to a pair: ``gray`` (:data:`metrics.color.GRAY`) for a gray pair;
    for a colour pair (RGB fused image, RGB visible image) the metric's own (``MetricInfo.color_rule``)."""
    from metrics import get_metric_info
    from metrics.color import GRAY

    return {metric: get_metric_info(metric, convention).color_rule if colour else GRAY for metric in metrics}


def accelerator_of(device: torch.device) -> tuple[str, object]:
    """``(accelerator, devices)`` of a ``Trainer`` running on ``device`` alone."""
    if device.type == "cuda":
        return "gpu", [device.index or 0]
    return device.type, 1


def metric_device_of(requested: str | torch.device | None, fusion_device: torch.device) -> torch.device:
    """Where a unit's metrics compute: ``"cpu"`` (float64, exact), ``"auto"`` (the device the model fuses on:
    no copy between fusion and metrics; float32 on a GPU), or a device name (``"cuda"``, ``"cuda:1"``).

    Raises:
        RunError: not a device name, or a CUDA device this machine does not have.
    """
    from benchmarks.run.plan import RunError

    text = str(requested if requested is not None else "cpu").strip().lower()
    if text == "auto":
        return torch.device(fusion_device)
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise RunError(f"--metric-device {requested!r}: not a device; use cpu (float64, exact), auto (where the "
                       "model fuses) or a device name such as cuda") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (device.index or 0) >= count:
            raise RunError(f"--metric-device {requested}: this machine has {count} CUDA device(s); use cpu or auto")
        device = torch.device("cuda", device.index or 0)
    return device


def metric_dtype_of(device: torch.device) -> str:
    """The precision the metrics compute in on ``device``: ``"float64"`` on CPU, ``"float32"`` elsewhere."""
    from metrics.functional._checks import compute_dtype

    return str(compute_dtype(torch.device(device))).removeprefix("torch.")


@contextlib.contextmanager
def full_float32() -> Iterator[None]:
    """No TF32 (a 10-bit mantissa: torch allows it in cuDNN convolutions by default) in convolutions or matrix
    products while a unit fuses and evaluates: on a GPU both run in true float32. Nothing changes on CPU."""
    flags = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = flags


@contextlib.contextmanager
def _quiet_trainer() -> Iterator[None]:
    """No "GPU available: ..." lines and no single-process data-loader hints for each unit's short ``Trainer``."""
    logger = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated.*")
            yield
    finally:
        logger.setLevel(level)


def evaluate_unit(model, pairs: Sequence, out_dir: Path, *, dataset: str, metrics: Sequence[str], convention: str,
              device: torch.device, metric_device: str | torch.device, progress: bool = False,
              color: bool = False) -> pd.DataFrame:
    """Fuse every pair to ``out_dir/<pair_id>.png`` and evaluate it with the metric classes, in one ``Trainer.test``.

    Args:
        model: a ``FusionModule`` (eval mode is set by the Trainer).
        pairs: the unit's :class:`datamodules.Pair` s, in the order of the rows returned.
        dataset: the test set's label (the ``dataset`` column).
        metrics, convention: what is evaluated.
        device: where the model fuses; ``metric_device`` where the metrics compute
            (``cpu``: float64, bitwise ``ivif-bench evaluate``; ``auto``: where the model
            fuses, float32 on a GPU; see :func:`metric_device_of`).
        color: fuse the pairs whose visible image is colour in colour (RGB PNGs); ``False``: every pair
            gray, as the visible luminance (``--color gray``).

    Returns:
        Rows ``dataset, image, metric, value, convention, color_rule``, image-major in ``pairs`` order;
        ``rows.attrs["clipped"]``: ``{pair_id: share of its pixels whose RGB clipped}`` of the colour pairs.
    """
    import lightning as L
    from lightning.pytorch.callbacks import RichProgressBar
    from torch.utils.data import DataLoader

    from datamodules.datamodule import FusionDataset, decode_pairs

    samples = decode_pairs(pairs, color=color)
    loader = DataLoader(FusionDataset(samples, keys=("ir", "vis", "vis_rgb"), mode="full"), batch_size=1, shuffle=False)
    accelerator, devices = accelerator_of(device)
    callbacks = [fused_png_writer(out_dir)] + ([RichProgressBar()] if progress else [])
    model.configure_test(metrics, convention, metric_device_of(metric_device, device))
    with _quiet_trainer(), full_float32():
        trainer = L.Trainer(accelerator=accelerator, devices=devices, logger=False, callbacks=callbacks,
                            enable_checkpointing=False, enable_model_summary=False, enable_progress_bar=progress,
                            default_root_dir=str(out_dir))
        trainer.test(model, dataloaders=loader, verbose=False)
    (result,) = model.test_results.values()
    position = {pair_id: i for i, pair_id in enumerate(result["pair_ids"])}
    missing = [p.pair_id for p in pairs if p.pair_id not in position]
    if missing:
        raise RuntimeError(f"Trainer.test returned no values for pair(s) {', '.join(missing)} of {dataset!r}")
    colour = {s.pair_id: len(s.images) == 3 for s in samples}
    rules = {flag: color_rules(metrics, convention, flag) for flag in (False, True)}
    rows = [(dataset, p.pair_id, metric, result["values"][metric][position[p.pair_id]], convention,
             rules[colour[p.pair_id]][metric]) for p in pairs for metric in metrics]
    frame = pd.DataFrame(rows, columns=["dataset", "image", "metric", "value", "convention", "color_rule"])
    clipped = result.get("clipped") or [None] * len(result["pair_ids"])
    frame.attrs["clipped"] = {p.pair_id: clipped[position[p.pair_id]] for p in pairs if colour[p.pair_id]}
    return frame
