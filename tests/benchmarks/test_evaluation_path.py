"""The runner evaluates through the metric classes (FusionModule.test_step under Trainer.test): bitwise the values
`ivif-bench evaluate` computes from the written PNGs, and the same per-image values under DDP as in one process."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import pytest
from lightning.pytorch.callbacks import Callback

from benchmarks.cli import main as cli
from datamodules import FusionDataModule, load_pairs
from lightning_modules import create_method
from metrics.evaluate import evaluate_folder

METRICS = ["EN", "MI", "SD", "SF", "VIF", "AG", "Qabf", "SSIM", "CC", "PSNR"]


def test_run_values_are_bitwise_what_evaluate_gives_on_the_written_pngs(tmp_path, data_root):
    out = tmp_path / "run"
    assert cli(["run", "--methods", "didfuse", "--datasets", "sample_tno,sample_nir", "--limit-pairs", "1",
                "--metrics", ",".join(METRICS), "--max-steps", "1", "--data-root", str(data_root), "--out", str(out),
                "--profile", "smoke", "--wandb", "disabled", "--no-plots", "--no-progress"]) == 0
    results = pd.read_csv(out / "results.csv", dtype={"image": str})
    assert set(results.method) == {"average", "max", "didfuse"}
    for (method, dataset), rows in results.groupby(["method", "dataset"]):
        fused_dir = out / "fused" / method / dataset
        ids = list(dict.fromkeys(rows.image))
        expected = evaluate_folder(fused_dir, dataset, ids=ids, metrics=METRICS, progress=False)
        merged = rows.merge(expected, on=["image", "metric"], suffixes=("", "_evaluate"))
        assert len(merged) == len(rows) == len(ids) * len(METRICS)
        ours, theirs = merged.value.to_numpy(), merged.value_evaluate.to_numpy()
        assert np.array_equal(ours, theirs, equal_nan=True), merged[ours != theirs]  # bit for bit, not approx


class _KeepResults(Callback):
    """Rank 0 writes the module's per-image test results (spawned ranks do not hand attributes back)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def on_test_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            Path(self.path).write_text(json.dumps(pl_module.test_results))


def _test(strategy: str, devices: int, data_root, path: Path) -> list[dict]:
    data = FusionDataModule(train_dataset=None, test_datasets=["sample_tno", "sample_nir"], data_root=str(data_root))
    model = create_method("max")
    model.configure_test(["EN", "SD", "SF"], metric_device="cpu")
    trainer = L.Trainer(accelerator="cpu", devices=devices, strategy=strategy, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[_KeepResults(str(path))])
    return trainer.test(model, datamodule=data, verbose=False)


@pytest.mark.timeout(600)
def test_test_step_under_ddp_gives_every_image_once_with_its_pair_id(tmp_path, data_root):
    """3 + 2 pairs on 2 processes: the sampler repeats a pair of sample_tno; every image's value comes back once."""
    one = _test("auto", 1, data_root, tmp_path / "one.json")
    two = _test("ddp_spawn", 2, data_root, tmp_path / "two.json")
    single, spread = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("one", "two"))
    assert set(single) == set(spread) == {"sample_tno", "sample_nir"}
    for dataset, result in single.items():
        assert sorted(result["pair_ids"]) == sorted(p.pair_id for p in load_pairs(dataset))
        assert sorted(spread[dataset]["pair_ids"]) == sorted(result["pair_ids"])  # no repeat, none missing
        for metric, values in result["values"].items():
            by_id = dict(zip(spread[dataset]["pair_ids"], spread[dataset]["values"][metric]))
            # the same images and float64 maths; the last digits of a sum depend on the thread count, and Lightning
            # gives each of the 2 spawned ranks its own
            assert [by_id[p] for p in result["pair_ids"]] == pytest.approx(values, rel=1e-12)
            for means in (one, two):
                logged = {k: v for part in means for k, v in part.items()}
                assert logged[f"test/{dataset}/{metric}"] == pytest.approx(float(np.mean(values)), rel=1e-6)
