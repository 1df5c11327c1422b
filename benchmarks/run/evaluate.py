"""Fusing and evaluating one unit's pairs through ``Trainer.test``: the torchmetrics classes feed the leaderboard.

`evaluate_unit` runs ``FusionModule.test_step`` on every pair (batch 1, full
size): the model fuses, the fused image is rounded to 8 bits, one
``MetricCollection`` per test set is updated, and :func:`fused_png_writer`
writes the 8-bit PNG of each pair as it goes. The per-image values come back
with their pair ids (``FusionModule.test_results``). On CPU the metrics compute
in float64 from the 8-bit levels, so the values are bitwise those
``ivif-bench evaluate`` computes from the written PNGs.
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

__all__ = ["accelerator_of", "evaluate_unit", "fused_png_writer"]


def fused_png_writer(out_dir: Path):
    """A Lightning callback (built on first use: Lightning loads late) writing ``out_dir/<pair_id>.png`` (8-bit, atomically) for every fused test image."""
    from lightning.pytorch.callbacks import Callback

    class _Writer(Callback):
        def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
            for index, pair_id in enumerate(batch["pair_id"]):
                save_png(Path(out_dir) / f"{pair_id}.png", outputs[index, 0])

    return _Writer()


def accelerator_of(device: torch.device) -> tuple[str, object]:
    """``(accelerator, devices)`` of a ``Trainer`` running on ``device`` alone."""
    if device.type == "cuda":
        return "gpu", [device.index or 0]
    return device.type, 1


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
              device: torch.device, metric_device: str | torch.device, progress: bool = False) -> pd.DataFrame:
    """Fuse every pair to ``out_dir/<pair_id>.png`` and evaluate it with the metric classes, in one ``Trainer.test``.

    Args:
        model: a ``FusionModule`` (eval mode is set by the Trainer).
        pairs: the unit's :class:`datamodules.Pair` s, in the order of the rows returned.
        dataset: the test set's label (the ``dataset`` column).
        metrics, convention: what is evaluated.
        device: where the model fuses; ``metric_device`` where the metrics compute
            (``cpu``: float64, bitwise ``ivif-bench evaluate``).

    Returns:
        Rows ``dataset, image, metric, value, convention``, image-major in ``pairs`` order.
    """
    import lightning as L
    from lightning.pytorch.callbacks import RichProgressBar
    from torch.utils.data import DataLoader

    from datamodules.datamodule import FusionDataset, decode_pairs

    loader = DataLoader(FusionDataset(decode_pairs(pairs), mode="full"), batch_size=1, shuffle=False)
    accelerator, devices = accelerator_of(device)
    callbacks = [fused_png_writer(out_dir)] + ([RichProgressBar()] if progress else [])
    model.configure_test(metrics, convention, metric_device)
    with _quiet_trainer():
        trainer = L.Trainer(accelerator=accelerator, devices=devices, logger=False, callbacks=callbacks,
                            enable_checkpointing=False, enable_model_summary=False, enable_progress_bar=progress,
                            default_root_dir=str(out_dir))
        trainer.test(model, dataloaders=loader, verbose=False)
    (result,) = model.test_results.values()
    position = {pair_id: i for i, pair_id in enumerate(result["pair_ids"])}
    missing = [p.pair_id for p in pairs if p.pair_id not in position]
    if missing:
        raise RuntimeError(f"Trainer.test returned no values for pair(s) {', '.join(missing)} of {dataset!r}")
    rows = [(dataset, p.pair_id, metric, result["values"][metric][position[p.pair_id]], convention)
            for p in pairs for metric in metrics]
    return pd.DataFrame(rows, columns=["dataset", "image", "metric", "value", "convention"])
